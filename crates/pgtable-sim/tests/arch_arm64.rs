//! arm64 tables built by the library, walked by the independent arm64 MMU
//! (TTBR0 = the space's root, TTBR1 = `swapper_pg_dir`): every mapping
//! translates from every space to its frame with its rights, unmapped and
//! out-of-range addresses fault, and a kernel mapping made after a space
//! exists is visible from it with no sync and no entry copied.

use pgtable::arch::arm64::Arm64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Access as Rights, AddressSpace, CacheMode, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr,
    PAGE_SIZE,
};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_mmu::arm64::{desc, Arm64Mmu};
use pgtable_mmu::{Access, FaultKind, Mmu, Mode, Roots};
use pgtable_sim::Bus;

mod common;
use common::{contiguous, pages, Expect, GIB, MIB};

/// Every 4 KiB-granule width Linux builds, with the MMU configured for it.
fn modes() -> [(Arm64, Arm64Mmu); 3] {
    [
        (Arm64::VA_48, Arm64Mmu::new_48()),
        (Arm64::VA_39, Arm64Mmu::new_39()),
        (Arm64::VA_52, Arm64Mmu::new_52()),
    ]
}

fn page_tables(arch: Arm64) -> PageTables<Arm64, SparseMemory> {
    // Table frames at 1..2 GiB; data frames are chosen elsewhere.
    let mem = SparseMemory::new(PhysAddr(GIB)..PhysAddr(2 * GIB));
    PageTables::new(arch, mem).unwrap()
}

fn roots(pt: &PageTables<Arm64, SparseMemory>, space: &AddressSpace) -> Roots {
    Roots::split(space.root().0, pt.kernel_root().0)
}

/// The owner (EL0 for user pages, EL1 otherwise) reads every byte page of
/// `e` and gets its frame, with the rights the protection asks for; the
/// other privilege is refused.
fn check_mapped(mmu: &Arm64Mmu, bus: &Bus<'_>, r: &Roots, e: &Expect, what: &str) {
    let user = e.prot.access.contains(Rights::USER);
    let owner = if user { Mode::User } else { Mode::Supervisor };
    let mut off = 0;
    while off < e.size {
        let va = e.va + off + 8;
        let x = mmu
            .translate_any(bus, r, va, Access::Read, owner)
            .unwrap_or_else(|f| panic!("{what}: {f}"));
        assert_eq!(x.pa, e.pa + off + 8, "{what} at {va:#x}");
        assert_eq!(x.user, user, "{what}");
        assert_eq!(x.writable, e.prot.access.contains(Rights::WRITE), "{what}");
        assert_eq!(x.executable, e.prot.access.contains(Rights::EXEC), "{what}");
        assert_eq!(x.global, e.prot.access.contains(Rights::GLOBAL), "{what}");
        let write = mmu.translate_any(bus, r, va, Access::Write, owner);
        assert_eq!(write.is_ok(), x.writable, "{what}: write {write:?}");
        if !user {
            let f = mmu
                .translate_any(bus, r, va, Access::Read, Mode::User)
                .expect_err("EL0 reads a kernel page");
            assert_eq!(f.kind, FaultKind::Protection, "{what}");
        } else {
            // EL1 never executes user memory (PXN on every user page).
            let f = mmu
                .translate_any(bus, r, va, Access::Execute, Mode::Supervisor)
                .expect_err("EL1 executes a user page");
            assert_eq!(f.kind, FaultKind::Protection, "{what}");
        }
        // Blocks: probe the first, a middle and the last page only.
        off += if e.size > 16 * PAGE_SIZE && off == 0 {
            e.size / 2
        } else if e.size > 16 * PAGE_SIZE && off == e.size / 2 {
            e.size / 2 - PAGE_SIZE
        } else {
            PAGE_SIZE
        };
    }
}

fn check_unmapped(mmu: &Arm64Mmu, bus: &Bus<'_>, r: &Roots, va: u64, mode: Mode) {
    let f = mmu
        .translate_any(bus, r, va, Access::Read, mode)
        .expect_err("unmapped address translates");
    assert_eq!(f.kind, FaultKind::NotPresent, "{va:#x}: {f}");
}

#[test]
fn kernel_mappings_are_seen_from_every_space_without_a_sync() {
    for (arch, mmu) in modes() {
        let name = arch.name();
        let pt = page_tables(arch);
        let layout = arch.layout();
        let region = |k| layout.get(k).unwrap();
        let (dm, modules) = (region(RegionKind::DirectMap), region(RegionKind::Modules));

        // A space that exists before any kernel mapping.
        let mut early = pt.create_space().unwrap();
        let before = pt.stats();

        // Data frames at 8 GiB up; with LPA2 some above 2^48 too.
        let high = if arch.lpa2() { 0xf_0000_0000_0000 } else { 0 };
        let mut kernel = Vec::new();
        let (mut io_va, mut wc_va, mut vm_va, mut frames) = (0, 0, 0, [0u64; 3]);
        {
            let mut ks = pt.kernel();
            let (_, report) = ks.edit(|edit| {
                // The linear map: one 1 GiB block and 2 MiB blocks after it.
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
                // Module text: read-only, executable at EL1, a 2 MiB block.
                edit.vmap_range(
                    VirtAddr(modules.start),
                    PhysAddr(high | (16 * GIB)),
                    2 * MIB,
                    Prot::KERNEL_ROX,
                    PageSize::Pmd,
                )
                .unwrap();
                kernel.push(Expect {
                    va: modules.start,
                    pa: high | (16 * GIB),
                    size: 2 * MIB,
                    prot: Prot::KERNEL_ROX,
                });
                // vmalloc: scattered frames.
                frames = [0x2_0000_5000, high | 0x2_0000_1000, 0x2_0000_9000];
                let phys: Vec<PhysAddr> = frames.iter().map(|f| PhysAddr(*f)).collect();
                vm_va = edit.vmap(&phys, Prot::KERNEL_RO).unwrap().0;
                kernel.extend(pages(vm_va, &frames, Prot::KERNEL_RO));
                // ioremap (Device-nGnRE) of an unaligned range, and a
                // write-combining one (Normal-NC).
                io_va = edit
                    .ioremap(PhysAddr(0x9000_0123), 0x2000, CacheMode::Uncached)
                    .unwrap()
                    .0;
                let uc = Prot::KERNEL.with_cache(CacheMode::Uncached);
                kernel.extend(contiguous(io_va & !0xfff, 0x9000_0000, 3, uc));
                wc_va = edit
                    .ioremap(PhysAddr(0xa000_0000), 2 * MIB, CacheMode::WriteCombining)
                    .unwrap()
                    .0;
                kernel.push(Expect {
                    va: wc_va,
                    pa: 0xa000_0000,
                    size: 2 * MIB,
                    prot: Prot::KERNEL.with_cache(CacheMode::WriteCombining),
                });
            });
            assert!(!report.synced() && report.range.is_none(), "{name}");
        }
        // Nothing was synced or copied: TTBR1 is the same for everyone.
        let after = pt.stats();
        assert_eq!((after.syncs, after.entries_copied), (0, 0), "{name}");
        assert_eq!(before, after, "{name}");

        let mut late = pt.create_space().unwrap();
        assert_eq!(
            pt.stats().entries_copied,
            0,
            "{name}: pgd_alloc copies nothing"
        );

        // User pages, different in each space.
        let user_a = Expect {
            va: 0x40_0000,
            pa: 0x3_0000_0000,
            size: 2 * PAGE_SIZE,
            prot: Prot::USER_RW,
        };
        let user_b = Expect {
            va: arch.user_end() - 4 * PAGE_SIZE,
            pa: high | 0x3_1000_0000,
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
        for (space, own, other) in [(&early, user_a, user_b), (&late, user_b, user_a)] {
            let r = roots(&pt, space);
            for e in &kernel {
                check_mapped(&mmu, &bus, &r, e, name);
                // The library reads the same thing through the same roots.
                let m = pt.translate(space.root(), VirtAddr(e.va)).unwrap();
                assert_eq!((m.pa.0, m.prot), (e.pa & !(m.size - 1), e.prot), "{name}");
            }
            check_mapped(&mmu, &bus, &r, &own, name);
            check_unmapped(&mmu, &bus, &r, other.va, Mode::User);
            // The kernel half ends where the mappings end.
            let vmemmap = region(RegionKind::Vmemmap).start;
            check_unmapped(&mmu, &bus, &r, vmemmap, Mode::Supervisor);
            check_unmapped(&mmu, &bus, &r, dm.start + GIB + 4 * MIB, Mode::Supervisor);
            // Outside both TTBR ranges.
            let hole = arch.user_end();
            assert!(!arch.is_canonical(VirtAddr(hole)));
            check_unmapped(&mmu, &bus, &r, hole, Mode::User);
            check_unmapped(&mmu, &bus, &r, arch.kernel_start() - 1, Mode::Supervisor);
        }

        // Memory types reach the descriptors as Linux's MAIR indexes them.
        let r = roots(&pt, &early);
        let attr = |va| {
            let l = mmu
                .translate_opt(
                    &bus,
                    Some(r.user),
                    r.kernel,
                    va,
                    Access::Read,
                    Mode::Supervisor,
                )
                .unwrap();
            desc::attr_index(l.entry)
        };
        assert_eq!(attr(io_va), 4, "{name}: MT_DEVICE_nGnRE");
        assert_eq!(attr(wc_va), 2, "{name}: MT_NORMAL_NC");
        assert_eq!(attr(vm_va), 0, "{name}: MT_NORMAL");

        // The user roots hold only user entries: with 48 bits the linear
        // map and the user page at 4 MiB both use slot 0, each in its own
        // root.
        let entries = arch.table_bytes(pgtable::Level::Pgd) / 8;
        for space in [&early, &late] {
            let used: Vec<u64> = (0..entries)
                .filter(|i| pt.mem().read_u64(PhysAddr(space.root().0 + 8 * i)) != 0)
                .collect();
            assert_eq!(used.len(), 1, "{name}: {used:?}");
            let slot = used[0];
            let kernel_entry = pt.mem().read_u64(PhysAddr(pt.kernel_root().0 + 8 * slot));
            let user_entry = pt.mem().read_u64(PhysAddr(space.root().0 + 8 * slot));
            assert_ne!(kernel_entry, user_entry, "{name}");
        }
        if arch == Arm64::VA_48 {
            assert_eq!(arch.index(pgtable::Level::Pgd, dm.start), 0);
            assert_eq!(arch.index(pgtable::Level::Pgd, user_a.va), 0);
        }

        // Enumerating the upper half through a space lists the kernel's
        // leaves only.
        let mut leaves = 0;
        mmu.for_each_leaf(&bus, &r, arch.kernel_start(), 0, &mut |l| {
            assert!(l.va >= arch.kernel_start(), "{name}: {:#x}", l.va);
            leaves += 1;
        })
        .unwrap();
        // 1 GiB + 2 x 2 MiB, 2 MiB of modules, 3 vmalloc pages, 3 ioremap
        // pages, one 2 MiB write-combining block.
        assert_eq!(leaves, 3 + 1 + 3 + 3 + 1, "{name}");

        pt.destroy_space(early).expect("own space").ignore();
        pt.destroy_space(late).expect("own space").ignore();
        assert_eq!(pt.reachable_tables(), pt.mem().tables_in_use(), "{name}");
    }
}

#[test]
fn a_kernel_unmap_is_gone_from_every_space_at_once() {
    for (arch, mmu) in modes() {
        let pt = page_tables(arch);
        let spaces: Vec<AddressSpace> = (0..3).map(|_| pt.create_space().unwrap()).collect();
        let va = pt
            .kernel()
            .edit(|edit| edit.vmap(&[PhysAddr(0x7000_0000)], Prot::KERNEL))
            .0
            .unwrap()
            .0;
        let bus = Bus(pt.mem());
        for s in &spaces {
            mmu.translate_any(&bus, &roots(&pt, s), va, Access::Write, Mode::Supervisor)
                .unwrap();
        }
        {
            let mut ks = pt.kernel();
            let _ = ks.edit(|edit| {
                edit.vunmap(VirtAddr(va)).unwrap().ignore();
            });
        }
        for s in &spaces {
            check_unmapped(&mmu, &bus, &roots(&pt, s), va, Mode::Supervisor);
        }
        assert_eq!(pt.stats().syncs, 0);
        assert_eq!(pt.first_out_of_sync(), None);
        for s in spaces {
            pt.destroy_space(s).expect("own space").ignore();
        }
    }
}
