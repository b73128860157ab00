//! Regression tests for the ways safe code could break the library's
//! guarantees (skip a sync, reach another machine's tables, link a frame
//! that is not a table, damage user spaces with a kernel-only call, build
//! an impossible paging mode, miscount under concurrency, leave a space
//! behind on an architecture that never syncs). Each test is written with
//! the public API only, no `unsafe`, and checks the tables with its own
//! reads (`TableMemory::read_u64`), not with the library's walks.

use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Error, Level, PageTables, PhysAddr, Prot, SparseMemory, SyncOutcome, TlbFlush, VirtAddr,
    PAGE_SIZE, X86_64,
};
use pgtable::{KernelPolicy, PagingGeometry};

type Pt = PageTables<X86_64, SparseMemory>;

fn machine() -> Pt {
    PageTables::new(
        X86_64::FOUR_LEVEL,
        SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x1000_0000)),
    )
    .unwrap()
}

/// The first vmalloc address of the 4-level layout.
fn vmalloc(pt: &Pt) -> u64 {
    pt.arch().layout().get(RegionKind::Vmalloc).unwrap().start
}

/// The top-level slot of `va` in `root`, read directly.
fn slot(pt: &Pt, root: PhysAddr, va: u64) -> u64 {
    let i = pt.arch().index(Level::Pgd, va);
    pt.mem().read_u64(PhysAddr(root.0 + i * 8))
}

/// Every table frame reachable from `roots`, walked with raw reads: the
/// leak check's independent count.
fn frames_reachable(pt: &Pt, roots: &[PhysAddr]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    fn walk(pt: &Pt, table: u64, depth: u32, seen: &mut std::collections::BTreeSet<u64>) {
        if !seen.insert(table) || depth == 0 {
            return;
        }
        for i in 0..512 {
            let e = pt.mem().read_u64(PhysAddr(table + i * 8));
            // Present, not a huge leaf (PS) below the top.
            if depth > 1 && e & 1 != 0 && (depth == 4 || e & 0x80 == 0) {
                walk(pt, e & 0x000f_ffff_ffff_f000, depth - 1, seen);
            }
        }
    }
    for r in roots {
        walk(pt, r.0, 4, &mut seen);
    }
    seen.len()
}

fn all_roots(pt: &Pt) -> Vec<PhysAddr> {
    let mut r = pt.roots();
    r.push(pt.kernel_root());
    r
}

/// Break 1: `mem::forget` cannot skip the sync: the edit is lent to a closure,
/// never handed out, and a panic inside the closure still syncs.
#[test]
fn the_sync_cannot_be_skipped() {
    let pt = machine();
    let other = pt.create_space().unwrap();
    let va = vmalloc(&pt);
    let (_, report) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap();
        // All safe code can forget here is a reference.
        #[allow(forgetting_references)]
        std::mem::forget(e);
    });
    assert!(report.synced(), "{report:?}");
    assert_ne!(slot(&pt, other.root(), va), 0);
    assert_eq!(pt.first_out_of_sync(), None);

    let va2 = va + (1 << 39);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pt.kernel().edit(|e| {
            e.vmap_range(
                VirtAddr(va2),
                PhysAddr(0x20_0000),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
            .unwrap();
            panic!("the caller's code fails half-way");
        })
    }));
    assert!(unwound.is_err());
    assert_ne!(slot(&pt, other.root(), va2), 0, "synced while unwinding");
    assert_eq!(pt.first_out_of_sync(), None);
    pt.destroy_space(other).unwrap().ignore();
}

/// Break 2: A space of another `PageTables` is refused, even when its root has
/// the same address as one of ours (both machines over the same range).
#[test]
fn another_machines_space_is_refused() {
    let pt1 = machine();
    let pt2 = machine();
    let mut mine = pt1.create_space().unwrap();
    let mut theirs = pt2.create_space().unwrap();
    assert_eq!(mine.root(), theirs.root(), "same memory, same roots");
    pt1.user(&mut mine)
        .unwrap()
        .map_range(
            VirtAddr(0x40_0000),
            PhysAddr(0x100_0000),
            PAGE_SIZE,
            Prot::USER_RW,
            PageSize::Base,
        )
        .unwrap();
    let tables = pt1.mem().tables_in_use();

    assert_eq!(pt1.user(&mut theirs).err(), Some(Error::Foreign));
    let refused = pt1.destroy_space(theirs).unwrap_err();
    assert_eq!(refused.error, Error::Foreign);
    assert_eq!(pt1.mem().tables_in_use(), tables, "nothing freed");
    // Ours still works and still has its mapping.
    assert!(pt1.translate(mine.root(), VirtAddr(0x40_0000)).is_some());
    assert_eq!(pt1.space_count(), 1);
    pt2.destroy_space(refused.value).unwrap().ignore();
    pt1.destroy_space(mine).unwrap().ignore();
}

/// Break 3: Raw populate takes only this machine's unlinked table handles, each
/// linked once; unmap frees only what was linked once; an unlinked handle
/// dropped frees its table; shared tables are never written or freed.
#[test]
fn raw_populate_takes_only_owned_unlinked_tables() {
    let pt = machine();
    let other = machine();
    let base = vmalloc(&pt) + (3 << 39);
    let tables = pt.mem().tables_in_use();

    // A dropped handle gives its frame back.
    let (h, _) = pt.kernel().edit(|e| e.alloc_table(Level::Pte));
    assert_eq!(pt.mem().tables_in_use(), tables + 1);
    drop(h);
    assert_eq!(pt.mem().tables_in_use(), tables);

    let (r, _) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        // Walk down to a PMD entry of `base`.
        let mut p = e.pgd_offset(VirtAddr(base));
        for level in [Level::P4d, Level::Pud] {
            p = e.alloc_track(level, p, VirtAddr(base))?;
        }
        let pmd_a = p;
        // Another machine's table is refused and freed by its own machine.
        let foreign = other.kernel().edit(|o| o.alloc_table(Level::Pte)).0?;
        let r = e.pmd_populate_kernel(VirtAddr(base), pmd_a, foreign);
        assert_eq!(r.as_ref().err().map(|r| r.error), Some(Error::Foreign));
        // A table of the wrong level is refused.
        let pmd_table = e.alloc_table(Level::Pmd)?;
        let r = e.pmd_populate_kernel(VirtAddr(base), pmd_a, pmd_table);
        assert!(matches!(
            r.as_ref().err().map(|r| r.error),
            Some(Error::WrongLevel { .. })
        ));
        drop(r);
        // The right one is linked, and the handle is gone with it.
        let pte = e.alloc_table(Level::Pte)?;
        e.pmd_populate_kernel(VirtAddr(base), pmd_a, pte)?;
        e.vmap_range(
            VirtAddr(base),
            PhysAddr(0x30_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        Ok(())
    });
    r.unwrap();
    assert_eq!(
        other.mem().tables_in_use(),
        1,
        "the foreign handle went home"
    );

    // Unmapping frees the PTE table it linked, once; the independent walk
    // and the allocator agree afterwards.
    pt.kernel()
        .edit(|e| e.vunmap_range(VirtAddr(base), PAGE_SIZE))
        .0
        .unwrap()
        .ignore();
    let space = pt.create_space().unwrap();
    assert_eq!(
        pt.mem().tables_in_use(),
        frames_reachable(&pt, &all_roots(&pt))
    );
    pt.destroy_space(space).unwrap().ignore();

    // A shared table: linked under two entries, never written through,
    // never freed by an unmap.
    let b2 = base + (1 << 30);
    let (r, _) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        let pte = e.alloc_table(Level::Pte)?;
        e.set_leaf(
            Level::Pte,
            VirtAddr(b2),
            pte.entry(0).unwrap(),
            PhysAddr(0x40_0000),
            Prot::KERNEL_RO,
        )?;
        let shared = e.share(pte)?;
        for va in [b2, b2 + (2 << 20)] {
            let mut p = e.pgd_offset(VirtAddr(va));
            for level in [Level::P4d, Level::Pud] {
                p = e.alloc_track(level, p, VirtAddr(va))?;
            }
            e.populate_shared(Level::Pmd, VirtAddr(va), p, shared)?;
            // Below it, nothing is written: not by a walk, not by the raw
            // helpers with an entry of the shared table.
            assert_eq!(
                e.alloc_track(Level::Pmd, p, VirtAddr(va)).err(),
                Some(Error::SharedTable(VirtAddr(va)))
            );
            let inside = pgtable::EntryPtr(PhysAddr(shared.frame().0 + 8));
            assert_eq!(
                e.set_leaf(
                    Level::Pte,
                    VirtAddr(va + PAGE_SIZE),
                    inside,
                    PhysAddr(0x50_0000),
                    Prot::KERNEL
                ),
                Err(Error::SharedTable(VirtAddr(va + PAGE_SIZE)))
            );
            assert_eq!(
                e.vmap_range(
                    VirtAddr(va + PAGE_SIZE),
                    PhysAddr(0x50_0000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base
                ),
                Err(Error::SharedTable(VirtAddr(va + PAGE_SIZE)))
            );
        }
        let _ = shared;
        Ok(())
    });
    r.unwrap();
    let before = pt.mem().tables_in_use();
    assert_eq!(
        pt.kernel()
            .edit(|e| e.vunmap_range(VirtAddr(b2), PAGE_SIZE))
            .0,
        Err(Error::SharedTable(VirtAddr(b2)))
    );
    assert_eq!(pt.mem().tables_in_use(), before);
    assert!(pt
        .translate(pt.kernel_root(), VirtAddr(b2 + (2 << 20)))
        .is_some());
}

/// Break 3b: The sequence that once made a kernel page user-accessible and W+X:
/// one table linked under two PMD entries, freed by an unmap of the first,
/// reused as a user root. It can no longer be written: the handle is
/// consumed by the first link, so a second link needs a second table, and
/// no kernel address ends up user-accessible.
#[test]
fn no_kernel_page_becomes_user_accessible_through_a_reused_table() {
    let pt = machine();
    let base = vmalloc(&pt) + (5 << 39);
    let (r, _) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        for va in [base, base + (2 << 20)] {
            let mut p = e.pgd_offset(VirtAddr(va));
            for level in [Level::P4d, Level::Pud] {
                p = e.alloc_track(level, p, VirtAddr(va))?;
            }
            let pte = e.alloc_table(Level::Pte)?;
            e.pmd_populate_kernel(VirtAddr(va), p, pte)?;
            e.vmap_range(
                VirtAddr(va),
                PhysAddr(0x30_0000),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )?;
        }
        e.vunmap_range(VirtAddr(base), PAGE_SIZE)
            .map(TlbFlush::ignore)
    });
    r.unwrap();
    let mut s = pt.create_space().unwrap();
    pt.user(&mut s)
        .unwrap()
        .map_range(
            VirtAddr(0x40_0000),
            PhysAddr(0x60_0000),
            PAGE_SIZE,
            Prot::USER_RW,
            PageSize::Base,
        )
        .unwrap();
    let m = pt.translate(s.root(), VirtAddr(base + (2 << 20))).unwrap();
    assert!(!m.prot.access.contains(pgtable::Access::USER), "{m:?}");
    assert_eq!(
        pt.mem().tables_in_use(),
        frames_reachable(&pt, &all_roots(&pt))
    );
    pt.destroy_space(s).unwrap().ignore();
}

/// Break 4: `sync_global_pgds` over the user half is refused: it would copy the
/// kernel root's empty user slots over every space's own.
#[test]
fn sync_global_pgds_stays_in_the_kernel_half() {
    let pt = machine();
    let mut s = pt.create_space().unwrap();
    pt.user(&mut s)
        .unwrap()
        .map_range(
            VirtAddr(0x40_0000),
            PhysAddr(0x100_0000),
            PAGE_SIZE,
            Prot::USER_RW,
            PageSize::Base,
        )
        .unwrap();
    let before = slot(&pt, s.root(), 0x40_0000);
    assert_ne!(before, 0);
    for (start, last) in [(0, 0x7fff_ffff_f000), (0x40_0000, 0x40_0000), (0, u64::MAX)] {
        let r = pt
            .kernel()
            .sync_global_pgds(VirtAddr(start), VirtAddr(last));
        assert!(r.is_err(), "{start:#x}..={last:#x}: {r:?}");
    }
    let k = vmalloc(&pt);
    assert_eq!(
        pt.kernel()
            .sync_global_pgds(VirtAddr(k + PAGE_SIZE), VirtAddr(k)),
        Err(Error::EmptyRange)
    );
    assert_eq!(slot(&pt, s.root(), 0x40_0000), before, "user slot intact");
    assert!(pt.translate(s.root(), VirtAddr(0x40_0000)).is_some());
    pt.destroy_space(s).unwrap().ignore();
}

/// Break 6: Paging-mode constructors refuse what the library cannot build.
#[test]
fn arm64_widths_outside_what_a_4k_granule_translates_are_refused() {
    for bits in [0, 8, 12, 30, 53, 56, 64, u32::MAX] {
        assert!(
            matches!(Arm64::new(bits), Err(Error::UnsupportedMode(_))),
            "{bits}"
        );
    }
    for bits in Arm64::MIN_VA_BITS..=Arm64::MAX_VA_BITS {
        let arch = Arm64::new(bits).unwrap();
        assert_eq!(arch.va_bits(), bits);
        let pt = PageTables::new(
            arch,
            SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x100_0000)),
        )
        .unwrap();
        let s = pt.create_space().unwrap();
        pt.destroy_space(s).unwrap().ignore();
    }
    assert_eq!(Arm64::new(48).unwrap(), Arm64::VA_48);
}

/// Break 7: `preallocate` counts the tables it made, not a difference of the
/// memory's global count that other threads change meanwhile.
#[test]
fn preallocate_counts_its_own_tables_under_concurrency() {
    for _ in 0..20 {
        let pt = machine();
        let start = vmalloc(&pt);
        let last = start + (64 << 39) - 1;
        let empty_before = (0..64u64)
            .filter(|i| slot(&pt, pt.kernel_root(), start + (i << 39)) == 0)
            .count();
        let n = std::thread::scope(|sc| {
            let churn = sc.spawn(|| {
                for i in 0..200u64 {
                    let mut s = pt.create_space().unwrap();
                    pt.user(&mut s)
                        .unwrap()
                        .map_range(
                            VirtAddr(0x40_0000 + (i % 8) * (1 << 39)),
                            PhysAddr(0x100_0000),
                            PAGE_SIZE,
                            Prot::USER_RW,
                            PageSize::Base,
                        )
                        .unwrap();
                    pt.destroy_space(s).unwrap().ignore();
                }
            });
            let n = pt
                .kernel()
                .edit(|e| e.preallocate(VirtAddr(start), VirtAddr(last)))
                .0
                .unwrap();
            churn.join().unwrap();
            n
        });
        assert_eq!(n, empty_before);
    }
}

/// Break 8: An architecture that never syncs because it preallocates (riscv64)
/// does not silently leave a space behind when an edit fills a new
/// top-level entry outside the preallocated areas: the entry is copied
/// into every root, and the report says so.
#[test]
fn preallocating_architectures_do_not_leave_spaces_behind() {
    for arch in [Riscv64::SV39, Riscv64::SV48, Riscv64::SV57] {
        let pt = PageTables::new(
            arch,
            SparseMemory::new(PhysAddr(0x8000_0000)..PhysAddr(0x9000_0000)),
        )
        .unwrap();
        let early = pt.create_space().unwrap();
        let fix = arch.layout().get(RegionKind::Fixmap).unwrap().start;
        let i = arch.index(Level::Pgd, fix) * 8;
        let read = |root: PhysAddr| pt.mem().read_u64(PhysAddr(root.0 + i));
        assert_eq!(read(pt.kernel_root()), 0, "not preallocated");
        let (r, report) = pt.kernel().edit(|e| {
            e.vmap_range(
                VirtAddr(fix),
                PhysAddr(0x8800_0000),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
        });
        r.unwrap();
        assert_eq!(report.outcome, SyncOutcome::CopiedTopLevel, "{report:?}");
        assert_ne!(read(pt.kernel_root()), 0);
        assert_eq!(
            read(early.root()),
            read(pt.kernel_root()),
            "the early space has it"
        );
        // Inside a preallocated area nothing at the top changes.
        let vm = arch.layout().get(RegionKind::Vmalloc).unwrap().start;
        let (r, report) = pt.kernel().edit(|e| {
            e.vmap_range(
                VirtAddr(vm),
                PhysAddr(0x8800_0000),
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
        });
        r.unwrap();
        assert_eq!(report.outcome, SyncOutcome::NotNeeded, "{report:?}");
        pt.destroy_space(early).unwrap().ignore();
    }
}

/// The read-only walk helpers take any level: `offset(Level::Pgd, ..)` has no
/// level above it and answers `None` instead of indexing before the first
/// level (a panic found while writing these tests).
#[test]
fn offset_of_the_top_level_is_none_not_a_panic() {
    let pt = machine();
    let va = VirtAddr(vmalloc(&pt));
    let (r, _) = pt.kernel().edit(|e| {
        let p = e.pgd_offset(va);
        pgtable::Level::ALL.map(|l| e.offset(l, p, va).is_some())
    });
    assert!(!r[0], "offset(Pgd) is None");
    let mut s = pt.create_space().unwrap();
    {
        let u = pt.user(&mut s).unwrap();
        let p = u.pgd_offset(VirtAddr(0x1000)).unwrap();
        assert_eq!(u.offset(Level::Pgd, p, VirtAddr(0x1000)), None);
    }
    pt.destroy_space(s).unwrap().ignore();
}

/// Page-table isolation shares only kernel slots with the user-mode roots:
/// an entry area in the user half, empty or non-canonical is refused.
#[test]
fn pti_entry_area_must_be_a_kernel_range() {
    let ks = X86_64::FOUR_LEVEL.kernel_start();
    for (start, end) in [
        (0x1000, 0x2000),
        (ks + 0x1000, ks + 0x1000),
        (ks + 0x2000, ks + 0x1000),
        (0x7fff_ffff_f000, ks + 0x1000),
        (0x8000_0000_0000, 0x8000_0000_1000),
    ] {
        let r = machine().with_pti(VirtAddr(start)..VirtAddr(end));
        assert!(r.is_err(), "{start:#x}..{end:#x}");
    }
    let cea = 0xffff_fe00_0000_0000;
    assert!(machine()
        .with_pti(VirtAddr(cea)..VirtAddr(cea + (1 << 30)))
        .is_ok());
}

/// With split roots (arm64), the kernel's own context has an empty user
/// half (Linux loads `reserved_pg_dir` into TTBR0 for init_mm): a user
/// address translated through the kernel root is unmapped, even where the
/// same index bits select a populated kernel entry (the real MMU, `AT S1E1R`
/// under QEMU, showed the library walking `swapper_pg_dir` for it).
#[test]
fn split_roots_give_the_kernel_context_no_user_half() {
    for arch in [Arm64::VA_39, Arm64::VA_48] {
        let pt = PageTables::new(
            arch,
            SparseMemory::new(PhysAddr(0x4000_0000)..PhysAddr(0x5000_0000)),
        )
        .unwrap();
        let vm = arch.layout().get(RegionKind::Vmalloc).unwrap().start;
        pt.kernel()
            .edit(|e| {
                e.vmap_range(
                    VirtAddr(vm),
                    PhysAddr(0x4800_0000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                )
            })
            .0
            .unwrap();
        assert!(pt.translate(pt.kernel_root(), VirtAddr(vm)).is_some());
        // The user address with the same low bits.
        let low = vm & ((1u64 << arch.va_bits()) - 1);
        assert!(low < arch.user_end());
        assert_eq!(
            pt.translate(pt.kernel_root(), VirtAddr(low)),
            None,
            "{}",
            arch.name()
        );
        let s = pt.create_space().unwrap();
        assert_eq!(pt.translate(s.root(), VirtAddr(low)), None);
        assert!(
            pt.translate(s.root(), VirtAddr(vm)).is_some(),
            "TTBR1 from every space"
        );
        pt.destroy_space(s).unwrap().ignore();
    }
}

/// The vmalloc area can be placed where memory KASLR put `vmalloc_base`;
/// `vmap` then allocates there, and a range outside the kernel half or
/// empty is refused.
#[test]
fn the_vmalloc_area_follows_kaslr() {
    let default = machine();
    let vm = default.arch().layout().get(RegionKind::Vmalloc).unwrap();
    let moved = vm.start + (448 << 30);
    let pt = machine()
        .with_vmalloc_area(VirtAddr(moved)..VirtAddr(moved + (1 << 40)))
        .unwrap();
    let (va, _) = pt
        .kernel()
        .edit(|e| e.vmap(&[PhysAddr(0x20_0000)], Prot::KERNEL));
    assert_eq!(va.unwrap(), VirtAddr(moved));
    for (s, e) in [
        (0x1000, 0x2000),
        (moved, moved),
        (moved + 8, moved + 0x2000),
    ] {
        assert!(machine()
            .with_vmalloc_area(VirtAddr(s)..VirtAddr(e))
            .is_err());
    }
}

/// An entry of an unlinked table is written only as an entry of that
/// table's own level (found by review: a PTE written into an unlinked PMD
/// table was later read as a table pointer, and dropping the handle freed
/// the kernel root; a PMD entry written into a PTE table mapped a table
/// frame W+X; a table linked into itself vanished).
#[test]
fn unlinked_tables_take_entries_of_their_own_level_only() {
    let pt = machine();
    let kroot = pt.kernel_root();
    let va = VirtAddr(vmalloc(&pt));
    let start = pt.mem().tables_in_use();
    let (r, _) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        let pmd = e.alloc_table(Level::Pmd)?;
        let pte = e.alloc_table(Level::Pte)?;
        // A leaf of the PTE level into the PMD table.
        assert_eq!(
            e.set_leaf(
                Level::Pte,
                va,
                pmd.entry(0).unwrap(),
                kroot,
                Prot::KERNEL_RO
            ),
            Err(Error::ForeignEntry(va))
        );
        // A PMD entry into the PTE table.
        let other = e.alloc_table(Level::Pte)?;
        let r = e.pmd_populate_kernel(va, pte.entry(0).unwrap(), other);
        assert_eq!(
            r.as_ref().err().map(|r| r.error),
            Some(Error::ForeignEntry(va))
        );
        drop(r);
        assert_eq!(
            e.alloc_track(Level::Pmd, pte.entry(0).unwrap(), va).err(),
            Some(Error::ForeignEntry(va))
        );
        // A table into itself.
        let ent = pmd.entry(0).unwrap();
        let r = e.pud_populate(va, ent, pmd);
        assert_eq!(
            r.as_ref().err().map(|r| r.error),
            Some(Error::ForeignEntry(va))
        );
        drop(r);
        // Its own level is fine.
        e.set_leaf(
            Level::Pte,
            va,
            pte.entry(0).unwrap(),
            PhysAddr(0x20_0000),
            Prot::KERNEL_RO,
        )?;
        drop(pte);
        Ok(())
    });
    r.unwrap();
    assert_eq!(
        pt.mem().tables_in_use(),
        start,
        "every handle freed, nothing more"
    );
    // The kernel root is still the kernel's: a new space gets another frame.
    let s = pt.create_space().unwrap();
    assert_ne!(s.root(), kroot);
    assert_eq!(
        pt.mem().tables_in_use(),
        frames_reachable(&pt, &all_roots(&pt))
    );
    pt.destroy_space(s).unwrap().ignore();
}

/// A 32-bit entry format cannot point above 4 GiB: table memory there is
/// refused instead of having its addresses cut (found by review: x86-32 and
/// arm wrote entries into the frame the truncated address named).
#[test]
fn tables_an_entry_cannot_address_are_refused() {
    use pgtable::arch::{arm32::Arm32, x86_32::X86_32};
    let high = || SparseMemory::new(PhysAddr(0x1_0000_0000)..PhysAddr(0x1_0100_0000));
    assert!(matches!(
        PageTables::new(X86_32::TWO_LEVEL, high()).err(),
        Some(Error::PhysTooLarge(_))
    ));
    assert!(matches!(
        PageTables::new(Arm32::SHORT, high()).err(),
        Some(Error::PhysTooLarge(_))
    ));
}
