//! A vmap that runs out of table memory at each possible allocation in turn
//! leaves every root in sync, every frame accounted for, and nothing of its
//! own mapping behind.

mod common;
use common::*;
use pgtable::PageSize;
use pgtable::{Error, PhysAddr, Prot, TableMemory, VirtAddr, PAGE_SIZE};

#[test]
fn vmap_failing_at_every_allocation_stays_consistent() {
    for arch in MODES {
        let pt = machine(arch);
        let spaces: Vec<_> = (0..4).map(|_| pt.create_space().unwrap()).collect();
        let base = vmalloc_start(arch);
        // An earlier mapping that must survive every failure.
        pt.kernel()
            .edit(|e| {
                e.vmap_range(
                    base,
                    PhysAddr(0x1000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                )
            })
            .0
            .unwrap();
        // Crosses a 1 GiB boundary far away in a new top-level slot, so the
        // walk needs a new top-level table, two PUD tables (on 5-level), PMD
        // and PTE tables.
        let va = VirtAddr(base.0 + (1u64 << 39) * 3 + (1 << 30) - 8 * PAGE_SIZE);
        let size = 16 * PAGE_SIZE;
        let mut failures = 0;
        for k in 0.. {
            pt.mem().fail_once_at(k);
            let r = pt
                .kernel()
                .edit(|e| e.vmap_range(va, PhysAddr(0x10_0000), size, Prot::KERNEL, PageSize::Base))
                .0;
            pt.mem().heal();
            assert_consistent(&pt);
            assert!(
                pt.translate(pt.kernel_root(), base).is_some(),
                "earlier mapping intact"
            );
            match r {
                Err(Error::OutOfMemory) => {
                    failures += 1;
                    for p in 0..16 {
                        assert!(
                            pt.translate(pt.kernel_root(), VirtAddr(va.0 + p * PAGE_SIZE))
                                .is_none(),
                            "{}: a failed vmap left page {p} mapped (k = {k})",
                            pgtable::PagingGeometry::name(&arch)
                        );
                    }
                }
                Ok(()) => break,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!(
            failures >= 4,
            "the walk allocates at least 4 tables, saw {failures} failures"
        );
        for s in &spaces {
            assert_eq!(
                pt.translate(s.root(), VirtAddr(va.0 + PAGE_SIZE))
                    .unwrap()
                    .pa,
                PhysAddr(0x10_1000)
            );
        }
        pt.kernel()
            .edit(|e| e.vunmap_range(va, size))
            .0
            .unwrap()
            .ignore();
        assert_consistent(&pt);
    }
}

#[test]
fn create_space_failing_leaks_nothing() {
    let pt = machine(MODES[0]);
    let before = pt.mem().tables_in_use();
    pt.mem().fail_once_at(0);
    assert_eq!(pt.create_space().unwrap_err(), Error::OutOfMemory);
    assert_eq!(pt.mem().tables_in_use(), before);
    assert_eq!(pt.space_count(), 0);
}
