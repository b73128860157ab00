//! A kernel mapping made into an empty top-level slot reaches every address
//! space, old and new; the legacy path does not until a sync.

mod common;
use common::*;
use pgtable::PageSize;
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable::{PhysAddr, Prot, SyncMask, VirtAddr, PAGE_SIZE};

#[test]
fn kernel_variant_reaches_spaces_created_before_and_after() {
    for arch in MODES {
        let pt = machine(arch);
        let before: Vec<_> = (0..3).map(|_| pt.create_space().unwrap()).collect();
        let va = vmalloc_start(arch);
        let report = {
            let mut k = pt.kernel();
            k.edit(|edit| {
                edit.vmap_range(
                    va,
                    PhysAddr(0x20_0000),
                    16 * PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap();
            })
            .1
        };
        assert!(
            report.synced(),
            "{}: an empty top-level slot was filled",
            arch.name()
        );
        assert!(report.mask.intersects(SyncMask::PGD | SyncMask::P4D));
        let after = pt.create_space().unwrap();
        for space in before.iter().chain(Some(&after)) {
            let m = pt
                .translate(space.root(), VirtAddr(va.0 + 5 * PAGE_SIZE))
                .expect("mapped everywhere");
            assert_eq!(m.pa, PhysAddr(0x20_0000 + 5 * PAGE_SIZE));
        }
        assert_consistent(&pt);
    }
}

#[test]
fn dropping_the_edit_syncs_too() {
    for arch in MODES {
        let pt = machine(arch);
        let space = pt.create_space().unwrap();
        let va = vmalloc_start(arch);
        {
            let mut k = pt.kernel();
            let _ = k.edit(|edit| {
                edit.vmap_range(va, PhysAddr(0), PAGE_SIZE, Prot::KERNEL, PageSize::Base)
                    .unwrap();
            });
        }
        assert!(pt.translate(space.root(), va).is_some());
        assert_eq!(pt.stats().syncs, 1);
    }
}

#[test]
fn legacy_path_leaves_old_spaces_behind_until_synced() {
    for arch in MODES {
        let pt = machine(arch);
        let old = pt.create_space().unwrap();
        let va = vmalloc_start(arch);
        let mut k = pt.kernel();
        {
            // SAFETY (of the contract): synced below before any access.
            unsafe {
                k.legacy_edit(|legacy| {
                    legacy.vmap_range(
                        va,
                        PhysAddr(0x40_0000),
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                })
            }
            .unwrap();
        }
        assert!(k.translate(va).is_some(), "the kernel's own root has it");
        assert!(
            pt.translate(old.root(), va).is_none(),
            "{}: the old space does not",
            arch.name()
        );
        assert!(pt.first_out_of_sync().is_some());
        assert_eq!(pt.stats().syncs, 0);
        k.sync_global_pgds(va, va).unwrap();
        assert_eq!(
            pt.translate(old.root(), va).unwrap().pa,
            PhysAddr(0x40_0000)
        );
        drop(k);
        assert_consistent(&pt);
    }
}

#[test]
fn edit_below_an_existing_slot_needs_no_sync() {
    for arch in MODES {
        let pt = machine(arch);
        let va = vmalloc_start(arch);
        let mut k = pt.kernel();
        k.edit(|e| e.vmap_range(va, PhysAddr(0), PAGE_SIZE, Prot::KERNEL, PageSize::Base))
            .0
            .unwrap();
        let (mapped, r) = k.edit(|e| {
            e.vmap_range(
                VirtAddr(va.0 + (1 << 30)),
                PhysAddr(0),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
        });
        mapped.unwrap();
        assert!(
            !r.synced(),
            "{}: top level untouched, mask {:?}",
            arch.name(),
            r.mask
        );
        assert!(r.mask.contains(SyncMask::PTE));
    }
}

#[test]
fn preallocation_fills_every_kernel_slot_once() {
    for arch in MODES {
        let pt = machine(arch);
        let early = pt.create_space().unwrap();
        let mut k = pt.kernel();
        let start = VirtAddr(arch.kernel_start());
        let n = k
            .edit(|e| e.preallocate(start, VirtAddr(u64::MAX)))
            .0
            .unwrap();
        assert_eq!(n, 256, "{}", arch.name());
        let (mapped, report) = k.edit(|edit| {
            edit.vmap_range(
                vmalloc_start(arch),
                PhysAddr(0),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
        });
        mapped.unwrap();
        assert!(
            !report.synced(),
            "nothing at the top level changes any more"
        );
        drop(k);
        assert!(pt.translate(early.root(), vmalloc_start(arch)).is_some());
        assert_consistent(&pt);
    }
}
