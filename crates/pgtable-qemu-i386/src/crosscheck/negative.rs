//! The permission comparisons catch a changed bit: the real MMU against
//! the software MMU over a copy of the tables with one leaf entry's bit
//! flipped must differ, once per case; over the tables as they are, not.
//!
//! - PAE: XD set on the user-executable page, CPL-0 fetch, SMEP off;
//! - SMEP: U cleared on the user-executable page, CPL-0 fetch;
//! - SMAP: U cleared on a user read-write page, CPL-0 load with AC clear.
//!
//! (U is cleared on a user leaf rather than set on a kernel one: x86 ANDs
//! U over every level, and the kernel's upper entries have it clear.)

use super::USER_END;
use crate::bus::WalkBus;
use crate::compare::{self, Tally};
use crate::machine::{self, Machine};
use crate::report::CheckResult;
use crate::{cpu, data, probe};
use alloc::format;
use alloc::string::String;
use pgtable::AddressSpace;
use pgtable_mmu::{Access, Mode, PhysBus};

/// [`WalkBus`] with `bits` flipped in the entry at `entry_pa` (a 4- or
/// 8-byte entry); writes (A/D updates) are dropped.
struct Flipped {
    walk: WalkBus,
    entry_pa: u64,
    bits: u64,
}

impl PhysBus for Flipped {
    fn read_u64(&self, pa: u64) -> u64 {
        let v = self.walk.read_u64(pa);
        if pa == self.entry_pa & !7 {
            v ^ (self.bits << ((self.entry_pa & 4) * 8))
        } else {
            v
        }
    }
    fn write_u64(&self, _: u64, _: u64) {}
}

/// XD (PAE) and U.
const XD: u64 = 1 << 63;
const U: u64 = 1 << 2;

pub fn run(m: &Machine, before: &AddressSpace, smep: bool, smap: bool) -> CheckResult {
    let mut out = String::new();
    if machine::ARCH.pae {
        out += &fetch_case(m, Some(before), 0x51_0000, XD, false, "XD set, SMEP off")?;
    }
    if smep {
        out += &fetch_case(m, Some(before), 0x51_0000, U, true, "U cleared, SMEP on")?;
    }
    if smap {
        out += &load_case(m, before, 0x40_0000)?;
    }
    if out.is_empty() {
        return Err(String::from("no case: no NX, SMEP or SMAP"));
    }
    Ok(out)
}

fn entry_pa(root: u64, va: u64, access: Access, mode: Mode) -> Result<u64, String> {
    machine::software_mmu()
        .translate(&WalkBus::new(root), root, va, access, mode)
        .map(|l| l.entry_pa)
        .map_err(|f| format!("{va:#x} {access:?} faults: {f}"))
}

fn fetch_case(
    m: &Machine,
    space: Option<&AddressSpace>,
    va: u64,
    bits: u64,
    smep: bool,
    what: &str,
) -> Result<String, String> {
    m.enter(space)?;
    let root = m.root(space);
    let target = va | data::FETCH_OFFSET;
    let mode = if va < USER_END {
        Mode::User
    } else {
        Mode::Supervisor
    };
    let entry_pa = entry_pa(root, target, Access::Execute, mode)?;
    cpu::set_cr4(cpu::CR4_SMEP, smep);
    let mmu = machine::software_mmu();
    let mut same = Tally::default();
    compare::fetch(&mmu, &WalkBus::new(root), root, target, &mut same);
    let bus = Flipped {
        walk: WalkBus::new(root),
        entry_pa,
        bits,
    };
    let mut flipped = Tally::default();
    compare::fetch(&mmu, &bus, root, target, &mut flipped);
    cpu::set_cr4(cpu::CR4_SMEP, false);
    verdict(what, va, &same, &flipped)
}

/// SMAP: a CPL-0 load (AC clear) of a user page whose copy has U clear.
fn load_case(m: &Machine, space: &AddressSpace, va: u64) -> Result<String, String> {
    m.enter(Some(space))?;
    let root = m.root(Some(space));
    let entry_pa = entry_pa(root, va, Access::Read, Mode::User)?;
    cpu::set_cr4(cpu::CR4_SMAP, true);
    let mmu = machine::software_mmu();
    let hw = probe::read(va as u32);
    let bus = Flipped {
        walk: WalkBus::new(root),
        entry_pa,
        bits: U,
    };
    let mut t = [Tally::default(), Tally::default()];
    for (i, sw) in [
        mmu.translate(
            &WalkBus::new(root),
            root,
            va,
            Access::Read,
            Mode::Supervisor,
        ),
        mmu.translate(&bus, root, va, Access::Read, Mode::Supervisor),
    ]
    .into_iter()
    .enumerate()
    {
        let sw = sw.map(|l| l.xlat.pa);
        if let compare::WalkResult::Differ(e) = compare::judge(&sw, &hw, va) {
            t[i].differ(e);
        }
    }
    cpu::set_cr4(cpu::CR4_SMAP, false);
    let [same, flipped] = t;
    verdict("U cleared, SMAP on, load", va, &same, &flipped)
}

fn verdict(what: &str, va: u64, same: &Tally, flipped: &Tally) -> Result<String, String> {
    if same.differences != 0 || flipped.differences != 1 {
        return Err(format!(
            "{what} at {va:#x}: differences {} as is, {} flipped (expected 0 and 1); {}",
            same.differences,
            flipped.differences,
            same.first.clone().unwrap_or_default()
        ));
    }
    Ok(format!(
        "{what} at {va:#x}: 0 as is, 1 flipped ({}); ",
        flipped.first.clone().unwrap_or_default()
    ))
}
