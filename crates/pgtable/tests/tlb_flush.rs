//! The flush obligations of unmaps: what each names, and that refused calls
//! owe none (`TlbFlush`, the shape of `flush_tlb_kernel_range()` /
//! `flush_tlb_mm_range()`).

use pgtable::PageSize;
use pgtable::{
    Error, FlushRange, FlushScope, Level, PageTables, PhysAddr, Prot, SparseMemory, TlbFlush,
    VirtAddr, PAGE_SIZE, X86_64,
};

const VA: u64 = 0xffff_c900_0000_0000;
const M2: u64 = 2 << 20;

fn machine() -> PageTables<X86_64, SparseMemory> {
    let mem = SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32));
    PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap()
}

fn taken(f: TlbFlush) -> FlushRange {
    let mut seen = Vec::new();
    f.flush(&mut |r: &FlushRange| seen.push(*r));
    assert_eq!(seen.len(), 1, "the hook runs once");
    seen[0]
}

#[test]
fn a_kernel_unmap_names_its_range_stride_and_freed_tables() {
    let pt = machine();
    let mut k = pt.kernel();
    let (r, _) = k.edit(|e| {
        e.vmap_range(
            VirtAddr(VA),
            PhysAddr(0x20_0000),
            4 * PAGE_SIZE,
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
    // Part of a PTE table: base-page stride, the table stays.
    let (f, _) = k.edit(|e| e.vunmap_range(VirtAddr(VA), PAGE_SIZE));
    let f = taken(f.unwrap());
    assert_eq!(f.scope, FlushScope::Kernel);
    assert_eq!((f.start, f.end), (VirtAddr(VA), VirtAddr(VA + PAGE_SIZE)));
    assert_eq!((f.stride, f.freed_tables), (Level::Pte, false));
    // The rest of it: the PTE table is freed, so cached paging-structure
    // entries must go.
    let (f, _) = k.edit(|e| e.vunmap_range(VirtAddr(VA + PAGE_SIZE), 3 * PAGE_SIZE));
    let f = taken(f.unwrap());
    assert_eq!((f.stride, f.freed_tables), (Level::Pte, true));
    // A 2 MiB leaf: PMD stride.
    let (f, _) = k.edit(|e| e.vunmap_range(VirtAddr(VA + M2), M2));
    let f = taken(f.unwrap());
    assert_eq!((f.start, f.end), (VirtAddr(VA + M2), VirtAddr(VA + 2 * M2)));
    assert_eq!(f.stride, Level::Pmd);
}

#[test]
fn a_refused_unmap_owes_nothing_and_changes_nothing() {
    let pt = machine();
    let mut k = pt.kernel();
    let (r, _) = k.edit(|e| {
        e.vmap_range(
            VirtAddr(VA),
            PhysAddr(0x20_0000),
            M2,
            Prot::KERNEL,
            PageSize::Pmd,
        )
    });
    r.unwrap();
    let (r, _) = k.edit(|e| e.vunmap_range(VirtAddr(VA), PAGE_SIZE));
    assert_eq!(r, Err(Error::SplitsLeaf(VirtAddr(VA))));
    assert!(k.translate(VirtAddr(VA)).is_some());
}

#[test]
fn vunmap_returns_the_flush_of_the_whole_area() {
    let pt = machine();
    let mut k = pt.kernel();
    let frames = [PhysAddr(0x1000), PhysAddr(0x5000), PhysAddr(0x9000)];
    let (va, _) = k.edit(|e| e.vmap(&frames, Prot::KERNEL));
    let va = va.unwrap();
    let (f, _) = k.edit(|e| e.vunmap(va));
    let f = taken(f.unwrap());
    assert_eq!((f.start, f.end), (va, VirtAddr(va.0 + 3 * PAGE_SIZE)));
}

#[test]
fn a_user_unmap_names_the_space_and_its_asid() {
    let pt = machine();
    let mut s = pt.create_space().unwrap();
    s.set_asid(42);
    let root = s.root();
    let mut u = pt.user(&mut s).unwrap();
    u.map_range(
        VirtAddr(0x40_0000),
        PhysAddr(0x20_0000),
        2 * PAGE_SIZE,
        Prot::USER_RW,
        PageSize::Base,
    )
    .unwrap();
    let f = taken(u.unmap(VirtAddr(0x40_0000), 2 * PAGE_SIZE).unwrap());
    assert_eq!(
        f.scope,
        FlushScope::User {
            root,
            asid: Some(42)
        }
    );
    assert_eq!((f.start, f.end), (VirtAddr(0x40_0000), VirtAddr(0x40_2000)));
    assert_eq!(
        u.unmap(VirtAddr(0x40_0000), PAGE_SIZE),
        Err(Error::NotMapped(VirtAddr(0x40_0000)))
    );
    pt.destroy_space(s).unwrap().ignore();
}
