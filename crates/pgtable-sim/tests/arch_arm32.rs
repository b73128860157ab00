//! arm32 short-descriptor tables written by the library, walked by the
//! independent ARMv7-A MMU model of pgtable-mmu (TTBCR.N = 0, the DACR
//! Linux runs ARMv7 with).
//!
//! The second-level tables are 1 KiB: mapping pages in many distinct MiB
//! ranges makes several of them share a page, and every translation must
//! still land on its own frame.

use pgtable::arch::arm32::{Arm32, DOMAIN_IO, DOMAIN_KERNEL, DOMAIN_USER};
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Access as Rights, AddressSpace, CacheMode, Decoded, Level, PageTables, PhysAddr, Prot,
    SparseMemory, VirtAddr, PAGE_SIZE,
};
use pgtable::{EntryFormat, KernelPolicy};
use pgtable_mmu::arm32::Arm32Mmu;
use pgtable_mmu::{Access, Fault, FaultKind, Mmu, Mode, Roots, Xlat};
use pgtable_sim::Bus;
use std::collections::HashSet;

/// Table frames come from here; data frames lie elsewhere.
const TABLES: std::ops::Range<u64> = 0x0800_0000..0x0900_0000;

/// One expected mapping: `size` bytes from `va` onto `pa`.
#[derive(Clone, Copy, Debug)]
struct Expect {
    va: u64,
    pa: u64,
    size: u64,
    /// The leaf size the MMU must report (4 KiB page or 1 MiB section).
    leaf: u64,
    prot: Prot,
}

fn mmu_for(arch: Arm32) -> Arm32Mmu {
    Arm32Mmu {
        dacr: Arm32::DACR,
        pxn: arch.pxn,
        ..Arm32Mmu::new()
    }
}

fn xlat(
    m: &Arm32Mmu,
    mem: &SparseMemory,
    root: PhysAddr,
    va: u64,
    access: Access,
    mode: Mode,
) -> Result<Xlat, Fault> {
    m.translate_any(&Bus(mem), &Roots::single(root.0), va, access, mode)
}

/// Every page of `e` (first, last and a middle one for big ranges)
/// translates through `root` as `e` says, and no more.
fn check(m: &Arm32Mmu, mem: &SparseMemory, root: PhysAddr, e: &Expect) {
    let user = e.prot.access.contains(Rights::USER);
    let owner = if user { Mode::User } else { Mode::Supervisor };
    let pages = e.size / PAGE_SIZE;
    let mut offs: Vec<u64> = vec![0, pages / 2, pages - 1];
    offs.dedup();
    for p in offs {
        let va = e.va + p * PAGE_SIZE + 0x7c;
        let want = e.pa + p * PAGE_SIZE + 0x7c;
        let x = xlat(m, mem, root, va, Access::Read, owner)
            .unwrap_or_else(|f| panic!("{va:#x} in root {:#x}: {f}", root.0));
        assert_eq!((x.pa, x.size), (want, e.leaf), "{va:#x}");
        assert_eq!(x.user, user, "{va:#x}");
        assert_eq!(x.global, e.prot.access.contains(Rights::GLOBAL), "{va:#x}");
        assert_eq!(x.writable, e.prot.access.contains(Rights::WRITE), "{va:#x}");
        assert_eq!(
            x.executable,
            e.prot.access.contains(Rights::EXEC),
            "{va:#x}"
        );
        let w = xlat(m, mem, root, va, Access::Write, owner);
        assert_eq!(w.is_ok(), e.prot.access.contains(Rights::WRITE), "{va:#x}");
        let ex = xlat(m, mem, root, va, Access::Execute, owner);
        assert_eq!(ex.is_ok(), e.prot.access.contains(Rights::EXEC), "{va:#x}");
        if !user {
            let f = xlat(m, mem, root, va, Access::Read, Mode::User).unwrap_err();
            assert_eq!(
                f.kind,
                FaultKind::Protection,
                "{va:#x}: kernel page from PL0"
            );
        }
    }
}

fn faults(m: &Arm32Mmu, mem: &SparseMemory, root: PhysAddr, va: u64, level: i8) {
    let f = xlat(m, mem, root, va, Access::Read, Mode::Supervisor).expect_err("must not be mapped");
    assert_eq!(
        (f.kind, f.level),
        (FaultKind::NotPresent, level),
        "{va:#x}: {f}"
    );
}

fn l1_entry(pt: &PageTables<Arm32, SparseMemory>, root: PhysAddr, va: u64) -> u64 {
    u64::from(pt.mem().read_u32(PhysAddr(root.0 + 4 * (va >> 20))))
}

/// The second-level table behind `va`'s first-level entry in `root`.
fn l2_table(pt: &PageTables<Arm32, SparseMemory>, root: PhysAddr, va: u64) -> PhysAddr {
    match pt.arch().decode(Level::Pmd, l1_entry(pt, root, va)) {
        Decoded::Table(t) => t,
        d => panic!("{va:#x}: {d:?}"),
    }
}

/// Table frames reachable from `roots`: four per first-level table, and
/// each page holding one or more second-level tables once.
fn table_frames(pt: &PageTables<Arm32, SparseMemory>, roots: &[PhysAddr]) -> usize {
    let mut pages = HashSet::new();
    for root in roots {
        pages.extend((0..4).map(|i| root.0 + i * PAGE_SIZE));
        for slot in 0..4096u64 {
            if let Decoded::Table(t) = pt
                .arch()
                .decode(Level::Pmd, l1_entry(pt, *root, slot << 20))
            {
                pages.insert(t.0 & !(PAGE_SIZE - 1));
            }
        }
    }
    pages.len()
}

fn frames(base: u64, n: u64) -> Vec<PhysAddr> {
    (0..n).map(|i| PhysAddr(base + i * PAGE_SIZE)).collect()
}

/// Kernel mappings over every region of the memory map, with sections
/// and small pages; returns what they should translate to.
fn map_kernel(pt: &PageTables<Arm32, SparseMemory>) -> Vec<Expect> {
    let layout = pt.arch().layout();
    let region = |k| layout.get(k).unwrap().start;
    let lowmem = region(RegionKind::DirectMap);
    let vmalloc = region(RegionKind::Vmalloc);
    let mut ex = Vec::new();
    let mut ks = pt.kernel();
    let (_, report) = ks.edit(|ed| {
        // Lowmem: 4 MiB of sections, 1 MiB of kernel text (a ROX section),
        // then small pages where the range is not section-aligned.
        ed.vmap_range(
            VirtAddr(lowmem),
            PhysAddr(0x6000_0000),
            4 << 20,
            Prot::KERNEL,
            PageSize::Pmd,
        )
        .unwrap();
        ex.push(Expect {
            va: lowmem,
            pa: 0x6000_0000,
            size: 4 << 20,
            leaf: 1 << 20,
            prot: Prot::KERNEL,
        });
        let text = lowmem + (4 << 20);
        ed.vmap_range(
            VirtAddr(text),
            PhysAddr(0x6040_0000),
            1 << 20,
            Prot::KERNEL_ROX,
            PageSize::Pmd,
        )
        .unwrap();
        ex.push(Expect {
            va: text,
            pa: 0x6040_0000,
            size: 1 << 20,
            leaf: 1 << 20,
            prot: Prot::KERNEL_ROX,
        });
        let odd = lowmem + (5 << 20) + 0x3000;
        ed.vmap_range(
            VirtAddr(odd),
            PhysAddr(0x6050_3000),
            5 * PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Pmd,
        )
        .unwrap();
        ex.push(Expect {
            va: odd,
            pa: 0x6050_3000,
            size: 5 * PAGE_SIZE,
            leaf: PAGE_SIZE,
            prot: Prot::KERNEL,
        });
        // Modules (the first kernel slot, 0xbf0), pkmap and a fixmap slot.
        let (modules, pkmap) = (region(RegionKind::Modules), region(RegionKind::Pkmap));
        let fixmap = layout.get(RegionKind::Fixmap).unwrap().last + 1 - PAGE_SIZE;
        for (va, pa, n, prot) in [
            (modules, 0x3000_0000, 3, Prot::KERNEL_ROX),
            (modules + 0x3000, 0x3000_3000, 2, Prot::KERNEL_RO),
            (pkmap, 0x3100_0000, 1, Prot::KERNEL),
            (fixmap, 0x3180_0000, 1, Prot::KERNEL_RO),
        ] {
            ed.vmap_pages(VirtAddr(va), &frames(pa, n), prot).unwrap();
            ex.push(Expect {
                va,
                pa,
                size: n * PAGE_SIZE,
                leaf: PAGE_SIZE,
                prot,
            });
        }
        // vmalloc: two pages in each of 8 consecutive MiB, so 8 second-level
        // tables of 1 KiB, four to a page. Placed 64 MiB in, clear of the
        // areas ioremap and vmap allocate from the bottom of the region.
        for i in 0..8u64 {
            let va = vmalloc + (64 << 20) + (i << 20) + i * PAGE_SIZE;
            let pa = 0x3200_0000 + i * 0x1_0000;
            ed.vmap_pages(VirtAddr(va), &frames(pa, 2), Prot::KERNEL)
                .unwrap();
            ex.push(Expect {
                va,
                pa,
                size: 2 * PAGE_SIZE,
                leaf: PAGE_SIZE,
                prot: Prot::KERNEL,
            });
        }
        // ioremap: a section-aligned 2 MiB device window (sections), a small
        // write-combining one at an odd offset and a write-through page.
        for (pa, size, cache, leaf) in [
            (0xe000_0000, 2 << 20, CacheMode::Uncached, 1 << 20),
            (0xe030_0123, 0x100, CacheMode::WriteCombining, PAGE_SIZE),
            (0xe040_0000, PAGE_SIZE, CacheMode::WriteThrough, PAGE_SIZE),
        ] {
            let va = ed.ioremap(PhysAddr(pa), size, cache).unwrap();
            assert_eq!(va.0 & (PAGE_SIZE - 1), pa & (PAGE_SIZE - 1));
            ex.push(Expect {
                va: va.0 & !(PAGE_SIZE - 1),
                pa: pa & !(PAGE_SIZE - 1),
                size: size.next_multiple_of(PAGE_SIZE),
                leaf,
                prot: Prot::KERNEL.with_cache(cache),
            });
        }
        // vmap(): the library picks the address.
        let va = ed.vmap(&frames(0x3400_0000, 3), Prot::KERNEL).unwrap();
        assert!(layout.get(RegionKind::Vmalloc).unwrap().contains(va.0));
        ex.push(Expect {
            va: va.0,
            pa: 0x3400_0000,
            size: 3 * PAGE_SIZE,
            leaf: PAGE_SIZE,
            prot: Prot::KERNEL,
        });
    });
    assert!(report.synced(), "first-level entries changed: {report:?}");
    ex
}

/// User pages of one space in `n` distinct MiB ranges, alternating
/// read-write data and read-only code.
fn map_user(
    pt: &PageTables<Arm32, SparseMemory>,
    space: &mut AddressSpace,
    frames_at: u64,
    n: u64,
) -> Vec<Expect> {
    let mut ex = Vec::new();
    let mut us = pt.user(space).unwrap();
    for i in 0..n {
        let va = ((i + 1) << 20) + 0x2000;
        let pa = frames_at + i * 0x1_0000;
        let prot = if i % 2 == 0 {
            Prot::USER_RW
        } else {
            Prot::new(Rights::USER | Rights::EXEC, CacheMode::WriteBack)
        };
        us.map_pages(VirtAddr(va), &frames(pa, 3), prot).unwrap();
        ex.push(Expect {
            va,
            pa,
            size: 3 * PAGE_SIZE,
            leaf: PAGE_SIZE,
            prot,
        });
    }
    ex
}

fn run(arch: Arm32) {
    let mem = SparseMemory::new(PhysAddr(TABLES.start)..PhysAddr(TABLES.end));
    let pt = PageTables::new(arch, mem).unwrap();
    let m = mmu_for(arch);
    let kroot = pt.kernel_root();
    assert_eq!(kroot.0 & 0x3fff, 0, "16 KiB-aligned first-level table");
    // One space before the kernel mappings (reached by the sync), one after
    // (a copy of the kernel half at creation).
    let mut s0 = pt.create_space().unwrap();
    let kernel = map_kernel(&pt);
    let mut s1 = pt.create_space().unwrap();
    assert_eq!(pt.first_out_of_sync(), None);
    for root in [s0.root(), s1.root()] {
        assert_eq!(root.0 & 0x3fff, 0);
    }

    let user0 = map_user(&pt, &mut s0, 0x4000_0000, 12);
    let mut user1 = map_user(&pt, &mut s1, 0x4800_0000, 5);
    // s1 also gets a user section and the last user page below TASK_SIZE.
    {
        let mut us = pt.user(&mut s1).unwrap();
        us.map_range(
            VirtAddr(0x0800_0000),
            PhysAddr(0x5000_0000),
            1 << 20,
            Prot::USER_RW,
            PageSize::Pmd,
        )
        .unwrap();
        let last = arch.user_end() - PAGE_SIZE;
        us.map_pages(VirtAddr(last), &[PhysAddr(0x5100_0000)], Prot::USER_RO)
            .unwrap();
        user1.push(Expect {
            va: 0x0800_0000,
            pa: 0x5000_0000,
            size: 1 << 20,
            leaf: 1 << 20,
            prot: Prot::USER_RW,
        });
        user1.push(Expect {
            va: last,
            pa: 0x5100_0000,
            size: PAGE_SIZE,
            leaf: PAGE_SIZE,
            prot: Prot::USER_RO,
        });
    }

    // The modules area is kernel: no user page there, no kernel page below.
    let boundary = VirtAddr(arch.kernel_start());
    let one = [PhysAddr(0x5200_0000)];
    assert!(pt
        .user(&mut s1)
        .unwrap()
        .map_pages(boundary, &one, Prot::USER_RW)
        .is_err());
    let below = VirtAddr(boundary.0 - PAGE_SIZE);
    assert!(pt
        .kernel()
        .edit(|e| e.vmap_pages(below, &one, Prot::KERNEL))
        .0
        .is_err());

    // Every kernel mapping from every root; each space's user mappings
    // from its own root only.
    for root in [kroot, s0.root(), s1.root()] {
        for e in &kernel {
            check(&m, pt.mem(), root, e);
        }
    }
    for e in &user0 {
        check(&m, pt.mem(), s0.root(), e);
        faults(&m, pt.mem(), kroot, e.va, 1);
    }
    for e in &user1 {
        check(&m, pt.mem(), s1.root(), e);
    }
    // s0 has pages in MiB 6..12 that s1 lacks; s1's section is s0's hole.
    faults(&m, pt.mem(), s1.root(), user0[7].va, 1);
    faults(&m, pt.mem(), s0.root(), 0x0800_0000, 1);

    // The library's own walk agrees with the MMU.
    for (root, e) in kernel
        .iter()
        .map(|e| (s0.root(), e))
        .chain(user1.iter().map(|e| (s1.root(), e)))
    {
        let lib = pt.translate(root, VirtAddr(e.va)).unwrap();
        assert_eq!((lib.pa.0, lib.size, lib.prot), (e.pa, e.leaf, e.prot));
    }

    // The 1 KiB second-level tables: distinct, 1 KiB-aligned, several to a
    // page, in the right domain.
    let mut tables = HashSet::new();
    for e in &user0 {
        let t = l2_table(&pt, s0.root(), e.va);
        assert_eq!(t.0 & 0x3ff, 0);
        assert!(TABLES.contains(&t.0));
        assert!(tables.insert(t), "{t:?} shared by two MiB");
        let raw = l1_entry(&pt, s0.root(), e.va);
        assert_eq!((raw >> 5) & 0xf, u64::from(DOMAIN_USER));
        assert_eq!(raw & (1 << 2) != 0, arch.pxn, "PXNTABLE on user tables");
    }
    let pages: HashSet<u64> = tables.iter().map(|t| t.0 & !(PAGE_SIZE - 1)).collect();
    assert!(
        pages.len() * 2 <= tables.len(),
        "{} user tables in {} pages",
        tables.len(),
        pages.len()
    );
    let vm: Vec<&Expect> = kernel
        .iter()
        .filter(|e| e.va >= 0xf080_0000 + (64 << 20) && e.va < 0xff80_0000)
        .collect();
    let ktables: HashSet<PhysAddr> = vm
        .iter()
        .filter(|e| e.leaf == PAGE_SIZE)
        .map(|e| l2_table(&pt, kroot, e.va))
        .collect();
    let kpages: HashSet<u64> = ktables.iter().map(|t| t.0 & !(PAGE_SIZE - 1)).collect();
    assert!(ktables.len() >= 8 && kpages.len() < ktables.len());
    for e in &kernel {
        let raw = l1_entry(&pt, s1.root(), e.va);
        let want = if e.leaf == PAGE_SIZE || e.prot.cache != CacheMode::Uncached {
            DOMAIN_KERNEL
        } else {
            DOMAIN_IO
        };
        assert_eq!((raw >> 5) & 0xf, u64::from(want), "{:#x}", e.va);
        if e.leaf == PAGE_SIZE {
            assert_eq!(raw & (1 << 2), 0, "kernel tables never PXN");
        }
    }

    // Linux's software PAN: with DOMAIN_USER at no access the kernel loses
    // the user pages (a domain fault) and keeps its own.
    let pan = Arm32Mmu {
        dacr: Arm32::DACR & !(3 << (2 * DOMAIN_USER)),
        ..m
    };
    let f = xlat(
        &pan,
        pt.mem(),
        s0.root(),
        user0[0].va,
        Access::Read,
        Mode::Supervisor,
    )
    .unwrap_err();
    assert_eq!(f.kind, FaultKind::Protection);
    assert!(f.detail.contains("domain"), "{f}");
    check(&pan, pt.mem(), s0.root(), &kernel[0]);
    check(&pan, pt.mem(), s0.root(), &kernel[kernel.len() - 1]);

    // Kernel execution of user code: allowed by AP 0b111 alone, refused by
    // PXN on the user table where the core has it.
    let code = user0[1].va;
    let r = xlat(
        &m,
        pt.mem(),
        s0.root(),
        code,
        Access::Execute,
        Mode::Supervisor,
    );
    match arch.pxn {
        true => assert_eq!(r.unwrap_err().detail, "PXN"),
        false => assert!(r.is_ok()),
    }

    // Unmapped: null page, next page in a mapped MiB (level 2), between
    // regions, past the lowmem mapped here, the vector page, above 4 GiB.
    for root in [kroot, s0.root()] {
        faults(&m, pt.mem(), root, 0, 1);
        faults(&m, pt.mem(), root, 0xc060_0000, 1);
        faults(&m, pt.mem(), root, 0xffff_0000, 1);
        faults(&m, pt.mem(), root, 0xbf00_5000, 2);
        faults(&m, pt.mem(), root, 0xc050_2000, 2);
    }
    faults(&m, pt.mem(), s0.root(), user0[0].va + 3 * PAGE_SIZE, 2);
    faults(&m, pt.mem(), s0.root(), user0[0].va - PAGE_SIZE, 2);
    // Above 4 GiB: the model's own walk says non-canonical (the neutral
    // view routes it to the absent TTBR1 instead).
    let f = m
        .translate(
            &Bus(pt.mem()),
            kroot.0,
            0,
            1 << 32,
            Access::Read,
            Mode::Supervisor,
        )
        .unwrap_err();
    assert_eq!(f.kind, FaultKind::NonCanonical);

    // Unmapping: a vmalloc area (its second-level table stays, hung from
    // the top level, as Linux's vunmap leaves kernel page tables) and a
    // user page.
    let gone = vm[0];
    {
        let mut ks = pt.kernel();
        let _ = ks.edit(|ed| {
            ed.vunmap_range(VirtAddr(gone.va), gone.size)
                .unwrap()
                .ignore();
        });
    }
    assert_eq!(pt.first_out_of_sync(), None);
    for root in [kroot, s0.root(), s1.root()] {
        faults(&m, pt.mem(), root, gone.va, 2);
        check(&m, pt.mem(), root, vm[1]);
    }
    pt.user(&mut s0)
        .unwrap()
        .unmap(VirtAddr(user0[2].va), PAGE_SIZE)
        .unwrap()
        .ignore();
    faults(&m, pt.mem(), s0.root(), user0[2].va, 2);
    let rest = Expect {
        va: user0[2].va + PAGE_SIZE,
        pa: user0[2].pa + PAGE_SIZE,
        size: 2 * PAGE_SIZE,
        ..user0[2]
    };
    check(&m, pt.mem(), s0.root(), &rest);

    // Nothing leaked, before and after the spaces go. (Counted here from
    // the first-level tables: `PageTables::reachable_tables` walks the
    // kernel half "to the top" with end 0, which for a 32-bit mode runs on
    // past 4 GiB.)
    let roots = [kroot, s0.root(), s1.root()];
    assert_eq!(table_frames(&pt, &roots), pt.mem().tables_in_use());
    pt.destroy_space(s0).expect("own space").ignore();
    pt.destroy_space(s1).expect("own space").ignore();
    assert_eq!(table_frames(&pt, &[kroot]), pt.mem().tables_in_use());
    for e in kernel.iter().filter(|e| e.va != gone.va) {
        check(&m, pt.mem(), kroot, e);
    }
}

#[test]
fn short_descriptor_tables_translate_on_the_armv7_mmu() {
    run(Arm32::SHORT);
}

#[test]
fn user_tables_carry_pxn_on_cores_that_have_it() {
    run(Arm32::SHORT_PXN);
}
