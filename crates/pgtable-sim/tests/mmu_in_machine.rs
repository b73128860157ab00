//! The machine's MMU catches a kernel access through an out-of-sync root,
//! and serves a stale TLB entry until it is flushed.

use pgtable::PageSize;
use pgtable::{PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_mmu::Access;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Context, Variant};

#[test]
fn kernel_access_through_an_out_of_sync_root_faults() {
    for la57 in [false, true] {
        let m = machine(&Config {
            arch: pgtable_sim::SimArch::x86_64(la57),
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
            unsafe {
                k.ks.legacy_edit(|legacy| {
                    legacy.vmap_range(
                        VirtAddr(va),
                        PhysAddr(0x100_0000),
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                })
            }
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
        k.ks.sync_global_pgds(VirtAddr(va), VirtAddr(va)).unwrap();
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
    k.ks.edit(|e| e.vunmap_range(VirtAddr(va), PAGE_SIZE))
        .0
        .unwrap()
        .ignore();
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

#[test]
fn destroying_a_process_a_cpu_runs_is_refused_and_changes_nothing() {
    let m = machine(&Config {
        cpus: 2,
        spaces: 2,
        ..Config::default()
    })
    .unwrap();
    // CPU 0 runs process 0, CPU 1 process 1.
    let root = m.root_of(Context::Process(0)).unwrap();
    let tables = pgtable::TableMemory::tables_in_use(m.pt.mem());
    assert_eq!(
        m.destroy_process(0),
        Err(pgtable_sim::SimError::ProcessBusy(0))
    );
    assert_eq!(m.root_of(Context::Process(0)).unwrap(), root);
    assert_eq!(pgtable::TableMemory::tables_in_use(m.pt.mem()), tables);
    assert_eq!(m.process_ids(), vec![0, 1]);
    assert_eq!(
        m.destroy_process(7),
        Err(pgtable_sim::SimError::NoProcess(7))
    );
    // Once the CPU runs something else, it goes.
    m.switch(0, Context::Kernel).unwrap();
    m.destroy_process(0).unwrap();
    assert_eq!(m.process_ids(), vec![1]);
    assert_eq!(
        m.pt.reachable_tables(),
        pgtable::TableMemory::tables_in_use(m.pt.mem())
    );
}
