//! The sync follows `sync_global_pgds()` (`arch/x86/mm/init_64.c`) at the
//! top level: it fills a root's empty kernel entries, never clears one (a
//! kernel entry that is empty is skipped, so a slot a space holds on
//! purpose, like the LDT remap under PTI, survives), and leaves a present
//! entry that differs alone, reporting it where Linux `BUG()`s.
//!
//! The library runs the sync once when the edit's closure returns, where
//! Linux syncs at each `pgd/p4d_populate_kernel()` call; nothing can read
//! through the kernel space in between (the `compile_fail` example of
//! `KernelSpace::edit`).

use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Arch, Error, Level, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr, PAGE_SIZE, X86_64,
};
use pgtable::{KernelPolicy, PagingGeometry};

fn machine() -> PageTables<X86_64, SparseMemory> {
    PageTables::new(
        X86_64::FOUR_LEVEL,
        SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x1000_0000)),
    )
    .unwrap()
}

fn slot_pa(pt: &PageTables<X86_64, SparseMemory>, root: PhysAddr, va: u64) -> PhysAddr {
    PhysAddr(root.0 + pt.arch().index(Level::Pgd, va) * 8)
}

#[test]
fn a_present_entry_that_differs_is_left_alone_and_reported() {
    let pt = machine();
    let s = pt.create_space().unwrap();
    let va = pt.arch().layout().get(RegionKind::Vmalloc).unwrap().start;
    // Something wrote the space's kernel slot behind the library's back.
    let bogus = 0x0bad_0000 | 0x63;
    pt.mem().write_u64(slot_pa(&pt, s.root(), va), bogus);
    let (r, report) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    assert_eq!(report.mismatches, 1, "{report:?}");
    assert_eq!(report.check(), Err(Error::SyncMismatch(1)));
    assert_eq!(
        pt.mem().read_u64(slot_pa(&pt, s.root(), va)),
        bogus,
        "not overwritten"
    );
    assert_eq!(pt.stats().mismatches, 1);
    // Undo, so the space can be torn down.
    pt.mem().write_u64(slot_pa(&pt, s.root(), va), 0);
    pt.destroy_space(s).unwrap().ignore();
}

#[test]
fn an_empty_kernel_entry_never_clears_a_spaces_own_slot() {
    let pt = machine();
    let s = pt.create_space().unwrap();
    let vm = pt.arch().layout().get(RegionKind::Vmalloc).unwrap();
    let (first, third) = (vm.start, vm.start + (2 << 39));
    let between = vm.start + (1 << 39);
    // A per-space kernel slot (as the LDT remap is under PTI).
    let own = 0x0bad_1000 | 0x63;
    pt.mem().write_u64(slot_pa(&pt, s.root(), between), own);
    // One edit whose range spans that slot, populating the slots around it.
    let (r, report) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(first),
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        e.vmap_range(
            VirtAddr(third),
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    assert!(report.synced());
    assert_eq!(report.check(), Ok(()));
    let (start, last) = report.range.unwrap();
    assert!(
        start.0 <= between && between <= last.0,
        "the range spans it"
    );
    assert_eq!(
        pt.mem().read_u64(slot_pa(&pt, s.root(), between)),
        own,
        "kept"
    );
    for va in [first, third] {
        assert!(pt.translate(s.root(), VirtAddr(va)).is_some());
    }
    pt.mem().write_u64(slot_pa(&pt, s.root(), between), 0);
    pt.destroy_space(s).unwrap().ignore();
}

/// Writes into a table that is not linked yet touch no root, so they leave
/// the edit's mask alone; linking the table records the level at which its
/// entries become visible.
#[test]
fn writes_into_an_unlinked_table_are_recorded_when_it_is_linked() {
    let pt = machine();
    let va = VirtAddr(pt.arch().layout().get(RegionKind::Vmalloc).unwrap().start);
    let (r, report) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        let pte = e.alloc_table(Level::Pte)?;
        e.set_leaf(
            Level::Pte,
            va,
            pte.entry(0).unwrap(),
            PhysAddr(0x20_0000),
            Prot::KERNEL,
        )?;
        Ok(())
    });
    r.unwrap();
    assert!(report.mask.is_empty(), "{report:?}");
    let (r, report) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        let mut p = e.pgd_offset(va);
        for l in [Level::P4d, Level::Pud] {
            p = e.alloc_track(l, p, va)?;
        }
        let pte = e.alloc_table(Level::Pte)?;
        e.set_leaf(
            Level::Pte,
            va,
            pte.entry(0).unwrap(),
            PhysAddr(0x20_0000),
            Prot::KERNEL,
        )?;
        Ok(e.pmd_populate_kernel(va, p, pte)?)
    });
    r.unwrap();
    assert!(!report.mask.contains(pgtable::SyncMask::PTE), "{report:?}");
    assert!(report.mask.contains(pgtable::SyncMask::PMD), "{report:?}");
    assert_eq!(
        pt.translate(pt.kernel_root(), va).unwrap().pa,
        PhysAddr(0x20_0000)
    );
}

/// A top-level kernel leaf (x86-32 2-level's 4 MiB page, arm32's 1 MiB
/// section) that an edit unmaps is removed from every root, not only from
/// the kernel's: otherwise older spaces keep translating memory that was
/// given back. (Linux's x86-32 `vmalloc_sync_one()` clears it likewise: it
/// copies the kernel's PMD entry whenever the present bits differ.)
#[test]
fn an_unmapped_top_level_leaf_leaves_no_root() {
    use pgtable::arch::arm32::Arm32;
    use pgtable::arch::x86_32::X86_32;
    fn check<A: Arch>(arch: A, va: u64, size: u64) {
        let mem = SparseMemory::new(PhysAddr(0x1000_0000)..PhysAddr(0x2000_0000));
        let pt = PageTables::new(arch, mem).unwrap();
        let s = pt.create_space().unwrap();
        let (r, _) = pt.kernel().edit(|e| {
            e.vmap_range(
                VirtAddr(va),
                PhysAddr(size),
                size,
                Prot::KERNEL,
                PageSize::Pmd,
            )
        });
        r.unwrap();
        assert!(pt.translate(s.root(), VirtAddr(va)).is_some());
        let (r, report) = pt.kernel().edit(|e| e.vunmap_range(VirtAddr(va), size));
        r.unwrap().ignore();
        assert!(report.synced(), "{}: {report:?}", arch.name());
        assert_eq!(pt.first_out_of_sync(), None, "{}", arch.name());
        assert!(
            pt.translate(s.root(), VirtAddr(va)).is_none(),
            "{}",
            arch.name()
        );
        // A space made afterwards never sees it either.
        let s2 = pt.create_space().unwrap();
        assert!(pt.translate(s2.root(), VirtAddr(va)).is_none());
        pt.destroy_space(s).unwrap().ignore();
        pt.destroy_space(s2).unwrap().ignore();
    }
    check(X86_32::TWO_LEVEL, 0xc040_0000, 4 << 20);
    check(Arm32::SHORT, 0xc010_0000, 1 << 20);
}
