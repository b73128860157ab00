//! Page-table isolation: each space's user-mode root holds its user half and
//! only the entry area of the kernel, and the sync keeps both roots right.

mod common;
use common::*;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{Error, PhysAddr, Prot, TableMemory, VirtAddr, PAGE_SIZE};
use pgtable::{KernelPolicy, PagingGeometry};

#[test]
fn user_mode_roots_see_only_the_entry_area() {
    for arch in MODES {
        let cea = arch.layout().get(RegionKind::CpuEntryArea).unwrap();
        let pt = machine(arch)
            .with_pti(VirtAddr(cea.start)..VirtAddr(cea.last + 1))
            .unwrap();
        let mut early = pt.create_space().unwrap();
        let user_root = early.user_root().expect("PTI gives a user-mode root");
        let (vm, entry) = (vmalloc_start(arch), VirtAddr(cea.start));
        {
            let mut k = pt.kernel();
            let (_, report) = k.edit(|e| {
                e.vmap_range(
                    vm,
                    PhysAddr(0x10_0000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap();
                e.vmap_range(
                    entry,
                    PhysAddr(0x20_0000),
                    PAGE_SIZE,
                    Prot::KERNEL_RO,
                    PageSize::Base,
                )
                .unwrap();
            });
            assert!(report.synced());
        }
        let late = pt.create_space().unwrap();
        for s in [&early, &late] {
            let u = s.user_root().unwrap();
            assert!(
                pt.translate(s.root(), vm).is_some(),
                "{}: kernel-mode root has vmalloc",
                arch.name()
            );
            assert!(
                pt.translate(u, vm).is_none(),
                "{}: user-mode root must not map vmalloc",
                arch.name()
            );
            assert_eq!(
                pt.translate(u, entry).unwrap().pa,
                PhysAddr(0x20_0000),
                "entry area in the user-mode root"
            );
            assert!(pt
                .translate(u, VirtAddr(pgtable_direct_map(arch)))
                .is_none());
        }
        // User mappings appear in both roots, and go from both.
        let uva = VirtAddr(0x7000_0000);
        pt.user(&mut early)
            .unwrap()
            .map_range(
                uva,
                PhysAddr(0x30_0000),
                PAGE_SIZE,
                Prot::USER_RW,
                PageSize::Base,
            )
            .unwrap();
        assert_eq!(
            pt.translate(user_root, uva).unwrap().pa,
            PhysAddr(0x30_0000)
        );
        assert_eq!(pt.first_out_of_sync(), None);
        pt.user(&mut early)
            .unwrap()
            .unmap(uva, PAGE_SIZE)
            .unwrap()
            .ignore();
        assert!(
            pt.translate(user_root, uva).is_none() && pt.translate(early.root(), uva).is_none()
        );
        assert_consistent(&pt);
        pt.destroy_space(early).expect("own space").ignore();
        pt.destroy_space(late).expect("own space").ignore();
        assert_consistent(&pt);
    }
}

fn pgtable_direct_map(arch: pgtable::X86_64) -> u64 {
    arch.layout().get(RegionKind::DirectMap).unwrap().start
}

#[test]
fn pti_must_be_chosen_before_any_space_exists() {
    let pt = machine(MODES[0]);
    let s = pt.create_space().unwrap();
    let tables = pt.mem().tables_in_use();
    let err = pt
        .with_pti(VirtAddr(0xffff_fe00_0000_0000)..VirtAddr(0xffff_fe80_0000_0000))
        .unwrap_err();
    assert_eq!(err, Error::Busy);
    let _ = (s, tables);
}

#[test]
fn a_user_root_out_of_sync_is_reported() {
    let arch = MODES[0];
    let cea = arch.layout().get(RegionKind::CpuEntryArea).unwrap();
    let pt = machine(arch)
        .with_pti(VirtAddr(cea.start)..VirtAddr(cea.last + 1))
        .unwrap();
    let s = pt.create_space().unwrap();
    let u = s.user_root().unwrap();
    // Simulate a sync that forgot the user-mode root: write a kernel slot
    // the user-mode root must never hold.
    let slot = arch.index(pgtable::Level::Pgd, vmalloc_start(arch).0) as usize;
    pt.kernel()
        .edit(|e| {
            e.vmap_range(
                vmalloc_start(arch),
                PhysAddr(0),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
        })
        .0
        .unwrap();
    let k = pt
        .mem()
        .read_u64(PhysAddr(pt.kernel_root().0 + slot as u64 * 8));
    pt.mem()
        .inner()
        .write_u64(PhysAddr(u.0 + slot as u64 * 8), k);
    assert_eq!(pt.first_out_of_sync(), Some((u, slot)));
}
