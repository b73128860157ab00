//! No panic is reachable from the public API: every public operation, on
//! every paging mode, with hostile arguments (extreme addresses, sizes,
//! physical addresses, shifts, levels, entries that point anywhere). Run in
//! debug by `cargo test`, so arithmetic overflow panics too. Each call runs
//! under `catch_unwind`; the test lists every call that panicked.

use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::x86_32::X86_32;
use pgtable::PageSize;
use pgtable::{
    Arch, CacheMode, EntryPtr, Level, PageTables, PhysAddr, Prot, SparseMemory, SyncPolicy,
    VirtAddr, VmapAreas, X86_64,
};
use std::panic::{catch_unwind, AssertUnwindSafe};

const PROTS: [Prot; 4] = [
    Prot::KERNEL,
    Prot::KERNEL_RO,
    Prot::USER_RW,
    Prot::KERNEL_EXEC,
];
const LEVELS: [Level; 5] = Level::ALL;

fn addrs<A: Arch>(arch: &A) -> Vec<u64> {
    let ks = arch.kernel_start();
    let mut v = vec![
        0,
        1,
        0xfff,
        0x1000,
        0x40_0000,
        arch.user_end().wrapping_sub(0x1000),
        arch.user_end(),
        ks.wrapping_sub(0x1000),
        ks,
        ks.wrapping_add(0x20_0000),
        arch.kernel_end().wrapping_sub(0x1000),
        1 << 63,
        !0xfff_u64,
        u64::MAX,
    ];
    for r in arch.layout().regions {
        v.push(r.start);
    }
    v
}

const SIZES: [u64; 7] = [0, 1, 0x1000, 0x3000, 0x20_0000, !0xfff_u64, u64::MAX];

fn phys<A: Arch>(arch: &A) -> [u64; 6] {
    let lim = arch.phys_limit();
    [
        0,
        0x20_0000,
        lim.wrapping_sub(0x1000),
        lim,
        !0xfff_u64,
        u64::MAX,
    ]
}

/// Run `f`, recording a panic under `what`.
fn call(failures: &mut Vec<String>, what: impl FnOnce() -> String, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        failures.push(what());
    }
}

fn surface<A: Arch>(arch: A, failures: &mut Vec<String>) {
    let name = arch.name();
    let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x0800_0000));
    let Ok(pt) = PageTables::with_policy(arch, mem, SyncPolicy::Eager) else {
        failures.push(format!("{name}: PageTables::new refused a plain machine"));
        return;
    };
    let addrs = addrs(&arch);
    let phys = phys(&arch);
    let mut space = pt.create_space().unwrap();
    let entries = {
        let k = pt.kernel_root().0;
        [
            0,
            1,
            k,
            k + 8,
            k + 4095,
            space.root().0,
            u64::MAX - 7,
            u64::MAX,
        ]
    };
    let frames: Vec<PhysAddr> = phys.iter().map(|p| PhysAddr(*p)).collect();

    for &va in &addrs {
        for &size in &SIZES {
            for &pa in &phys {
                for shift in [PageSize::Base, PageSize::Pmd, PageSize::Pud] {
                    call(
                        failures,
                        || format!("{name}: vmap_range({va:#x}, {pa:#x}, {size:#x}, {shift:?})"),
                        || {
                            let _ = pt.kernel().edit(|e| {
                                e.vmap_range(VirtAddr(va), PhysAddr(pa), size, Prot::KERNEL, shift)
                            });
                        },
                    );
                    call(
                        failures,
                        || {
                            format!(
                                "{name}: user map_range({va:#x}, {pa:#x}, {size:#x}, {shift:?})"
                            )
                        },
                        || {
                            if let Ok(mut u) = pt.user(&mut space) {
                                let _ = u.map_range(
                                    VirtAddr(va),
                                    PhysAddr(pa),
                                    size,
                                    Prot::USER_RW,
                                    shift,
                                );
                            }
                        },
                    );
                }
            }
            call(
                failures,
                || format!("{name}: unmaps({va:#x}, {size:#x})"),
                || {
                    let _ = pt.kernel().edit(|e| e.vunmap_range(VirtAddr(va), size));
                    if let Ok(mut u) = pt.user(&mut space) {
                        let _ = u.unmap(VirtAddr(va), size);
                    }
                },
            );
            call(
                failures,
                || format!("{name}: ioremap({va:#x} as pa, {size:#x})"),
                || {
                    for cache in [CacheMode::Uncached, CacheMode::WriteCombining] {
                        let _ = pt.kernel().edit(|e| e.ioremap(PhysAddr(va), size, cache));
                    }
                },
            );
            call(
                failures,
                || format!("{name}: preallocate/sync_global_pgds({va:#x}, +{size:#x})"),
                || {
                    let last = VirtAddr(va.wrapping_add(size));
                    let _ = pt.kernel().edit(|e| e.preallocate(VirtAddr(va), last));
                    let _ = pt.kernel().sync_global_pgds(VirtAddr(va), last);
                },
            );
        }
        call(
            failures,
            || format!("{name}: reads at {va:#x}"),
            || {
                for root in [pt.kernel_root(), space.root(), PhysAddr(va)] {
                    let _ = pt.translate(root, VirtAddr(va));
                    let _ = pt.sync_on_fault(root, VirtAddr(va));
                    for size in [0, 1, 4096, 1 << 30, u64::MAX] {
                        let _ = pt.walk_range(root, VirtAddr(va), size, |_| {
                            core::ops::ControlFlow::Continue(())
                        });
                    }
                }
                let _ = pt.top_level_entry(&space, VirtAddr(va));
                let _ = pt.kernel().translate(VirtAddr(va));
                let _ = pt.kernel().edit(|e| e.vunmap(VirtAddr(va)));
                for &prot in &PROTS {
                    let _ = pt
                        .kernel()
                        .edit(|e| e.vmap_pages(VirtAddr(va), &frames, prot));
                    let _ = pt.kernel().edit(|e| e.vmap(&frames[1..2], prot));
                    if let Ok(mut u) = pt.user(&mut space) {
                        let _ = u.map_pages(VirtAddr(va), &frames[1..2], prot);
                    }
                }
            },
        );
        // The raw helpers, with every level and entries that point anywhere.
        for &e in &entries {
            for &level in &LEVELS {
                call(
                    failures,
                    || format!("{name}: raw kernel helpers({level}, {e:#x}, {va:#x})"),
                    || {
                        let _ = pt.kernel().edit(|ed| {
                            let e = EntryPtr(PhysAddr(e));
                            let v = VirtAddr(va);
                            let _ = ed.pgd_offset(v);
                            let _ = ed.offset(level, e, v);
                            let _ = ed.entry(level, e);
                            let _ = ed.alloc_track(level, e, v);
                            for &pa in &phys {
                                let _ = ed.set_leaf(level, v, e, PhysAddr(pa), Prot::KERNEL);
                            }
                            for holds in LEVELS {
                                let Ok(t) = ed.alloc_table(holds) else {
                                    continue;
                                };
                                let _ = t.entry(u64::MAX);
                                let _ = match level {
                                    Level::Pgd => {
                                        ed.pgd_populate_kernel(v, e, t).map_err(|r| r.error)
                                    }
                                    Level::P4d => {
                                        ed.p4d_populate_kernel(v, e, t).map_err(|r| r.error)
                                    }
                                    Level::Pud => ed.pud_populate(v, e, t).map_err(|r| r.error),
                                    _ => ed.pmd_populate_kernel(v, e, t).map_err(|r| r.error),
                                };
                            }
                        });
                    },
                );
                call(
                    failures,
                    || format!("{name}: raw user helpers({level}, {e:#x}, {va:#x})"),
                    || {
                        let Ok(mut u) = pt.user(&mut space) else {
                            return;
                        };
                        let e = EntryPtr(PhysAddr(e));
                        let v = VirtAddr(va);
                        let _ = u.pgd_offset(v);
                        let _ = u.offset(level, e, v);
                        let _ = u.pte_offset_map(e, v).map(|m| m.read());
                        if let Ok(t) = u.alloc_table(level) {
                            let _ = match level {
                                Level::Pgd => u.pgd_populate(v, e, t).map_err(|r| r.error),
                                Level::P4d => u.p4d_populate(v, e, t).map_err(|r| r.error),
                                Level::Pud => u.pud_populate(v, e, t).map_err(|r| r.error),
                                _ => u.pmd_populate(v, e, t).map_err(|r| r.error),
                            };
                        }
                    },
                );
            }
        }
    }
    call(
        failures,
        || format!("{name}: PTI over hostile ranges"),
        || {
            for &a in &addrs {
                for &b in &addrs {
                    let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x20_0000));
                    if let Ok(p) = PageTables::new(arch, mem) {
                        let _ = p.with_pti(VirtAddr(a)..VirtAddr(b));
                    }
                }
            }
        },
    );
    call(
        failures,
        || format!("{name}: whole-machine reads and teardown"),
        || {
            for asid in [0, 1, 0xff, 0x100, 0xfff, 0x1000, u16::MAX] {
                let _ = pt.activation(&space, asid);
            }
            let _ = pt.first_out_of_sync();
            let _ = pt.reachable_tables();
            let _ = pt.stats();
            let _ = pt.destroy_space(space);
        },
    );
}

#[test]
fn no_public_call_panics_on_any_mode() {
    let mut failures = Vec::new();
    surface(X86_64::FOUR_LEVEL, &mut failures);
    surface(X86_64::FIVE_LEVEL, &mut failures);
    surface(X86_32::TWO_LEVEL, &mut failures);
    surface(X86_32::PAE, &mut failures);
    surface(X86_32::PAE_UNSHARED_PMD.with_highpte(), &mut failures);
    surface(Arm64::VA_39, &mut failures);
    surface(Arm64::VA_48, &mut failures);
    surface(Arm64::VA_52, &mut failures);
    surface(Riscv64::SV39, &mut failures);
    surface(Riscv64::SV48, &mut failures);
    surface(Riscv64::SV57, &mut failures);
    surface(Arm32::SHORT, &mut failures);
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn vmap_areas_take_any_size_and_alignment() {
    let mut failures = Vec::new();
    for (start, end) in [
        (0, 0),
        (0x1000, 0),
        (u64::MAX, 0),
        (0x1000, 0x10_0000),
        (0, u64::MAX),
    ] {
        call(
            &mut failures,
            || format!("VmapAreas::new({start:#x}, {end:#x})"),
            || {
                let mut a = VmapAreas::new(start, end);
                for size in SIZES {
                    for align in [0, 1, 3, 0x1000, 1 << 63, u64::MAX] {
                        if let Some(va) = a.alloc(size, align) {
                            let _ = a.size_of(va);
                            let _ = a.free(va);
                        }
                    }
                }
                let _ = a.free(u64::MAX);
                let _ = a.busy_count();
            },
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
