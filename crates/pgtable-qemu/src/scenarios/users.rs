//! The simulator's other x86-64 kernel users (`pgtable-sim`'s
//! `vmalloc-new-slot`, `ioremap`, `percpu` and `kasan-shadow`) on the real
//! MMU, under every
//! era it models, each era writing the change as that Linux release did
//! (`pgtable_qemu_common::era`): plain populate (old code) or the library's
//! edit (new code); from 5.9 the vmalloc area's top level preallocated at
//! boot (`preallocate_vmalloc_pages()`); until 5.8 `vmalloc_fault()`
//! (`arch/x86/mm/fault.c`) copying init_mm's missing top-level entry for a
//! fault in the vmalloc area (the library's `sync_on_fault`), after which
//! the access is retried and must succeed in both MMUs.
//!
//! `kasan-shadow` is the part of the simulator's scenario that decides its
//! verdict: shadow for device memory in a top-level slot of the KASAN
//! shadow nothing has used (`kasan_populate_early_shadow()` from
//! `kasan_add_zero_shadow()`), here 2 MiB at the start of the shadow
//! region; its real shadow of a vmalloc allocation, whose top level x86-64
//! populates at boot from 5.5 on, is left out.
//!
//! Each run boots a fresh machine (processes A and B), makes the change,
//! creates C, and reads the new addresses with CR3 switched to init_mm, A,
//! B and C; the software MMU is asked first and the real outcome (fault or
//! not, CR2, error code) must equal it. The verdict (`ok`, `fixed`,
//! `oops`) is compared by `cargo xtask qemu` with the simulator's table.

use super::{boot_with, region_start, top_slot_size, Code};
use crate::data::{self, BLOCK_2M};
use crate::report::Checks;
use crate::space::Machine;
use crate::touch::{self, Touch};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::{CacheMode, Level, PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_qemu_common::era::{self, Era, Family};

/// HPET's registers on QEMU's pc machine (the simulator's ioremap target).
const HPET: u64 = 0xfed0_0000;
/// Units of the percpu first chunk: one per context (init_mm, A, B, C).
const UNITS: u64 = 4;
/// Pages per percpu unit.
const UNIT_PAGES: u64 = 8;

pub fn run(c: &mut Checks, family: Family) {
    for name in ["vmalloc-new-slot", "ioremap", "percpu", "kasan-shadow"] {
        for era in Era::ALL.into_iter().filter(|e| e.exists(name, family)) {
            let code = era.code(era::user_of(name), family);
            let r = scenario(name, era, code, family);
            c.record_detail(&format!("{name}/{}/{}", era.name(), code.name()), r);
        }
    }
}

/// The kernel change as `code` makes it: the addresses each context
/// (init_mm, A, B, C) reads.
fn change(m: &Machine, name: &str, code: Code) -> Result<[Vec<u64>; 4], String> {
    let e = |x: pgtable::Error| format!("{x:?}");
    let mut kernel = m.pt.kernel();
    match name {
        "vmalloc-new-slot" => {
            let frames = data::frames(4)?;
            let va = match code {
                // SAFETY: the old code on purpose; every read below is a
                // probe whose #PF is caught and compared.
                Code::Old => unsafe { kernel.legacy_edit(|ed| ed.vmap(&frames, Prot::KERNEL)) },
                Code::New => kernel.edit(|ed| ed.vmap(&frames, Prot::KERNEL)).0,
            }
            .map_err(e)?
            .0;
            Ok([0, 1, 2, 3].map(|_| alloc::vec![va + 4096]))
        }
        "ioremap" => {
            let pa = PhysAddr(HPET);
            let va = match code {
                // SAFETY: as above.
                Code::Old => unsafe {
                    kernel.legacy_edit(|ed| ed.ioremap(pa, 0x400, CacheMode::Uncached))
                },
                Code::New => {
                    kernel
                        .edit(|ed| ed.ioremap(pa, 0x400, CacheMode::Uncached))
                        .0
                }
            }
            .map_err(e)?
            .0;
            // HPET's main counter: a read has no side effect.
            Ok([0, 1, 2, 3].map(|_| alloc::vec![va + 0xf0]))
        }
        "kasan-shadow" => {
            let ks = region_start(&m.pt, RegionKind::KasanShadow);
            let block = data::block_2m()?;
            let leaf = pgtable::PageSize::Pmd;
            match code {
                // SAFETY: as above.
                Code::Old => unsafe {
                    kernel.legacy_edit(|ed| {
                        ed.vmap_range(VirtAddr(ks), PhysAddr(block), BLOCK_2M, Prot::KERNEL, leaf)
                    })
                },
                Code::New => {
                    kernel
                        .edit(|ed| {
                            ed.vmap_range(
                                VirtAddr(ks),
                                PhysAddr(block),
                                BLOCK_2M,
                                Prot::KERNEL,
                                leaf,
                            )
                        })
                        .0
                }
            }
            .map_err(e)?;
            Ok([0, 1, 2, 3].map(|_| alloc::vec![ks, ks + BLOCK_2M - 8]))
        }
        _ => {
            // The first chunk two top-level slots past the start of the
            // vmalloc area, as the simulator places it.
            let base = region_start(&m.pt, RegionKind::Vmalloc) + 2 * top_slot_size(&m.pt);
            let frames = data::frames((UNITS * UNIT_PAGES) as usize)?;
            // pcpu_populate_pte(): walk from the root, allocating each
            // missing level, and set the PTE.
            macro_rules! populate {
                ($ed:expr) => {{
                    let ed = $ed;
                    frames.iter().enumerate().try_for_each(|(i, &pa)| {
                        let va = VirtAddr(base + i as u64 * PAGE_SIZE);
                        let pgd = ed.pgd_offset(va);
                        let p4d = ed.alloc_track(Level::Pgd, pgd, va)?;
                        let pud = ed.alloc_track(Level::P4d, p4d, va)?;
                        let pmd = ed.alloc_track(Level::Pud, pud, va)?;
                        let pte = ed.alloc_track(Level::Pmd, pmd, va)?;
                        ed.set_leaf(Level::Pte, va, pte, pa, Prot::KERNEL)
                    })
                }};
            }
            match code {
                // SAFETY: as above.
                Code::Old => unsafe { kernel.legacy_edit(|ed| populate!(ed)) },
                Code::New => kernel.edit(|ed| populate!(ed)).0,
            }
            .map_err(e)?;
            // Each context reads its own unit (`this_cpu_read()`).
            let unit = UNIT_PAGES * PAGE_SIZE;
            Ok([0, 1, 2, 3].map(|i| alloc::vec![base + i * unit + 0x100]))
        }
    }
}

fn scenario(name: &str, era: Era, code: Code, family: Family) -> Result<String, String> {
    let (vm_start, vm_last) = m_vmalloc()?;
    let prealloc = if era.prealloc_vmalloc(family) {
        alloc::vec![(vm_start, vm_last)]
    } else {
        Vec::new()
    };
    let (m, [a, b]) = boot_with(&prealloc)?;
    let reads = change(&m, name, code)?;
    let cs = m.process()?;
    let handler = era.lazy_fault_fix(family);
    let roots = [
        ("init_mm", m.pt.kernel_root()),
        ("A", a.root()),
        ("B", b.root()),
        ("C", cs.root()),
    ];
    let (mut n, mut faults, mut predicted, mut fixed) = (0u64, 0u64, 0u64, 0u64);
    let mut seen: Vec<String> = Vec::new();
    let mut bad: Option<String> = None;
    for ((who, root), vas) in roots.into_iter().zip(reads.iter()) {
        for &va in vas {
            n += 1;
            let t = touch::touch(&m.mmu, root, va, false);
            predicted += u64::from(t.soft.is_err());
            if !t.agrees() {
                bad.get_or_insert(format!(
                    "{who}: real and software MMU disagree: {}",
                    t.describe()
                ));
                continue;
            }
            let Err(f) = t.real else { continue };
            faults += 1;
            seen.push(format!("{who} cr2={:#x} err={:#x}", f.addr, f.error_code));
            // vmalloc_fault(): only in the vmalloc area, only by copying an
            // entry init_mm has.
            if !(handler
                && (vm_start..=vm_last).contains(&va)
                && m.pt.sync_on_fault(root, VirtAddr(va)))
            {
                continue;
            }
            let retry: Touch = touch::touch(&m.mmu, root, va, false);
            if retry.faulted() || !retry.agrees() {
                bad.get_or_insert(format!(
                    "{who}: retry after vmalloc_fault(): {}",
                    retry.describe()
                ));
            } else {
                fixed += 1;
            }
        }
    }
    m.retire([a, b, cs]);
    if let Some(b) = bad {
        return Err(b);
    }
    Ok(format!(
        "verdict={} faults={faults} predicted={predicted} fixed={fixed} reads={n} agree=all from init_mm, A, B (made before), C (after); {}{}{}",
        era::verdict(faults, fixed),
        match code {
            Code::Old => "legacy populate",
            Code::New => "library edit",
        },
        if prealloc.is_empty() { "" } else { ", vmalloc area preallocated at boot" },
        if seen.is_empty() {
            String::new()
        } else {
            format!("; faults: {}", seen.join(", "))
        }
    ))
}

/// The vmalloc area, `(start, last)`, of the library's x86-64 layout.
fn m_vmalloc() -> Result<(u64, u64), String> {
    let la57 = crate::cpu::la57_active();
    pgtable::KernelPolicy::layout(&pgtable::X86_64 { la57 })
        .get(RegionKind::Vmalloc)
        .map(|r| (r.start, r.last))
        .ok_or_else(|| String::from("no vmalloc region"))
}
