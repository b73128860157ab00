//! riscv64 tables built by the library, walked by the independent Sv39/48/57
//! MMU (Svade, Svpbmt): every mapping translates from every space to its
//! frame with its rights; a kernel mapping in an area preallocated at boot
//! (`preallocate_pgd_pages_range()`) reaches a space created before it,
//! and so does a new top-level entry elsewhere (the fixmap here): Linux's
//! riscv has no sync and lives with that gap, the library closes it by
//! copying the new top-level entry into every root
//! ([`SyncOutcome::CopiedTopLevel`]).

use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Access as Rights, CacheMode, Level, PageTables, PhysAddr, Prot, SparseMemory, SyncOutcome,
    VirtAddr, PAGE_SIZE,
};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_mmu::riscv64::{pte, Riscv64Mmu, Scheme};
use pgtable_mmu::{Access, FaultKind, Mmu, Mode, Roots};
use pgtable_sim::Bus;

mod common;
use common::{contiguous, pages, Expect, GIB, MIB};

fn modes() -> [(Riscv64, Riscv64Mmu); 3] {
    [
        (Riscv64::SV39, Riscv64Mmu::new(Scheme::Sv39)),
        (Riscv64::SV48, Riscv64Mmu::new(Scheme::Sv48)),
        (Riscv64::SV57, Riscv64Mmu::new(Scheme::Sv57)),
    ]
}

fn page_tables(arch: Riscv64) -> PageTables<Riscv64, SparseMemory> {
    // Table frames at 2..3 GiB (riscv RAM starts at 2 GiB on QEMU virt).
    let mem = SparseMemory::new(PhysAddr(2 * GIB)..PhysAddr(3 * GIB));
    PageTables::new(arch, mem).unwrap()
}

/// The owner (U-mode for user pages, S-mode otherwise) reads every page of
/// `e` and gets its frame with the asked rights; the other mode is refused
/// (S-mode runs without SUM).
fn check_mapped(mmu: &Riscv64Mmu, bus: &Bus<'_>, root: u64, e: &Expect, what: &str) {
    let user = e.prot.access.contains(Rights::USER);
    let (owner, other) = if user {
        (Mode::User, Mode::Supervisor)
    } else {
        (Mode::Supervisor, Mode::User)
    };
    let r = Roots::single(root);
    let mut off = 0;
    while off < e.size {
        let va = e.va + off + 8;
        let x = mmu
            .translate_any(bus, &r, va, Access::Read, owner)
            .unwrap_or_else(|f| panic!("{what}: {f}"));
        assert_eq!(x.pa, e.pa + off + 8, "{what} at {va:#x}");
        assert_eq!(x.user, user, "{what}");
        assert_eq!(x.writable, e.prot.access.contains(Rights::WRITE), "{what}");
        assert_eq!(x.executable, e.prot.access.contains(Rights::EXEC), "{what}");
        assert_eq!(x.global, e.prot.access.contains(Rights::GLOBAL), "{what}");
        // A and D are preset: a store to a writable page takes no Svade
        // fault, a store to a read-only one a protection fault.
        match mmu.translate_any(bus, &r, va, Access::Write, owner) {
            Ok(_) => assert!(x.writable, "{what}"),
            Err(f) => assert_eq!(f.kind, FaultKind::Protection, "{what}: {f}"),
        }
        let f = mmu
            .translate_any(bus, &r, va, Access::Read, other)
            .expect_err("the other privilege reads the page");
        assert_eq!(f.kind, FaultKind::Protection, "{what}");
        off += if e.size > 16 * PAGE_SIZE && off == 0 {
            e.size / 2
        } else if e.size > 16 * PAGE_SIZE && off == e.size / 2 {
            e.size / 2 - PAGE_SIZE
        } else {
            PAGE_SIZE
        };
    }
}

fn check_unmapped(mmu: &Riscv64Mmu, bus: &Bus<'_>, root: u64, va: u64, mode: Mode) -> i8 {
    let f = mmu
        .translate_any(bus, &Roots::single(root), va, Access::Read, mode)
        .expect_err("unmapped address translates");
    assert_eq!(f.kind, FaultKind::NotPresent, "{va:#x}: {f}");
    f.level
}

#[test]
fn preallocated_areas_and_new_top_level_entries_reach_old_spaces() {
    for (arch, mmu) in modes() {
        let name = arch.name();
        let pt = page_tables(arch);
        let layout = arch.layout();
        let region = |k| layout.get(k).unwrap();
        let dm = region(RegionKind::DirectMap);
        let modules = region(RegionKind::Modules);
        let fixmap = region(RegionKind::Fixmap);

        // Boot preallocated the level below the root over those areas:
        // every root slot they cover is a table already.
        let t = pt.mem();
        let slot_entry =
            |root: PhysAddr, va: u64| t.read_u64(PhysAddr(root.0 + 8 * arch.index(Level::Pgd, va)));
        for kind in arch.boot_prealloc() {
            let r = region(*kind);
            for va in [r.start, r.last] {
                assert_ne!(slot_entry(pt.kernel_root(), va), 0, "{name} {kind:?}");
            }
        }
        assert_eq!(slot_entry(pt.kernel_root(), fixmap.start), 0, "{name}");

        let mut early = pt.create_space().unwrap();
        let copied = pt.stats().entries_copied;

        let mut kernel = Vec::new();
        let (mut io_va, mut wc_va, mut vm_va) = (0, 0, 0);
        {
            let mut ks = pt.kernel();
            let (_, report) = ks.edit(|edit| {
                // The direct map: asked for 1 GiB leaves. Under Sv39 the root
                // entries there are preallocated tables, so 2 MiB megapages are
                // used instead; Sv48 and Sv57 get a gigapage.
                edit.vmap_range(
                    VirtAddr(dm.start),
                    PhysAddr(8 * GIB),
                    GIB + 4 * MIB,
                    Prot::KERNEL,
                    PageSize::Pud,
                )
                .unwrap();
                kernel.push(Expect {
                    va: dm.start,
                    pa: 8 * GIB,
                    size: GIB + 4 * MIB,
                    prot: Prot::KERNEL,
                });
                edit.vmap_range(
                    VirtAddr(modules.start),
                    PhysAddr(16 * GIB),
                    2 * MIB,
                    Prot::KERNEL_ROX,
                    PageSize::Pmd,
                )
                .unwrap();
                kernel.push(Expect {
                    va: modules.start,
                    pa: 16 * GIB,
                    size: 2 * MIB,
                    prot: Prot::KERNEL_ROX,
                });
                let frames = [0x2_0000_5000, 0x80_0000_0000_1000, 0x2_0000_9000];
                let phys: Vec<PhysAddr> = frames.iter().map(|f| PhysAddr(*f)).collect();
                vm_va = edit.vmap(&phys, Prot::KERNEL_RO).unwrap().0;
                kernel.extend(pages(vm_va, &frames, Prot::KERNEL_RO));
                io_va = edit
                    .ioremap(PhysAddr(0x1000_0123), 0x2000, CacheMode::Uncached)
                    .unwrap()
                    .0;
                let uc = Prot::KERNEL.with_cache(CacheMode::Uncached);
                kernel.extend(contiguous(io_va & !0xfff, 0x1000_0000, 3, uc));
                wc_va = edit
                    .ioremap(PhysAddr(0x4000_0000), 2 * MIB, CacheMode::WriteCombining)
                    .unwrap()
                    .0;
                kernel.push(Expect {
                    va: wc_va,
                    pa: 0x4000_0000,
                    size: 2 * MIB,
                    prot: Prot::KERNEL.with_cache(CacheMode::WriteCombining),
                });
                // A fixmap slot: not preallocated, so this populates a new
                // top-level entry in the kernel root only.
                edit.vmap_range(
                    VirtAddr(fixmap.start),
                    PhysAddr(0x3000_0000),
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap();
            });
            // Only the fixmap's new top-level entry needed copying.
            assert_eq!(report.outcome, SyncOutcome::CopiedTopLevel, "{name}");
            let (start, last) = report.range.unwrap();
            assert!(
                (start.0..=last.0).contains(&fixmap.start),
                "{name}: {report:?}"
            );
        }
        // One copy, of one entry into the one older root: the fixmap's new
        // top-level entry; nothing for the preallocated areas.
        let stats = pt.stats();
        assert_eq!(stats.syncs, 1, "{name}");
        assert_eq!(stats.entries_copied, copied + 1, "{name}");

        let mut late = pt.create_space().unwrap();

        // User pages, different in each space.
        let user_a = Expect {
            va: 0x40_0000,
            pa: 0x3_0000_0000,
            size: 2 * PAGE_SIZE,
            prot: Prot::USER_RW,
        };
        let user_b = Expect {
            va: arch.user_end() - 4 * PAGE_SIZE,
            pa: 0x3_1000_0000,
            size: PAGE_SIZE,
            prot: Prot::new(Rights::USER | Rights::EXEC, CacheMode::WriteBack),
        };
        for (space, e) in [(&mut early, user_a), (&mut late, user_b)] {
            let pages: Vec<PhysAddr> = (0..e.size / PAGE_SIZE)
                .map(|i| PhysAddr(e.pa + i * PAGE_SIZE))
                .collect();
            pt.user(space)
                .unwrap()
                .map_pages(VirtAddr(e.va), &pages, e.prot)
                .unwrap();
        }

        let bus = Bus(pt.mem());
        let fix = Expect {
            va: fixmap.start,
            pa: 0x3000_0000,
            size: PAGE_SIZE,
            prot: Prot::KERNEL,
        };
        for (space, own, other) in [(&early, user_a, user_b), (&late, user_b, user_a)] {
            let root = space.root().0;
            for e in &kernel {
                check_mapped(&mmu, &bus, root, e, name);
                let m = pt.translate(space.root(), VirtAddr(e.va)).unwrap();
                assert_eq!((m.pa.0, m.prot), (e.pa & !(m.size - 1), e.prot), "{name}");
            }
            check_mapped(&mmu, &bus, root, &own, name);
            check_unmapped(&mmu, &bus, root, other.va, Mode::User);
            let vmemmap = region(RegionKind::Vmemmap).start;
            check_unmapped(&mmu, &bus, root, vmemmap, Mode::Supervisor);
        }
        check_mapped(&mmu, &bus, pt.kernel_root().0, &kernel[0], name);

        // The leaf sizes the direct map got.
        let x = mmu
            .translate_any(
                &bus,
                &Roots::single(early.root().0),
                dm.start,
                Access::Read,
                Mode::Supervisor,
            )
            .unwrap();
        let want = if arch == Riscv64::SV39 { 2 * MIB } else { GIB };
        assert_eq!(x.size, want, "{name}");

        // Linux's gap, closed: the fixmap's new top-level entry reached the
        // kernel root, the space created after it and the one created
        // before.
        for root in [pt.kernel_root(), late.root(), early.root()] {
            check_mapped(&mmu, &bus, root.0, &fix, name);
        }
        assert_eq!(pt.first_out_of_sync(), None, "{name}");

        // Memory types through Svpbmt.
        let pbmt = |va| {
            let l = mmu
                .translate(&bus, early.root().0, va, Access::Read, Mode::Supervisor)
                .unwrap();
            (l.entry & pte::PBMT) >> 61
        };
        assert_eq!(pbmt(io_va), 2, "{name}: IO");
        assert_eq!(pbmt(wc_va), 1, "{name}: NC");
        assert_eq!(pbmt(vm_va), 0, "{name}: PMA");

        // Outside the canonical range.
        let hole = arch.user_end();
        let f = mmu
            .translate_any(
                &bus,
                &Roots::single(early.root().0),
                hole,
                Access::Read,
                Mode::User,
            )
            .unwrap_err();
        assert_eq!(f.kind, FaultKind::NonCanonical, "{name}");

        pt.destroy_space(early).expect("own space").ignore();
        pt.destroy_space(late).expect("own space").ignore();
        assert_eq!(pt.reachable_tables(), pt.mem().tables_in_use(), "{name}");
    }
}

#[test]
fn the_strict_mmu_accepts_every_table_entry() {
    // With strict_nonleaf, A, D or U in a pointer would fault: the tables
    // the library links carry none of them, kernel or user.
    for (arch, mmu) in modes() {
        let mmu = Riscv64Mmu {
            strict_nonleaf: true,
            ..mmu
        };
        let pt = page_tables(arch);
        let mut s = pt.create_space().unwrap();
        pt.user(&mut s)
            .unwrap()
            .map_pages(VirtAddr(0x1000), &[PhysAddr(0x9000_0000)], Prot::USER_RO)
            .unwrap();
        let va = pt
            .kernel()
            .edit(|edit| edit.vmap(&[PhysAddr(0x9000_1000)], Prot::KERNEL))
            .0
            .unwrap()
            .0;
        let bus = Bus(pt.mem());
        let r = Roots::single(s.root().0);
        mmu.translate_any(&bus, &r, 0x1000, Access::Read, Mode::User)
            .unwrap();
        mmu.translate_any(&bus, &r, va, Access::Write, Mode::Supervisor)
            .unwrap();
        pt.destroy_space(s).expect("own space").ignore();
    }
}
