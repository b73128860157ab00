//! Instruction fetches at CPL 0, the real MMU against the software MMU:
//! the execute permission (XD with EFER.NXE). The probe calls the fetch
//! stub (`data::FETCH_OFFSET`) of the sampled address's page; the value it
//! returns proves the physical page, a #PF must carry the walker's CR2 and
//! error code (I/D included).
//!
//! No U comparison: the kernel runs from the identity map, which the
//! library counts as user pages (U = 1), so SMEP and SMAP cannot be turned
//! on, and no ring-3 code runs.

use super::setup::Main;
use super::Tally;
use crate::space::{self, PhysMem};
use crate::touch::same_fault;
use crate::{data, probe};
use alloc::format;
use alloc::string::String;
use pgtable::PhysAddr;
use pgtable_mmu::x86_64::X86Mmu;
use pgtable_mmu::{Access, FaultKind, Mode, PhysBus};

/// Compare a fetch of the stub of `va`'s page under `root` (in CR3), if
/// safe: the target is canonical and its fetch and load walks fault or
/// reach a page with a stub.
pub fn check(mmu: &X86Mmu, bus: &impl PhysBus, root: PhysAddr, va: u64, t: &mut Tally) {
    let target = (va & !0xfff) | data::FETCH_OFFSET;
    let safe = [Access::Execute, Access::Read].into_iter().all(|a| {
        match mmu.translate(&PhysMem, root.0, target, a, Mode::Supervisor) {
            Ok(tr) => data::has_stubs(tr.pa),
            Err(f) => f.kind != FaultKind::NonCanonical,
        }
    });
    if !safe {
        return;
    }
    let soft = mmu.translate(bus, root.0, target, Access::Execute, Mode::Supervisor);
    // SAFETY: `target` is canonical and every walk of it faults or reaches
    // a fetch stub, which sets rax and returns.
    let real = unsafe { probe::fetch(target) };
    t.fetches += 1;
    let agree = match (&real, &soft) {
        (Ok(v), Ok(tr)) => {
            t.fetched += 1;
            *v == data::fetch_value(tr.pa)
        }
        (Err(r), Err(s)) => same_fault(r, s, target),
        _ => false,
    };
    if !agree {
        t.differ(format!(
            "root {:#x} fetch {target:#x}: real {real:x?}, soft {:x?}",
            root.0,
            soft.map(|tr| tr.pa)
        ));
    }
}

/// [`PhysMem`] with `bits` flipped in the quadword at `entry_pa`.
struct Flipped {
    entry_pa: u64,
    bits: u64,
}

impl PhysBus for Flipped {
    fn read_u64(&self, pa: u64) -> u64 {
        let v = PhysMem.read_u64(pa);
        if pa == self.entry_pa {
            v ^ self.bits
        } else {
            v
        }
    }
    fn write_u64(&self, _: u64, _: u64) {}
}

/// The fetch comparison catches a changed XD bit: against a copy of the
/// tables whose leaf for an executable stub page (the tagged block through
/// the identity map) has XD set, the same fetch must differ once; against
/// the tables as they are, not.
pub fn negative(main: &Main) -> Result<String, String> {
    let m = &main.m;
    let root = m.home.root();
    let (pa, _) = data::tagged()
        .into_iter()
        .find(|&(s, _)| data::has_stubs(s))
        .ok_or("no stub range")?;
    let target = pa | data::FETCH_OFFSET;
    space::switch_to(root);
    let leaf = m
        .mmu
        .translate(&PhysMem, root.0, target, Access::Execute, Mode::Supervisor)
        .map_err(|f| format!("{target:#x} not executable: {f:?}"))?;
    let mut same = Tally::default();
    check(&m.mmu, &PhysMem, root, target, &mut same);
    let bus = Flipped {
        entry_pa: leaf.entry_pa,
        bits: 1 << 63,
    };
    let mut flipped = Tally::default();
    check(&m.mmu, &bus, root, target, &mut flipped);
    space::go_home();
    match (same.differences.len(), flipped.differences.first()) {
        (0, Some(d)) if flipped.differences.len() == 1 => Ok(format!(
            "XD set in a copy of the leaf of {target:#x}: 0 differences as is, 1 flipped ({d})"
        )),
        (n, _) => Err(format!(
            "{target:#x}: {n} differences as is, {} flipped (expected 0 and 1)",
            flipped.differences.len()
        )),
    }
}
