//! The machine's MMU catches a kernel access through an out-of-sync root,
//! and serves a stale TLB entry until it is flushed.

use pgtable::{PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_mmu::Access;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Context, Variant};

#[test]
fn kernel_access_through_an_out_of_sync_root_faults() {
    for la57 in [false, true] {
        let m = machine(&Config {
            la57,
            cpus: 2,
            spaces: 1,
            ..Config::default()
        })
        .unwrap();
        m.switch(1, Context::Kernel).unwrap();
        let va = m.layout.vmalloc.0;
        let mut k = m.kernel();
        {
            // SAFETY: the stale root is exactly what this test looks at; the
            // simulated MMU reports the fault instead of crashing.
            let mut legacy = unsafe { k.ks.legacy_edit() };
            legacy
                .vmap_range(
                    VirtAddr(va),
                    PhysAddr(0x100_0000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    12,
                )
                .unwrap();
        }
        let f = k
            .access(0, va, Access::Read, "test")
            .expect_err("process 0's root lacks the slot");
        assert_eq!((f.addr, f.kind, f.cpu), (va, "not present", 0));
        assert_eq!(f.level, if la57 { "PML5" } else { "PML4" });
        assert_eq!(f.error_code & 1, 0, "P = 0: not present");
        k.access(1, va, Access::Read, "test")
            .expect("init_mm's root has it");
        k.ks.sync_global_pgds(VirtAddr(va), VirtAddr(va));
        k.access(0, va, Access::Read, "test").expect("synced");
    }
}

#[test]
fn stale_tlb_entry_is_served_until_flushed() {
    let m = machine(&Config {
        cpus: 1,
        spaces: 1,
        ..Config::default()
    })
    .unwrap();
    let mut k = m.kernel();
    let va = k.vmalloc(Variant::New, 1).unwrap();
    k.access(0, va, Access::Write, "fill the TLB").unwrap();
    // Unmap without the TLB shootdown vfree would do.
    k.ks.edit().vunmap_range(VirtAddr(va), PAGE_SIZE).unwrap();
    assert!(m.pt.translate(m.pt.kernel_root(), VirtAddr(va)).is_none());
    k.access(0, va, Access::Read, "stale")
        .expect("the TLB still holds the translation");
    let mut checker = pgtable_sim::checker::Checker::new();
    let err = checker
        .full(&m)
        .expect_err("the checker sees the stale TLB entry");
    assert!(err.detail.contains("TLB"), "{err}");
    m.flush_tlb_all();
    k.access(0, va, Access::Read, "after flush")
        .expect_err("flushed: the walk faults");
}
