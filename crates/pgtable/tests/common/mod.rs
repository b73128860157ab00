//! Shared test fixtures.
#![allow(dead_code)]

use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;
use pgtable::{FaultInjector, PageTables, PhysAddr, SparseMemory, TableMemory, VirtAddr, X86_64};

/// The independent walk: the leak oracle.
#[path = "../harness/mod.rs"]
pub mod harness;

pub type Sim = PageTables<X86_64, FaultInjector<SparseMemory>>;

pub const MODES: [X86_64; 2] = [X86_64::FOUR_LEVEL, X86_64::FIVE_LEVEL];

/// Page tables over sparse memory whose table frames live at 4 GiB..8 GiB.
pub fn machine(arch: X86_64) -> Sim {
    let mem = FaultInjector::new(SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32)));
    PageTables::new(arch, mem).unwrap()
}

pub fn vmalloc_start(arch: X86_64) -> VirtAddr {
    VirtAddr(arch.layout().get(RegionKind::Vmalloc).unwrap().start)
}

/// Every root agrees with the kernel and no table frame leaked.
pub fn assert_consistent(pt: &Sim) {
    assert_eq!(pt.first_out_of_sync(), None, "a root is out of sync");
    assert_eq!(
        harness::reachable_frames(pt),
        pt.mem().tables_in_use(),
        "table frames leaked or lost"
    );
}
