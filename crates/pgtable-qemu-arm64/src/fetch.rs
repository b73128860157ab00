//! Execute permission at EL1, the real MMU against the software MMU: `AT`
//! has no execute form, so the kernel branches (`blr`) to the fetch stub
//! of the page (`data::FETCH_OFFSET`), which returns its own physical
//! address, or takes the instruction abort (ESR_EL1.EC 0x21, IFSC,
//! FAR_EL1 = the target) and resumes like the data-abort probes.
//!
//! EL1 fetches are governed by PXN, PXNTable and "EL0-writable implies
//! PXN" (SCTLR_EL1.WXN is off): the walker's EL1 execute verdict. EL0
//! fetches (UXN) are not probed: they need code running at EL0.

use crate::compare::{fst, Tally};
use crate::machine::PhysMem;
use crate::{data, probe};
use alloc::format;
use alloc::string::String;
use pgtable_mmu::arm64::{desc, Arm64Mmu};
use pgtable_mmu::{Access, Leaf, Mode, PhysBus, Roots};

/// The walker's EL1 verdict for `access` at `va`, reading tables from `bus`.
fn walk(
    mmu: &Arm64Mmu,
    bus: &impl PhysBus,
    roots: &Roots,
    va: u64,
    access: Access,
) -> Result<Leaf, pgtable_mmu::Fault> {
    mmu.translate_opt(
        bus,
        Some(roots.user),
        roots.kernel,
        va,
        access,
        Mode::Supervisor,
    )
}

/// The fetch-stub address of the page of `va`, if a jump there is safe:
/// the walker's EL1 fetch and read of it each fault or reach a tagged
/// block (every page of which holds a stub).
pub fn target(mmu: &Arm64Mmu, roots: &Roots, va: u64) -> Option<u64> {
    let target = (va & !0xfff) | data::FETCH_OFFSET;
    let safe = [Access::Execute, Access::Read].into_iter().all(|a| {
        match walk(mmu, &PhysMem, roots, target, a) {
            Ok(l) => data::is_tagged(l.xlat.pa),
            Err(_) => true,
        }
    });
    safe.then_some(target)
}

/// One EL1 fetch of `target` (safe as in [`target`]): the real fetch
/// against the walker reading the tables from `bus`.
pub fn compare(mmu: &Arm64Mmu, bus: &impl PhysBus, roots: &Roots, target: u64, t: &mut Tally) {
    let sw = walk(mmu, bus, roots, target, Access::Execute);
    t.fetches += 1;
    t.probes += 1;
    // SAFETY: the callers jump only to fetch-stub addresses whose walks
    // all fault or reach a tagged block ([`target`]); a stub sets x0 and
    // returns.
    let hw = unsafe { probe::fetch(target) };
    match &hw {
        Ok(_) => t.fetched += 1,
        Err(f) => {
            t.faults += 1;
            t.ifscs[f.dfsc() as usize & 63] += 1;
        }
    }
    let err = match (&sw, &hw) {
        (Ok(l), Ok(v)) if *v == data::fetch_value(l.xlat.pa) => return,
        (Ok(l), Ok(v)) => format!(
            "stub returned {v:#x}, the stub of pa {:#x} expected",
            l.xlat.pa
        ),
        (Err(w), Err(f))
            if f.ec() == probe::EC_INSN_ABORT && f.dfsc() == fst(w) && f.far == target =>
        {
            return
        }
        (Err(w), Err(f)) => format!(
            "real abort ESR={:#x} FAR={:#x}, walker IFSC {:#04x} ({:?} level {}: {})",
            f.esr,
            f.far,
            fst(w),
            w.kind,
            w.level,
            w.detail
        ),
        (Ok(l), Err(f)) => format!(
            "real fetch aborted (ESR={:#x} FAR={:#x}), walker allows it (pa {:#x}, leaf {:#x})",
            f.esr, f.far, l.xlat.pa, l.entry
        ),
        (Err(w), Ok(v)) => format!(
            "real fetch returned {v:#x}, walker faults ({:?} level {}: {})",
            w.kind, w.level, w.detail
        ),
    };
    t.differ(format!(
        "EL1 fetch {target:#x} (TTBR0={:#x}): {err}",
        roots.user
    ));
}

/// The tables as in memory but for `bits` flipped in one entry.
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

/// The fetch comparison catches a changed PXN: over a copy of the tables
/// whose leaf of the kernel read-only-executable page (at `rox`) gained
/// PXN, and whose leaf of a kernel read-write page (at `rw`, PXN) lost
/// it, the real fetch and the walker must differ once each; over the
/// tables as they are, not at all.
pub fn negative(mmu: &Arm64Mmu, roots: &Roots, rox: u64, rw: u64) -> Result<String, String> {
    let mut out = String::new();
    for (va, exec, what) in [(rox, true, "PXN set"), (rw, false, "PXN cleared")] {
        let target = va | data::FETCH_OFFSET;
        let leaf = walk(mmu, &PhysMem, roots, target, Access::Read)
            .map_err(|f| format!("{va:#x} not mapped: {f:?}"))?;
        let pxn = leaf.entry & desc::PXN != 0;
        if !data::is_tagged(leaf.xlat.pa) || pxn == exec {
            return Err(format!(
                "{va:#x}: leaf {:#x} (pa {:#x}), want a tagged page with PXN {}",
                leaf.entry, leaf.xlat.pa, !exec as u8
            ));
        }
        let mut same = Tally::default();
        compare(mmu, &PhysMem, roots, target, &mut same);
        let mut flipped = Tally::default();
        let bus = Flipped {
            entry_pa: leaf.entry_pa,
            bits: desc::PXN,
        };
        compare(mmu, &bus, roots, target, &mut flipped);
        if same.differences != 0 || flipped.differences != 1 {
            return Err(format!(
                "{what} at {va:#x}: differences {} as is, {} flipped (expected 0 and 1): {}",
                same.differences,
                flipped.differences,
                same.first.or(flipped.first).unwrap_or_default()
            ));
        }
        out += &format!(
            "{what} at {va:#x}: 0 as is, 1 flipped ({}); ",
            flipped.first.unwrap_or_default()
        );
    }
    Ok(out.trim_end_matches("; ").into())
}

/// "EL0-writable implies PXN" (Arm ARM D8.4.2) on the real MMU: a user
/// read-write page (`va`, a tagged block; the library sets PXN there as
/// Linux does) has PXN cleared in the live tables for one fetch, which
/// must still abort with a level-3 permission fault, as the walker says;
/// the entry is restored afterwards.
pub fn el0_writable(mmu: &Arm64Mmu, roots: &Roots, va: u64) -> Result<String, String> {
    let target = va | data::FETCH_OFFSET;
    let leaf = walk(mmu, &PhysMem, roots, target, Access::Write)
        .map_err(|f| format!("{va:#x} not writable: {f:?}"))?;
    let user_rw = leaf.entry & desc::AP_EL0 != 0 && leaf.entry & desc::AP_RO == 0;
    if !data::is_tagged(leaf.xlat.pa) || !user_rw {
        return Err(format!(
            "{va:#x}: leaf {:#x} (pa {:#x}), want a tagged EL0-writable page",
            leaf.entry, leaf.xlat.pa
        ));
    }
    PhysMem.write_u64(leaf.entry_pa, leaf.entry & !desc::PXN);
    crate::cpu::flush_tlb_all();
    let mut t = Tally::default();
    compare(mmu, &PhysMem, roots, target, &mut t);
    PhysMem.write_u64(leaf.entry_pa, leaf.entry);
    crate::cpu::flush_tlb_all();
    if t.differences != 0 || t.fetched != 0 || t.ifscs[0b00_1111] != 1 {
        return Err(format!(
            "{va:#x} with PXN clear: fetched={} differences={} {}",
            t.fetched,
            t.differences,
            t.first.unwrap_or_default()
        ));
    }
    Ok(format!(
        "{va:#x} (leaf {:#x} with PXN cleared for the probe): abort IFSC 0x0f, as the walker says",
        leaf.entry
    ))
}
