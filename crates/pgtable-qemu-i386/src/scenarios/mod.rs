//! The simulator's x86-32 scenarios (`pgtable-sim`: `vmalloc-new-slot`,
//! `ioremap`, `percpu`; the others do not apply to 32-bit) on the real MMU,
//! once per kernel era the simulator models, each era writing the kernel
//! change as that Linux release did: old code (`legacy_edit`, a plain
//! populate nothing syncs) or new code (`edit`, which syncs the PMD entry
//! into every root), with that era's fault handler.
//!
//! Each run builds a fresh [`Machine`], creates processes A and B, makes
//! the kernel change, creates process C, and touches the new addresses
//! from init_mm, A, B and C with CR3 switched to each. Every touch is
//! walked by the software MMU first; the real outcome (fault or not, CR2,
//! error code, the tag of the data read) must equal it. A fault in the
//! vmalloc area goes to the era's handler, `vmalloc_fault()`
//! (`arch/x86/mm/fault.c`: `vmalloc_sync_one()` copies init_mm's PMD entry
//! into the faulting root; on x86-32 in every era modelled: removed in 5.8,
//! back in 5.9), here the library's `sync_on_fault()`; the touch is then
//! retried without a TLB flush (x86 caches no not-present entry) and must
//! succeed in both MMUs.
//!
//! Afterwards every root is compared again, real MMU against software MMU,
//! over the user half and the kernel from the vmalloc area up.
//!
//! The verdict (`ok`: no fault; `fixed`: faults, all fixed by the handler;
//! `oops`: a fault nothing fixes) must be the one the simulator expects
//! (`pgtable-sim/src/scenarios/expect.rs`, `VERDICTS.md`): under 2-level
//! and PAE with per-process kernel PMDs, `fixed` where the era populates
//! plainly (vmalloc and ioremap before 5.8, percpu before 6.17), faulting
//! in A and B only; under PAE with the shared kernel PMD, `ok` in every
//! era, old code included (nothing to sync: every root's PDPT entry 3
//! points at the one kernel PMD table).

mod change;

use crate::bus::WalkBus;
use crate::compare::{self, Tally, WalkResult};
use crate::crosscheck::{region, sample, Rng, USER_END};
use crate::data;
use crate::machine::{self, Machine};
use crate::probe;
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_mmu::{Access, Mode};
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 256;
/// HPET's registers on QEMU's pc machine (the simulator's ioremap target).
const HPET: u64 = 0xfed0_0000;
/// Units of the percpu first chunk: one per context (init_mm, A, B, C).
const UNITS: u64 = 4;
/// Pages per percpu unit.
const UNIT_PAGES: u64 = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    VmallocNewSlot,
    Ioremap,
    Percpu,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::VmallocNewSlot => "vmalloc-new-slot",
            Scenario::Ioremap => "ioremap",
            Scenario::Percpu => "percpu",
        }
    }

    /// Whether `era` writes this kernel user's populate as new code (tracked
    /// and synced) on x86-32 (the shared era table, the simulator's
    /// `Era::populate()`): 6.17+ everywhere; 5.8–6.16 for vmalloc and
    /// ioremap, whose `vmap_*_range_noflush()` call
    /// `arch_sync_kernel_mappings()` for `PGTBL_PMD_MODIFIED`; percpu
    /// (`pcpu_populate_pte()`) populates plainly until 6.17.
    fn new_code(self, era: Era) -> bool {
        era.code(era::user_of(self.name()), Family::X86_32) == Code::New
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Fixed,
    Oops,
}

impl Verdict {
    /// As the simulator's table spells it.
    fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Fixed => "fixed",
            Verdict::Oops => "oops",
        }
    }
}

/// What the simulator expects on this image's mode
/// (`pgtable-sim/src/scenarios/expect.rs`, `x86_32()` and the shared-PMD
/// case): nothing faults with the shared kernel PMD; otherwise old code
/// faults and `vmalloc_fault()` fixes it.
fn expected(s: Scenario, era: Era) -> Verdict {
    let shared = machine::ARCH.pae && machine::ARCH.shared_kernel_pmd;
    if shared || s.new_code(era) {
        Verdict::Ok
    } else {
        Verdict::Fixed
    }
}

pub fn run(c: &mut Checks) {
    for s in [
        Scenario::VmallocNewSlot,
        Scenario::Ioremap,
        Scenario::Percpu,
    ] {
        for era in Era::ALL
            .into_iter()
            .filter(|e| e.exists(s.name(), Family::X86_32))
        {
            let code = if s.new_code(era) { "new" } else { "old" };
            let r = scenario(s, era);
            machine::go_home();
            c.record(&format!("{}/{}/{code}", s.name(), era.name()), r);
        }
    }
}

/// One scenario run under `era`.
fn scenario(s: Scenario, era: Era) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.enter(None)?;
    let block = data::block()?;
    let mut a = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    let mut b = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    for p in [&mut a, &mut b] {
        m.pt.user(p)
            .and_then(|mut u| {
                u.map_range(
                    VirtAddr(0x40_0000),
                    PhysAddr(block),
                    PAGE_SIZE,
                    Prot::USER_RW,
                    PageSize::Base,
                )
            })
            .map_err(|e| format!("user map: {e:?}"))?;
    }
    let new = s.new_code(era);
    let (touches, report) = change::change(&m, s, new, block)?;
    machine::flush();
    let cs = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    let mmu = machine::software_mmu();
    let (vm_start, vm_last) = region(RegionKind::Vmalloc);
    let mut n = 0u64;
    let mut faults = 0u64;
    let mut fixed = 0u64;
    let mut oops = 0u64;
    let mut faulted: Vec<&str> = Vec::new();
    let mut codes: Vec<(u32, u32)> = Vec::new();
    let contexts = [
        ("init_mm", None),
        ("A", Some(&a)),
        ("B", Some(&b)),
        ("C", Some(&cs)),
    ];
    for ((name, space), addrs) in contexts.into_iter().zip(touches.iter()) {
        m.enter(space)?;
        let root = m.root(space);
        for &va in addrs {
            n += 1;
            let first = touch(&mmu, root, va);
            let f = match first {
                Touch::Same(None) => continue,
                Touch::Same(Some(f)) => f,
                Touch::Differ(d) => return Err(format!("{name}: {d}")),
            };
            faults += 1;
            if !faulted.contains(&name) {
                faulted.push(name);
            }
            if !codes.contains(&(f.cr2, f.error)) {
                codes.push((f.cr2, f.error));
            }
            // The era's fault handler: vmalloc_fault() for the vmalloc area.
            let handled = (vm_start..=vm_last).contains(&va)
                && m.pt.sync_on_fault(PhysAddr(root), VirtAddr(va));
            if !handled {
                oops += 1;
                continue;
            }
            match touch(&mmu, root, va) {
                Touch::Same(None) => fixed += 1,
                Touch::Same(Some(f)) => {
                    return Err(format!(
                    "{name}: {va:#x} faults again after vmalloc_fault() (cr2={:#x} error={:#x})",
                    f.cr2, f.error
                ))
                }
                Touch::Differ(d) => return Err(format!("{name} after vmalloc_fault(): {d}")),
            }
        }
    }
    // The differential after the scenario, on every root: the new range,
    // the vmalloc area up to 4 GiB, the user half, random addresses.
    let mut t = Tally::default();
    let mut rng = Rng::new(0xbb67_ae85_84ca_a73b ^ touches[0][0]);
    let dynamic = [(0, USER_END), (vm_start, 0)];
    for (_, space) in contexts {
        m.enter(space)?;
        let root = m.root(space);
        for va in sample(root, &mut rng, &touches[0], &dynamic, 50) {
            compare::address(&mmu, root, va, &mut t);
        }
    }
    if t.differences != 0 {
        return Err(format!(
            "after the scenario, real and software MMU differ at {} of {} addresses; first: {}",
            t.differences,
            t.addresses,
            t.first.unwrap_or_default()
        ));
    }
    machine::go_home();
    for p in [a, b, cs] {
        // This kernel reloads CR3 (a full non-global flush) on every switch.
        m.pt.destroy_space(p)
            .map_err(|_| "destroy_space refused")?
            .ignore();
    }
    let verdict = if oops > 0 {
        Verdict::Oops
    } else if faults > 0 {
        Verdict::Fixed
    } else {
        Verdict::Ok
    };
    let want = expected(s, era);
    let cr2: Vec<String> = codes.iter().map(|c| format!("{:#x}", c.0)).collect();
    let err: Vec<String> = codes.iter().map(|c| format!("{:#x}", c.1)).collect();
    let how = match &report {
        None => String::from("legacy populate, never synced"),
        Some(r) => format!("edit sync {:?}", r.outcome),
    };
    let detail = format!(
        "verdict={} expected={} faults={faults} predicted={faults} in {faulted:?} cr2={} err={} fixed={fixed} oops={oops} touches={n} agree=all; {how}; then roots=4 compared={} differences=0",
        verdict.name(),
        want.name(),
        if cr2.is_empty() { String::from("-") } else { cr2.join(",") },
        if err.is_empty() { String::from("-") } else { err.join(",") },
        t.addresses,
    );
    if verdict != want {
        return Err(format!("verdict differs from the simulator's: {detail}"));
    }
    if verdict == Verdict::Fixed && faulted != ["A", "B"] {
        return Err(format!(
            "faults expected in A and B only (made before): {detail}"
        ));
    }
    Ok(detail)
}

enum Touch {
    /// Both MMUs agree: no fault, or this fault.
    Same(Option<probe::Fault>),
    /// They disagree.
    Differ(String),
}

/// Walk `va` under `root` (loaded) in the software MMU, then read it for
/// real; they must agree on the fault (CR2, error code) or on the data (a
/// tagged block's tag; a device register is only read).
fn touch(mmu: &pgtable_mmu::x86_32::X86_32Mmu, root: u64, va: u64) -> Touch {
    let sw = mmu
        .translate(
            &WalkBus::new(root),
            root,
            va,
            Access::Read,
            Mode::Supervisor,
        )
        .map(|l| l.xlat.pa);
    let hw = probe::read(va as u32);
    match compare::judge(&sw, &hw, va) {
        WalkResult::Agree => Touch::Same(hw.err()),
        WalkResult::Differ(d) => Touch::Differ(format!("{va:#x}: {d}")),
    }
}
