//! The new-kernel-mapping scenarios on riscv's single root, as old code
//! (`legacy_edit`: plain populate, never synced) and new code (`edit`).
//! The simulator's scenarios (`SIM_SCENARIOS`) run under every kernel era
//! it models (`pgtable_qemu_common::era`; riscv arrived in 4.15, so not
//! before 9b861528a801; memory hotplug in 6.11), as
//! `<scenario>/<era>/<code>` with the `verdict=` `cargo xtask qemu`
//! compares with the simulator's table; `fixmap-new-slot`, not a simulator
//! scenario, as old and new code.
//!
//! Each scenario builds a fresh [`Machine`], creates processes A and B,
//! maps 2 × 2 MiB of tagged kernel memory, creates process C, and loads
//! and stores every new address from each process with satp switched to
//! it; the walker is asked first and the real outcome must equal it.
//!
//! - the simulator's scenarios: the vmalloc area, the direct map, the
//!   vmemmap and the KASAN shadow, whose top-level entries exist since boot
//!   (`preallocate_pgd_pages_range()`, the library's `boot_prealloc`):
//!   **no fault** anywhere, old code and new.
//! - `fixmap-new-slot`: the fixmap, a kernel top-level slot outside the
//!   preallocated areas. Old code: A and B, made before, lack the entry
//!   and **fault** (load page fault); C does not. New code: the library
//!   copies the entry into every root (`SyncOutcome::CopiedTopLevel`), so
//!   nobody faults.

use crate::compare::{self, Tally, LOAD_PF};
use crate::crosscheck::region_start;
use crate::data::{self, BLOCK_2M};
use crate::machine::{self, Machine, PhysMem};
use crate::probe;
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::PagingGeometry;
use pgtable::{Level, PhysAddr, Prot, SyncReport, VirtAddr, PAGE_SIZE};
use pgtable_mmu::{Access, PhysBus};
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 256;

/// The simulator's scenarios as this kernel runs them: each maps
/// 2 × 2 MiB of tagged RAM where that kernel user maps, at the start of
/// its region (the percpu first chunk two top-level slots into the vmalloc
/// area, as the simulator places it). `ioremap` reads a device: its own
/// module.
const SIM_SCENARIOS: [(&str, RegionKind, u64); 6] = [
    ("hotplug-new-slot", RegionKind::DirectMap, 0),
    ("compound-devmap", RegionKind::Vmemmap, 0),
    ("subpmd-clear", RegionKind::Vmemmap, 0),
    ("vmalloc-new-slot", RegionKind::Vmalloc, 0),
    ("kasan-shadow", RegionKind::KasanShadow, 0),
    ("percpu", RegionKind::Vmalloc, 2),
];

pub fn run(c: &mut Checks) {
    for (name, kind, slots) in SIM_SCENARIOS {
        for era in Era::ALL
            .into_iter()
            .filter(|e| e.exists(name, Family::Riscv64))
        {
            let code = era.code(era::user_of(name), Family::Riscv64);
            let r = scenario(code, kind, slots);
            machine::go_home();
            c.record(&format!("{name}/{}/{}", era.name(), code.name()), r);
        }
    }
    for code in [Code::Old, Code::New] {
        let r = scenario(code, RegionKind::Fixmap, 0);
        machine::go_home();
        c.record(&format!("fixmap-new-slot/{}", code.name()), r);
    }
}

/// One run: `slots` top-level slots into the `kind` region.
fn scenario(code: Code, kind: RegionKind, slots: u64) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.enter(None);
    let block = data::block_2m()?;
    let va = region_start(&m, kind);
    if va == 0 {
        return Err(format!("no {kind:?} region"));
    }
    let arch = *m.pt.arch();
    let va = va + slots * arch.level_size(arch.top_level());
    let len = 2 * BLOCK_2M;
    let root = m.pt.kernel_root().0;
    let slot = arch.index(Level::Pgd, va);
    let preallocated = PhysMem.read_u64(root + 8 * slot) != 0;
    let mut a = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    let mut b = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    for s in [&mut a, &mut b] {
        m.pt.user(s)
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
    let sync: Option<SyncReport> = match code {
        Code::Old => {
            // SAFETY: the old code path on purpose; the touches below are
            // probes whose faults are caught, recorded and survived, and
            // the code runs from the kernel root, which has the mapping.
            unsafe {
                m.pt.kernel().legacy_edit(|e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(block),
                        BLOCK_2M,
                        Prot::KERNEL,
                        PageSize::Pmd,
                    )?;
                    e.vmap_range(
                        VirtAddr(va + BLOCK_2M),
                        PhysAddr(block),
                        BLOCK_2M,
                        Prot::KERNEL,
                        PageSize::Pmd,
                    )
                })
            }
            .map_err(|e| format!("legacy map: {e:?}"))?;
            None
        }
        Code::New => {
            let (r, report) = m.pt.kernel().edit(|e| {
                e.vmap_range(
                    VirtAddr(va),
                    PhysAddr(block),
                    BLOCK_2M,
                    Prot::KERNEL,
                    PageSize::Pmd,
                )?;
                e.vmap_range(
                    VirtAddr(va + BLOCK_2M),
                    PhysAddr(block),
                    BLOCK_2M,
                    Prot::KERNEL,
                    PageSize::Pmd,
                )
            });
            r.map_err(|e| format!("map: {e:?}"))?;
            Some(report)
        }
    };
    machine::flush();
    let cs = m.pt.create_space().map_err(|e| format!("{e:?}"))?;

    let mut t = Tally::default();
    let mut touches = 0u64;
    let mut faults = 0u64;
    let mut predicted = 0u64;
    let mut faulted: Vec<&str> = Vec::new();
    let mut clean: Vec<&str> = Vec::new();
    let mmu = machine::software_mmu(false);
    for (name, space) in [("A", &a), ("B", &b), ("C", &cs)] {
        m.enter(Some(space));
        let proot = space.root().0;
        let mut any_fault = false;
        for addr in [va, va + len / 2, va + len - 8] {
            touches += 1;
            let sw = compare::software(&mmu, proot, addr, Access::Read);
            let hw = probe::read(addr);
            predicted += u64::from(sw.is_err());
            match (&sw, &hw) {
                (Ok(pa), Ok(v)) if *v == data::tag(*pa) => {}
                (Err(_), Err(f)) if f.scause == LOAD_PF && f.stval == addr => {
                    any_fault = true;
                    faults += 1;
                }
                _ => {
                    return Err(format!(
                        "process {name}: {addr:#x}: walker {sw:?}, real {hw:?}"
                    ))
                }
            }
            compare::address(proot, addr, &mut t);
        }
        if any_fault {
            faulted.push(name);
        } else {
            clean.push(name);
        }
    }
    machine::go_home();
    if t.differences != 0 {
        return Err(format!(
            "real and software MMU disagree ({}): {}",
            t.differences,
            t.first.unwrap_or_default()
        ));
    }
    let how = match &sync {
        None => String::from("legacy populate, never synced"),
        Some(r) => format!("edit sync outcome {:?}", r.outcome),
    };
    let expect_fault: &[&str] = match (code, preallocated) {
        (Code::Old, false) => &["A", "B"],
        _ => &[],
    };
    let verdict = if faulted.as_slice() == expect_fault {
        Ok(())
    } else {
        Err(format!("expected faults in {expect_fault:?}"))
    };
    if let (Code::New, false, Some(r)) = (code, preallocated, &sync) {
        if !matches!(r.outcome, pgtable::SyncOutcome::CopiedTopLevel) {
            return Err(format!(
                "new top-level slot {slot}: {how}, CopiedTopLevel expected"
            ));
        }
    }
    for s in [a, b, cs] {
        // This kernel flushes the whole TLB on every switch of roots.
        m.pt.destroy_space(s)
            .map_err(|_| "destroy_space refused")?
            .ignore();
    }
    let seen = if faulted.is_empty() {
        format!("no fault in {clean:?}")
    } else {
        format!(
            "FAULT (load page fault, walker agrees) in {faulted:?} (made before), no fault in {clean:?}"
        )
    };
    let detail = format!(
        "verdict={} {seen}; top-level slot {slot} {}; {how}; touches={touches} faults={faults} predicted={predicted} compared={} probes={} differences=0",
        // riscv has no lazy fault fix: every fault is an oops.
        era::verdict(faults, 0),
        if preallocated { "preallocated at boot" } else { "new" },
        t.addresses,
        t.probes
    );
    match verdict {
        Ok(()) => Ok(detail),
        Err(e) => Err(format!("{e}: {detail}")),
    }
}
