//! Table frames balance after many create/map/unmap/destroy cycles.

mod common;
use common::*;
use pgtable::PageSize;
use pgtable::{CacheMode, PhysAddr, Prot, TableMemory, VirtAddr, PAGE_SIZE};

#[test]
fn frames_balance_over_many_cycles() {
    for arch in MODES {
        let pt = machine(arch);
        let base_tables = pt.mem().tables_in_use();
        let mut spaces = Vec::new();
        let mut areas = Vec::new();
        for i in 0..200u64 {
            let mut s = pt.create_space().unwrap();
            let uva = VirtAddr(0x40_0000 + (i % 7) * (1 << 30));
            pt.user(&mut s)
                .unwrap()
                .map_range(
                    uva,
                    PhysAddr(0x100_0000),
                    3 * PAGE_SIZE,
                    Prot::USER_RW,
                    PageSize::Base,
                )
                .unwrap();
            spaces.push(s);
            let frames: Vec<_> = (0..(i % 5 + 1))
                .map(|f| PhysAddr(0x200_0000 + f * PAGE_SIZE))
                .collect();
            let mut k = pt.kernel();
            let _ = k.edit(|edit| {
                areas.push(edit.vmap(&frames, Prot::KERNEL).unwrap());
                areas.push(
                    edit.ioremap(
                        PhysAddr(0xfe00_0000 + i * 0x1000),
                        0x800,
                        CacheMode::Uncached,
                    )
                    .unwrap(),
                );
            });
            if i % 3 == 0 {
                let _ = k.edit(|edit| {
                    edit.vunmap(areas.remove(0)).unwrap().ignore();
                    edit.vunmap(areas.remove(0)).unwrap().ignore();
                });
                drop(k);
                pt.destroy_space(spaces.remove(0))
                    .expect("own space")
                    .ignore();
            }
            if i % 50 == 0 {
                assert_consistent(&pt);
            }
        }
        assert_consistent(&pt);
        for s in spaces.drain(..) {
            pt.destroy_space(s).expect("own space").ignore();
        }
        let mut k = pt.kernel();
        let _ = k.edit(|edit| {
            for a in areas.drain(..) {
                edit.vunmap(a).unwrap().ignore();
            }
        });
        drop(k);
        assert_consistent(&pt);
        // What stays: the kernel root and the tables its own top-level
        // entries point at (never freed, as in Linux).
        let top_tables = harness::reachable_frames(&pt) - 1;
        assert!(
            top_tables <= 2,
            "{}: {top_tables}",
            pgtable::PagingGeometry::name(&arch)
        );
        assert_eq!(pt.mem().tables_in_use(), base_tables + top_tables);
    }
}

#[test]
fn unmap_frees_emptied_tables_below_the_top() {
    for arch in MODES {
        let pt = machine(arch);
        let va = vmalloc_start(arch);
        let mut k = pt.kernel();
        k.edit(|e| e.vmap_range(va, PhysAddr(0), 4 * PAGE_SIZE, Prot::KERNEL, PageSize::Base))
            .0
            .unwrap();
        let with = pt.mem().tables_in_use();
        k.edit(|e| e.vunmap_range(va, 4 * PAGE_SIZE))
            .0
            .unwrap()
            .ignore();
        let freed = with - pt.mem().tables_in_use();
        // PTE and PMD tables go (and the P4D-level PUD table on 5-level);
        // the table a top-level entry points at stays.
        let expect = if arch.la57 { 3 } else { 2 };
        assert_eq!(freed, expect, "{}", pgtable::PagingGeometry::name(&arch));
        assert!(k.translate(va).is_none());
    }
}

#[test]
fn huge_leaves_are_used_where_alignment_allows() {
    for arch in MODES {
        let pt = machine(arch);
        let va = vmalloc_start(arch);
        let mut k = pt.kernel();
        let size = (1 << 30) + (2 << 20) + 4 * PAGE_SIZE;
        k.edit(|e| e.vmap_range(va, PhysAddr(1 << 30), size, Prot::KERNEL, PageSize::Pud))
            .0
            .unwrap();
        let sizes: Vec<_> = [0, 1 << 30, (1 << 30) + (2 << 20)]
            .iter()
            .map(|off| k.translate(VirtAddr(va.0 + off)).unwrap().size)
            .collect();
        assert_eq!(sizes, vec![1 << 30, 2 << 20, PAGE_SIZE]);
        let m = k.translate(VirtAddr(va.0 + 0x1234_5000)).unwrap();
        assert_eq!(
            m.translate(VirtAddr(va.0 + 0x1234_5000)),
            PhysAddr((1 << 30) + 0x1234_5000)
        );
        assert_eq!(
            k.edit(|e| e.vunmap_range(VirtAddr(va.0 + (1 << 20)), 1 << 20))
                .0,
            Err(pgtable::Error::SplitsLeaf(va))
        );
    }
}
