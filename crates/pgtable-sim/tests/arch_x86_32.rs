//! x86-32 page tables, 2-level and PAE (shared and per-space kernel PMD,
//! with and without HIGHPTE), built by the library and walked by the
//! independent x86-32 MMU of `pgtable-mmu` (SDM vol. 3A 4.3, 4.4): every
//! mapped page translates to its frame with its rights from the kernel root
//! and from every address space, unmapped addresses fault, kernel changes
//! made after a space was created reach it, and nothing leaks.

use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    AddressSpace, CacheMode, Decoded, Level, PageTables, PhysAddr, Prot, SparseMemory, SyncMask,
    VirtAddr, PAGE_SIZE,
};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};
use pgtable_mmu::x86_32::X86_32Mmu;
use pgtable_mmu::{Access, FaultKind, Mmu, Mode, PhysBus, Roots};
use pgtable_sim::Bus;
use std::collections::HashSet;

/// Where table frames come from: lowmem, below 4 GiB so a 2-level PDE and
/// a PAE CR3 (bits 31:5) can hold them.
const TABLES: std::ops::Range<u64> = 0x0100_0000..0x0200_0000;
/// High memory (above the ~884 MiB of lowmem) for HIGHPTE user PTE tables.
const HIGH_TABLES: std::ops::Range<u64> = 0x3800_0000..0x3880_0000;

type Pt = PageTables<X86_32, SparseMemory>;

/// Every mode, each also with HIGHPTE.
fn modes() -> Vec<X86_32> {
    [X86_32::TWO_LEVEL, X86_32::PAE, X86_32::PAE_UNSHARED_PMD]
        .into_iter()
        .flat_map(|a| [a, a.with_highpte()])
        .collect()
}

/// The MMU as Linux runs the mode: CR4.PSE, PGE and CR0.WP; with PAE also
/// EFER.NXE, and a MAXPHYADDR as wide as the library's `phys_bits`.
fn mmu(a: &X86_32) -> X86_32Mmu {
    if a.pae {
        X86_32Mmu {
            maxphyaddr: a.phys_bits() as u8,
            ..X86_32Mmu::new_pae()
        }
    } else {
        X86_32Mmu::new_32bit()
    }
}

fn new_pt(a: X86_32) -> Pt {
    let mut mem = SparseMemory::new(PhysAddr(TABLES.start)..PhysAddr(TABLES.end));
    if a.highpte {
        mem = mem.with_high_tables(PhysAddr(HIGH_TABLES.start)..PhysAddr(HIGH_TABLES.end));
    }
    PageTables::new(a, mem).expect("page tables")
}

/// One mapped page as the MMU must see it.
#[derive(Clone, Copy, Debug)]
struct Page {
    va: u64,
    pa: u64,
    /// Size of the leaf holding it.
    size: u64,
    writable: bool,
    user: bool,
    exec: bool,
}

impl Page {
    fn kernel(a: &X86_32, va: u64, pa: u64, size: u64, prot: Prot) -> Page {
        Page {
            va,
            pa,
            size,
            writable: prot.access.contains(pgtable::Access::WRITE),
            user: false,
            // 32-bit paging has no NX: everything is executable.
            exec: !a.pae || prot.access.contains(pgtable::Access::EXEC),
        }
    }
}

/// Check `page` through `root`: the translation, the rights, and that the
/// other privilege and forbidden accesses fault.
fn check(mmu: &X86_32Mmu, pt: &Pt, root: PhysAddr, page: &Page) {
    let bus = Bus(pt.mem());
    let roots = Roots::single(root.0);
    let mode = if page.user {
        Mode::User
    } else {
        Mode::Supervisor
    };
    let x = mmu
        .translate_any(&bus, &roots, page.va + 0x18, Access::Read, mode)
        .unwrap_or_else(|f| panic!("{page:x?} from root {root:?}: {f}"));
    assert_eq!(x.pa, page.pa + 0x18, "{page:x?}");
    assert_eq!(x.size, page.size, "{page:x?}");
    assert_eq!(
        (x.writable, x.user, x.executable, x.global),
        (page.writable, page.user, page.exec, !page.user),
        "{page:x?}"
    );
    let w = mmu.translate_any(&bus, &roots, page.va, Access::Write, mode);
    assert_eq!(w.is_ok(), page.writable, "{page:x?}: {w:?}");
    if !page.writable {
        assert_eq!(w.unwrap_err().kind, FaultKind::Protection);
    }
    let x = mmu.translate_any(&bus, &roots, page.va, Access::Execute, mode);
    assert_eq!(x.is_ok(), page.exec, "{page:x?}: {x:?}");
    if !page.user {
        let f = mmu
            .translate_any(&bus, &roots, page.va, Access::Read, Mode::User)
            .expect_err("kernel pages are supervisor-only");
        assert_eq!(f.kind, FaultKind::Protection);
    }
}

fn faults(mmu: &X86_32Mmu, pt: &Pt, root: PhysAddr, va: u64, mode: Mode) {
    let bus = Bus(pt.mem());
    let f = mmu
        .translate_any(&bus, &Roots::single(root.0), va, Access::Read, mode)
        .expect_err("unmapped");
    assert_eq!(f.kind, FaultKind::NotPresent, "{va:#x} from {root:?}: {f}");
}

/// The four PDPTEs of a PAE root.
fn pdptes(pt: &Pt, root: PhysAddr) -> [u64; 4] {
    let bus = Bus(pt.mem());
    core::array::from_fn(|i| bus.read_u64(root.0 + 8 * i as u64))
}

/// Table frames reachable from the kernel root and every registered root,
/// each counted once. `PageTables::reachable_tables` does the same but
/// walks the kernel half "to the top" with `end == 0`, which for a 32-bit
/// address space means 2^64 and never ends; this walks tables instead.
fn reachable(pt: &Pt) -> usize {
    fn walk(pt: &Pt, seen: &mut HashSet<u64>, indexed_by: Level, table: PhysAddr) {
        let a = pt.arch();
        seen.insert(table.0 & !(PAGE_SIZE - 1));
        let mut level = indexed_by;
        while a.is_passthrough(level) {
            level = level.next().unwrap();
        }
        let Some(child) = level.next() else {
            return;
        };
        for i in 0..1u64 << a.level_bits(indexed_by) {
            let e = PhysAddr(table.0 + i * a.entry_size());
            let raw = if a.entry_size() == 8 {
                pt.mem().read_u64(e)
            } else {
                u64::from(pt.mem().read_u32(e))
            };
            if let Decoded::Table(t) = a.decode(level, raw) {
                walk(pt, seen, child, t);
            }
        }
    }
    let mut seen = HashSet::new();
    for root in pt.roots().into_iter().chain([pt.kernel_root()]) {
        walk(pt, &mut seen, Level::Pgd, root);
    }
    seen.len()
}

/// Maps the kernel ranges every mode has; returns the pages to check.
fn map_kernel(pt: &Pt) -> Vec<Page> {
    let a = *pt.arch();
    let pmd = a.level_size(Level::Pmd);
    let layout = a.layout();
    let vm = *layout.get(RegionKind::Vmalloc).unwrap();
    let pkmap = *layout.get(RegionKind::Pkmap).unwrap();
    let cea = *layout.get(RegionKind::CpuEntryArea).unwrap();
    let fixmap = *layout.get(RegionKind::Fixmap).unwrap();
    // Above 4 GiB with PAE, below it without.
    let data = if a.pae { 0x1_2340_0000 } else { 0x4000_0000 };
    let mut pages = Vec::new();
    let mut ks = pt.kernel();
    let (_, report) = ks.edit(|e| {
        // The direct map, with large leaves (4 MiB / 2 MiB).
        e.vmap_range(
            VirtAddr(0xc000_0000),
            PhysAddr(0),
            32 << 20,
            Prot::KERNEL,
            PageSize::Pud,
        )
        .unwrap();
        for off in [0, 0x0123_4000, (32 << 20) - PAGE_SIZE] {
            let p = Page::kernel(&a, 0xc000_0000 + off, off, pmd, Prot::KERNEL);
            pages.push(p);
        }

        // vmalloc: 4 KiB pages from the allocator, straddling a PMD boundary
        // when the area starts just below one.
        let frames: Vec<PhysAddr> = (0..5).map(|i| PhysAddr(data + i * PAGE_SIZE)).collect();
        let va = e.vmap(&frames, Prot::KERNEL_RO).unwrap();
        for (i, f) in frames.iter().enumerate() {
            let p = Page::kernel(
                &a,
                va.0 + i as u64 * PAGE_SIZE,
                f.0,
                PAGE_SIZE,
                Prot::KERNEL_RO,
            );
            pages.push(p);
        }

        // ioremap, uncached.
        let io = e
            .ioremap(PhysAddr(0xfed0_0040), 0x100, CacheMode::Uncached)
            .unwrap();
        assert_eq!(io.0 & 0xfff, 0x40);
        pages.push(Page::kernel(
            &a,
            io.0 & !0xfff,
            0xfed0_0000,
            PAGE_SIZE,
            Prot::KERNEL,
        ));

        // A large leaf and module text near the end of vmalloc, away from the
        // allocator's addresses.
        let huge = (vm.last + 1 - 3 * pmd) & !(pmd - 1);
        e.vmap_range(
            VirtAddr(huge),
            PhysAddr(data + 4 * pmd),
            pmd,
            Prot::KERNEL,
            PageSize::Pud,
        )
        .unwrap();
        pages.push(Page::kernel(
            &a,
            huge + pmd / 2,
            data + 4 * pmd + pmd / 2,
            pmd,
            Prot::KERNEL,
        ));
        e.allow_write_exec();
        let text = huge + pmd;
        e.vmap_pages(
            VirtAddr(text),
            &[PhysAddr(data + 8 * pmd)],
            Prot::KERNEL_ROX,
        )
        .unwrap();
        pages.push(Page::kernel(
            &a,
            text,
            data + 8 * pmd,
            PAGE_SIZE,
            Prot::KERNEL_ROX,
        ));

        // The pkmap, the CPU entry area and the top fixmap slot.
        for (i, va) in [pkmap.start, cea.start, fixmap.last + 1 - PAGE_SIZE]
            .into_iter()
            .enumerate()
        {
            let pa = data + 9 * pmd + i as u64 * PAGE_SIZE;
            e.vmap_pages(VirtAddr(va), &[PhysAddr(pa)], Prot::KERNEL)
                .unwrap();
            pages.push(Page::kernel(&a, va, pa, PAGE_SIZE, Prot::KERNEL));
        }
    });
    assert!(report.mask.contains(SyncMask::PMD), "{report:?}");
    pages
}

/// Maps user pages in `space`; `salt` makes each space's frames its own.
fn map_user(pt: &Pt, space: &mut AddressSpace, salt: u64) -> Vec<Page> {
    let a = *pt.arch();
    let mut u = pt.user(space).unwrap();
    let base = 0x5000_0000 + salt * 0x10_0000;
    let rw: Vec<PhysAddr> = (0..3).map(|i| PhysAddr(base + i * PAGE_SIZE)).collect();
    u.map_pages(VirtAddr(0x0804_8000), &rw, Prot::USER_RW)
        .unwrap();
    u.map_pages(
        VirtAddr(0xbfff_f000),
        &[PhysAddr(base + 0x8000)],
        Prot::USER_RO,
    )
    .unwrap();
    let mut pages: Vec<Page> = rw
        .iter()
        .enumerate()
        .map(|(i, f)| Page {
            va: 0x0804_8000 + i as u64 * PAGE_SIZE,
            pa: f.0,
            size: PAGE_SIZE,
            writable: true,
            user: true,
            exec: !a.pae,
        })
        .collect();
    pages.push(Page {
        va: 0xbfff_f000,
        pa: base + 0x8000,
        size: PAGE_SIZE,
        writable: false,
        user: true,
        exec: !a.pae,
    });
    pages
}

#[test]
fn every_mapping_translates_from_every_root() {
    for a in modes() {
        let mmu = mmu(&a);
        let pt = new_pt(a);
        let kroot = pt.kernel_root();
        assert_eq!(kroot.0 % a.table_bytes(Level::Pgd), 0);
        assert!(kroot.0 < 1 << 32, "CR3 holds 32 bits");
        let boot_pdpt = a.pae.then(|| pdptes(&pt, kroot));
        if let Some(p) = boot_pdpt {
            // The kernel PMD table exists from creation (boot_prealloc).
            assert_eq!(p[3] & 0xfff, 1, "{}: PDPT[3] = {:#x}", a.name(), p[3]);
        }

        let mut early = pt.create_space().unwrap();
        let kernel = map_kernel(&pt);
        let mut late = pt.create_space().unwrap();
        let early_user = map_user(&pt, &mut early, 1);
        let late_user = map_user(&pt, &mut late, 2);

        for root in [kroot, early.root(), late.root()] {
            for p in &kernel {
                check(&mmu, &pt, root, p);
            }
        }
        for (space, mine, other) in [
            (&early, &early_user, &late_user),
            (&late, &late_user, &early_user),
        ] {
            for p in mine {
                check(&mmu, &pt, space.root(), p);
            }
            // The same address maps this space's frame, not the other's.
            assert_ne!(mine[0].pa, other[0].pa);
            faults(&mmu, &pt, space.root(), 0x1000, Mode::User);
            faults(
                &mmu,
                &pt,
                space.root(),
                0x0804_8000 + 3 * PAGE_SIZE,
                Mode::User,
            );
        }
        faults(&mmu, &pt, kroot, 0x0804_8000, Mode::User);
        let vm = *a.layout().get(RegionKind::Vmalloc).unwrap();
        faults(
            &mmu,
            &pt,
            early.root(),
            vm.start + (64 << 20),
            Mode::Supervisor,
        );
        assert_eq!(pt.first_out_of_sync(), None, "{}", a.name());

        if a.pae {
            for root in [kroot, early.root(), late.root()] {
                assert_eq!(root.0 % 32, 0);
                for e in pdptes(&pt, root).into_iter().filter(|e| *e != 0) {
                    assert_eq!(e & 0xfff, 1, "only P in a PDPTE: {e:#x}");
                    assert_eq!(e >> 52, 0);
                }
            }
            // The kernel PDPTE never changed after boot.
            assert_eq!(pdptes(&pt, kroot)[3], boot_pdpt.unwrap()[3]);
            let (k, e, l) = (
                pdptes(&pt, kroot)[3],
                pdptes(&pt, early.root())[3],
                pdptes(&pt, late.root())[3],
            );
            if a.shared_kernel_pmd {
                assert_eq!((e, l), (k, k), "one kernel PMD table for all");
            } else {
                assert!(k != e && k != l && e != l, "a kernel PMD table each");
            }
        }
        pt.destroy_space(early).expect("own space").ignore();
        pt.destroy_space(late).expect("own space").ignore();
        assert_eq!(pt.mem().tables_in_use(), reachable(&pt), "{}", a.name());
    }
}

#[test]
fn kernel_changes_after_creation_reach_every_space() {
    for a in modes() {
        let mmu = mmu(&a);
        let pt = new_pt(a);
        let spaces: Vec<AddressSpace> = (0..3).map(|_| pt.create_space().unwrap()).collect();
        let pmd = a.level_size(Level::Pmd);
        let vm = *a.layout().get(RegionKind::Vmalloc).unwrap();
        // A fresh PMD entry: a new page table below the (per-space or
        // shared) kernel PMD, or a new root entry without PAE.
        let va = (vm.start + pmd) & !(pmd - 1);
        let frames = [PhysAddr(0x4010_0000), PhysAddr(0x4010_1000)];
        let report = {
            let mut ks = pt.kernel();
            ks.edit(|e| {
                e.vmap_pages(VirtAddr(va), &frames, Prot::KERNEL).unwrap();
            })
            .1
        };
        assert!(report.mask.contains(SyncMask::PMD), "{report:?}");
        assert!(report.range.is_some(), "PMD is in the sync mask");
        let roots: Vec<PhysAddr> = spaces
            .iter()
            .map(AddressSpace::root)
            .chain([pt.kernel_root()])
            .collect();
        for &root in &roots {
            for (i, f) in frames.iter().enumerate() {
                let p = Page::kernel(&a, va + i as u64 * PAGE_SIZE, f.0, PAGE_SIZE, Prot::KERNEL);
                check(&mmu, &pt, root, &p);
            }
        }
        assert_eq!(pt.first_out_of_sync(), None, "{}", a.name());

        // Unmapping empties the page table: it is freed and the cleared PMD
        // entry reaches every space too.
        {
            let mut ks = pt.kernel();
            let _ = ks.edit(|e| {
                e.vunmap_range(VirtAddr(va), 2 * PAGE_SIZE)
                    .unwrap()
                    .ignore();
            });
        }
        for &root in &roots {
            faults(&mmu, &pt, root, va, Mode::Supervisor);
        }
        assert_eq!(pt.first_out_of_sync(), None, "{}", a.name());
        for s in spaces {
            pt.destroy_space(s).expect("own space").ignore();
        }
        assert_eq!(pt.mem().tables_in_use(), reachable(&pt), "{}", a.name());
    }
}

#[test]
fn highpte_puts_user_pte_tables_in_high_memory_only() {
    for a in modes() {
        let mmu = mmu(&a);
        let pt = new_pt(a);
        let mut space = pt.create_space().unwrap();
        let kernel = map_kernel(&pt);
        let user = map_user(&pt, &mut space, 3);
        let bus = Bus(pt.mem());
        let pte_at = |va: u64, mode| {
            mmu.translate(&bus, space.root().0, va, Access::Read, mode)
                .unwrap()
                .entry_pa
        };
        for p in &user {
            let high = HIGH_TABLES.contains(&pte_at(p.va, Mode::User));
            assert_eq!(high, a.highpte, "{} {p:x?}", a.name());
        }
        for p in kernel.iter().filter(|p| p.size == PAGE_SIZE) {
            let pa = pte_at(p.va, Mode::Supervisor);
            assert!(TABLES.contains(&pa), "kernel PTE tables stay in lowmem");
        }
        assert_eq!(pt.temporary_maps(), 0);
        pt.destroy_space(space).expect("own space").ignore();
        assert_eq!(pt.mem().tables_in_use(), reachable(&pt), "{}", a.name());
    }
}

#[test]
fn the_largest_physical_address_maps_under_pae_only() {
    // PAE: frames up to 2^52 (Linux's __PHYSICAL_MASK_SHIFT); 2-level: 2^32.
    for a in [X86_32::TWO_LEVEL, X86_32::PAE] {
        let mmu = mmu(&a);
        let pt = new_pt(a);
        let top = a.phys_limit() - PAGE_SIZE;
        let va = a.layout().get(RegionKind::Pkmap).unwrap().start;
        let mut ks = pt.kernel();
        let _ = ks.edit(|e| {
            e.vmap_pages(VirtAddr(va), &[PhysAddr(top)], Prot::KERNEL)
                .unwrap();
            assert!(e
                .vmap_pages(
                    VirtAddr(va + PAGE_SIZE),
                    &[PhysAddr(a.phys_limit())],
                    Prot::KERNEL
                )
                .is_err());
        });
        drop(ks);
        let p = Page::kernel(&a, va, top, PAGE_SIZE, Prot::KERNEL);
        check(&mmu, &pt, pt.kernel_root(), &p);
    }
}
