//! `VmapAreas` and caller-chosen addresses: a fixed-address `vmap_range`
//! or `vmap_pages` in the vmalloc area is reserved, so a later `vmap` or
//! `ioremap` never picks its range (Linux callers reserve it with
//! `get_vm_area()` first).

use pgtable::PageSize;
use pgtable::{PageTables, PhysAddr, Prot, SparseMemory, PAGE_SIZE, X86_64};

fn machine() -> PageTables<X86_64, SparseMemory> {
    let mem = SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32));
    PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap()
}

/// A fixed-address `vmap_range` in the vmalloc area keeps later `vmap` and
/// `ioremap` off its range until it is unmapped.
#[test]
fn fixed_mappings_in_the_vmalloc_area_are_reserved_until_unmapped() {
    let pt = machine();
    let mut k = pt.kernel();
    // The first area vmap would pick is where the vmalloc area starts.
    let (first, _) = k.edit(|e| e.vmap(&[PhysAddr(0x1000)], Prot::KERNEL));
    let first = first.unwrap();
    k.edit(|e| e.vunmap(first)).0.unwrap().ignore();
    let (r, _) = k.edit(|e| {
        e.vmap_range(
            first,
            PhysAddr(0x20_0000),
            4 * PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    let (other, _) = k.edit(|e| e.vmap(&[PhysAddr(0x1000)], Prot::KERNEL));
    let other = other.unwrap();
    assert!(
        other.0 >= first.0 + 4 * PAGE_SIZE,
        "vmap landed on a fixed mapping at {other:?}"
    );
    let (io, _) = k.edit(|e| {
        e.ioremap(
            PhysAddr(0xfee0_0000),
            PAGE_SIZE,
            pgtable::CacheMode::Uncached,
        )
    });
    assert!(io.unwrap().0 >= first.0 + 4 * PAGE_SIZE);
    // Unmapped, the range is free again.
    k.edit(|e| e.vunmap_range(first, 4 * PAGE_SIZE))
        .0
        .unwrap()
        .ignore();
    let (again, _) = k.edit(|e| e.vmap(&[PhysAddr(0x1000)], Prot::KERNEL));
    assert_eq!(again.unwrap(), first);
}
