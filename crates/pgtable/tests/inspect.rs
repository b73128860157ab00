//! The public read-only views: `walk_range` and `top_level_entry`.

use pgtable::arch::arm64::Arm64;
use pgtable::PageSize;
use pgtable::{
    Error, Level, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr, Walked, PAGE_SIZE, X86_64,
};
use std::ops::ControlFlow;

const VA: u64 = 0xffff_c900_0000_0000;
const M2: u64 = 2 << 20;

fn mem() -> SparseMemory {
    SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32))
}

#[test]
fn walk_range_reports_tables_then_leaves_in_order() {
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
    let s = pt.create_space().unwrap();
    let (r, _) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(VA),
            PhysAddr(0x20_0000),
            2 * PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        e.vmap_range(
            VirtAddr(VA + M2),
            PhysAddr(0x40_0000),
            M2,
            Prot::KERNEL,
            PageSize::Pmd,
        )
    });
    r.unwrap();
    let mut seen = Vec::new();
    pt.walk_range(s.root(), VirtAddr(VA), 2 * M2, |w| {
        seen.push(w);
        ControlFlow::Continue(())
    })
    .unwrap();
    let levels: Vec<_> = seen
        .iter()
        .map(|w| match w {
            Walked::Table { level, .. } => ("table", *level),
            Walked::Leaf(m) => ("leaf", m.level),
        })
        .collect();
    // PUD table, PMD table, PTE table, two pages, then the 2 MiB block.
    assert_eq!(
        levels,
        [
            ("table", Level::Pud),
            ("table", Level::Pmd),
            ("table", Level::Pte),
            ("leaf", Level::Pte),
            ("leaf", Level::Pte),
            ("leaf", Level::Pmd)
        ]
    );
    let Walked::Leaf(last) = seen[5] else {
        panic!()
    };
    assert_eq!(
        (last.va, last.pa, last.size),
        (VirtAddr(VA + M2), PhysAddr(0x40_0000), M2)
    );
    // Break stops the walk at once.
    let mut n = 0;
    pt.walk_range(s.root(), VirtAddr(VA), 2 * M2, |_| {
        n += 1;
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(n, 1);
    pt.destroy_space(s).unwrap().ignore();
}

#[test]
fn walk_range_refuses_foreign_roots_and_bad_ranges() {
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
    let other = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
    let s = other.create_space().unwrap();
    let go = |_| ControlFlow::Continue(());
    // Another machine's root (it may even have the same address as ours).
    let foreign = PhysAddr(0xdead_0000);
    assert_eq!(
        pt.walk_range(foreign, VirtAddr(VA), PAGE_SIZE, go),
        Err(Error::Foreign)
    );
    let root = pt.kernel_root();
    assert_eq!(
        pt.walk_range(root, VirtAddr(VA), 0, go),
        Err(Error::EmptyRange)
    );
    assert_eq!(
        pt.walk_range(root, VirtAddr(VA + 8), PAGE_SIZE, go),
        Err(Error::Misaligned(VA + 8))
    );
    assert!(pt
        .walk_range(root, VirtAddr(0x7fff_ffff_f000), 2 * PAGE_SIZE, go)
        .is_err());
    other.destroy_space(s).unwrap().ignore();
}

#[test]
fn top_level_entry_is_what_the_sync_wrote() {
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
    let s = pt.create_space().unwrap();
    assert_eq!(pt.top_level_entry(&s, VirtAddr(VA)), Ok(0));
    let (r, _) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(VA),
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    let entry = pt.top_level_entry(&s, VirtAddr(VA)).unwrap();
    assert_ne!(entry, 0);
    let s2 = pt.create_space().unwrap();
    assert_eq!(pt.top_level_entry(&s2, VirtAddr(VA)), Ok(entry));
    assert_eq!(
        pt.top_level_entry(&s, VirtAddr(0x8000_0000_0000)),
        Err(Error::NonCanonical(VirtAddr(0x8000_0000_0000)))
    );
    let other = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
    assert_eq!(other.top_level_entry(&s, VirtAddr(VA)), Err(Error::Foreign));
    pt.destroy_space(s).unwrap().ignore();
    pt.destroy_space(s2).unwrap().ignore();
}

#[test]
fn split_roots_walk_kernel_addresses_from_the_kernel_root() {
    let arch = Arm64::VA_48;
    let pt = PageTables::new(arch, mem()).unwrap();
    let s = pt.create_space().unwrap();
    let va = VirtAddr(0xffff_8000_1000_0000);
    let (r, _) = pt.kernel().edit(|e| {
        e.vmap_range(
            va,
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    let mut leaves = 0;
    pt.walk_range(s.root(), va, PAGE_SIZE, |w| {
        leaves += usize::from(matches!(w, Walked::Leaf(_)));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(leaves, 1, "TTBR1 holds the kernel half for every space");
    // The space's own root holds no kernel entry; the MMU reads TTBR1's.
    assert_ne!(pt.top_level_entry(&s, va).unwrap(), 0);
    pt.destroy_space(s).unwrap().ignore();
}

/// Addresses print in hex in `Debug` output (a kernel's logs are read
/// against hex addresses).
#[test]
fn debug_output_prints_addresses_in_hex() {
    let region = *pgtable::KernelPolicy::layout(&X86_64::FOUR_LEVEL)
        .regions
        .first()
        .unwrap();
    let s = format!("{region:?}");
    assert!(s.contains("start: 0x") && s.contains("last: 0x"), "{s}");
    let mem = pgtable::OffsetMemory::new_host(PhysAddr(0x10_0000), 4 * PAGE_SIZE).unwrap();
    let s = format!("{mem:?}");
    assert!(s.contains("phys_start: 0x100000"), "{s}");
    let m = pgtable::Mapping {
        va: VirtAddr(0xffff_c900_0000_0000),
        pa: PhysAddr(0x20_0000),
        level: Level::Pte,
        size: PAGE_SIZE,
        prot: Prot::KERNEL,
    };
    let s = format!("{m:?}");
    assert!(
        s.contains("0xffffc90000000000") && s.contains("0x200000"),
        "{s}"
    );
}
