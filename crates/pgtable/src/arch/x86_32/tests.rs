use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Decoded, EntryFormat, KernelPolicy, PagingGeometry, RegionKind, SyncMethod};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};

const CACHES: [CacheMode; 4] = [
    CacheMode::WriteBack,
    CacheMode::WriteCombining,
    CacheMode::WriteThrough,
    CacheMode::Uncached,
];

#[test]
fn two_level_folds_p4d_pud_and_pmd_into_the_root() {
    let a = X86_32::TWO_LEVEL;
    for l in [Level::P4d, Level::Pud, Level::Pmd] {
        assert!(a.is_folded(l), "{l}");
        assert_eq!(a.level_shift(l), 22, "{l}");
    }
    assert!(a.is_passthrough(Level::Pgd) && a.is_passthrough(Level::Pud));
    assert_eq!(a.top_level(), Level::Pmd);
    assert_eq!(a.levels(), 2);
    assert_eq!(a.entry_size(), 4);
    assert_eq!(a.table_bytes(Level::Pgd), 4096);
    assert_eq!(a.table_bytes(Level::Pte), 4096);
    assert_eq!(a.level_size(Level::Pmd), 4 << 20);
    assert_eq!(a.phys_limit(), 1 << 32);
    assert!(a.boot_prealloc().is_empty());
}

#[test]
fn pae_folds_p4d_and_pud_into_a_32_byte_root() {
    for a in [X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
        assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
        assert!(!a.is_folded(Level::Pmd));
        assert_eq!(a.level_shift(Level::Pud), 30);
        assert_eq!(a.top_level(), Level::Pud);
        assert_eq!(a.levels(), 3);
        assert_eq!(a.entry_size(), 8);
        assert_eq!(a.table_bytes(Level::Pgd), 32);
        assert_eq!(a.table_bytes(Level::Pmd), 4096);
        assert_eq!(a.table_bytes(Level::Pte), 4096);
        assert_eq!(a.level_size(Level::Pmd), 2 << 20);
        assert_eq!(a.phys_bits(), 52);
        assert_eq!(a.boot_prealloc(), &[RegionKind::DirectMap]);
        assert!(!a.leaf_allowed(Level::Pud), "no 1 GiB pages under PAE");
    }
}

#[test]
fn canonical_is_32_bit_and_halves_split_at_3_gib() {
    for a in [X86_32::TWO_LEVEL, X86_32::PAE] {
        assert!(a.is_canonical(VirtAddr(0xffff_ffff)));
        assert!(!a.is_canonical(VirtAddr(0x1_0000_0000)));
        assert_eq!(a.user_end(), 0xc000_0000);
        assert_eq!(a.kernel_start(), 0xc000_0000);
        assert_eq!(a.va_bits(), 32);
    }
    assert_eq!(X86_32::TWO_LEVEL.kernel_top_slots(), 768..1024);
    assert_eq!(X86_32::PAE.kernel_top_slots(), 3..4);
}

#[test]
fn indexes_of_known_addresses() {
    let a = X86_32::TWO_LEVEL;
    let va = 0xc040_3000;
    assert_eq!(a.index(Level::Pgd, va), 769);
    assert_eq!(a.index(Level::Pmd, va), 0, "folded");
    assert_eq!(a.index(Level::Pte, va), 3);
    assert_eq!(a.index(Level::Pgd, PAGE_OFFSET), 768);
    let b = X86_32::PAE;
    assert_eq!(b.index(Level::Pgd, va), 3);
    assert_eq!(b.index(Level::Pmd, va), 2);
    assert_eq!(b.index(Level::Pte, va), 3);
    assert_eq!(b.index(Level::Pgd, 0xbfff_ffff), 2);
    assert_eq!(b.index(Level::Pmd, 0xffff_f000), 511);
}

#[test]
fn leaves_round_trip_with_every_cache_mode() {
    let modes = [
        (X86_32::TWO_LEVEL, Level::Pmd, 0x8040_0000u64),
        (X86_32::TWO_LEVEL, Level::Pte, 0xfedc_b000),
        (X86_32::PAE, Level::Pmd, 0x12_3460_0000),
        (X86_32::PAE, Level::Pte, 0xf_ffff_f000),
    ];
    for (a, level, pa) in modes {
        for cache in CACHES {
            // Without PAE only executable protections exist.
            let kernel = if a.pae {
                Prot::KERNEL
            } else {
                Prot::KERNEL_EXEC
            };
            let user = if a.pae {
                Prot::USER_RW
            } else {
                Prot::new(Access::WRITE | Access::USER | Access::EXEC, cache)
            };
            for prot in [kernel.with_cache(cache), user.with_cache(cache)] {
                let raw = a.encode_leaf(level, PhysAddr(pa), prot);
                assert_eq!(
                    a.decode(level, raw),
                    Decoded::Leaf(PhysAddr(pa), prot),
                    "{} {level} {prot:?}",
                    a.name()
                );
            }
        }
    }
}

#[test]
fn large_leaves_use_ps_and_the_high_pat_bit() {
    let a = X86_32::TWO_LEVEL;
    let wt = Prot::KERNEL_ROX.with_cache(CacheMode::WriteThrough);
    let big = a.encode_leaf(Level::Pmd, PhysAddr(0x40_0000), wt);
    assert_ne!(big & X86Flags::HUGE.bits(), 0);
    assert_ne!(big & X86Flags::PAT_LARGE.bits(), 0);
    assert_eq!(big >> 32, 0, "fits a 4-byte PDE");
    let small = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wt);
    assert_ne!(small & PAT_SMALL, 0);
    assert_eq!(
        small & X86Flags::HUGE.bits(),
        PAT_SMALL,
        "bit 7 is PAT here"
    );
    let b = X86_32::PAE;
    let raw = b.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), Prot::KERNEL);
    assert_ne!(raw & X86Flags::HUGE.bits(), 0);
    assert_ne!(raw & X86Flags::NO_EXECUTE.bits(), 0);
}

#[test]
fn two_level_cannot_express_no_execute() {
    let a = X86_32::TWO_LEVEL;
    for level in [Level::Pmd, Level::Pte] {
        let raw = a.encode_leaf(level, PhysAddr(0x40_0000), Prot::KERNEL);
        assert_eq!(raw >> 32, 0, "no bit 63 in a 4-byte entry");
        let Decoded::Leaf(_, prot) = a.decode(level, raw) else {
            panic!("a leaf");
        };
        assert_eq!(prot.access, Prot::KERNEL.access | Access::EXEC);
    }
    // With PAE the same protection keeps NX.
    let b = X86_32::PAE;
    let raw = b.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL);
    assert_eq!(
        b.decode(Level::Pte, raw),
        Decoded::Leaf(PhysAddr(0x1000), Prot::KERNEL)
    );
}

#[test]
fn pdptes_hold_present_and_the_address_only() {
    for a in [X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
        for user in [false, true] {
            let e = a.encode_table(Level::Pud, PhysAddr(0x1234_5000), user);
            assert_eq!(e, 0x1234_5000 | X86Flags::PRESENT.bits());
            assert_eq!(
                a.decode(Level::Pud, e),
                Decoded::Table(PhysAddr(0x1234_5000))
            );
        }
        // PS is reserved in a PDPTE: never read as a leaf.
        let odd = 0x4000_0000 | X86Flags::PRESENT.bits() | X86Flags::HUGE.bits();
        assert_eq!(
            a.decode(Level::Pud, odd),
            Decoded::Table(PhysAddr(0x4000_0000))
        );
    }
}

#[test]
fn table_entries_decode_and_carry_user_only_for_user_tables() {
    for (a, level) in [(X86_32::TWO_LEVEL, Level::Pmd), (X86_32::PAE, Level::Pmd)] {
        let k = a.encode_table(level, PhysAddr(0x5000), false);
        let u = a.encode_table(level, PhysAddr(0x5000), true);
        assert_eq!(a.decode(level, k), Decoded::Table(PhysAddr(0x5000)));
        assert_eq!(a.decode(level, u), Decoded::Table(PhysAddr(0x5000)));
        assert_eq!(k & X86Flags::USER.bits(), 0);
        assert_ne!(u & X86Flags::USER.bits(), 0);
        assert_eq!(k & X86Flags::HUGE.bits(), 0, "PS = 0: a table");
        assert_eq!(a.decode(level, 0), Decoded::None);
        assert_eq!(a.decode(level, 0x5000), Decoded::None, "P = 0");
    }
}

#[test]
fn sync_follows_the_kernel_pmd_arrangement() {
    for a in [X86_32::TWO_LEVEL, X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
        assert_eq!(a.sync_mask(), SyncMask::PMD, "{}", a.name());
    }
    assert_eq!(
        X86_32::TWO_LEVEL.sync_method(),
        SyncMethod::CopyEntries(Level::Pmd)
    );
    assert_eq!(X86_32::PAE.sync_method(), SyncMethod::None);
    assert_eq!(
        X86_32::PAE_UNSHARED_PMD.sync_method(),
        SyncMethod::CopyEntries(Level::Pmd)
    );
}

#[test]
fn highpte_is_a_flag_on_every_mode() {
    for a in [X86_32::TWO_LEVEL, X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
        assert!(!a.highpte());
        let h = a.with_highpte();
        assert!(h.highpte());
        assert_eq!((h.pae, h.shared_kernel_pmd), (a.pae, a.shared_kernel_pmd));
        assert_ne!(h.name(), a.name());
        assert!(h.name().ends_with("+highpte"));
    }
}

#[test]
fn layouts_are_sorted_inside_the_kernel_gigabyte() {
    for a in [X86_32::TWO_LEVEL, X86_32::PAE] {
        let regions = a.layout().regions;
        assert_eq!(regions[0].start, a.kernel_start());
        for w in regions.windows(2) {
            assert!(w[0].last < w[1].start, "{:?} {:?}", w[0], w[1]);
        }
        for r in regions {
            assert!(r.start >= a.kernel_start() && r.last <= 0xffff_ffff);
            assert!(r.start <= r.last);
            assert_eq!(r.start % 4096, 0);
            assert_eq!((r.last + 1) % 4096, 0);
        }
        let l = a.layout();
        for kind in [RegionKind::Vmemmap, RegionKind::KasanShadow] {
            assert!(l.get(kind).is_none());
        }
        // VMALLOC_START = high_memory + 8 MiB; VMALLOC_END = PKMAP_BASE - 2 pages.
        let (dm, vm, pk) = (
            l.get(RegionKind::DirectMap).unwrap(),
            l.get(RegionKind::Vmalloc).unwrap(),
            l.get(RegionKind::Pkmap).unwrap(),
        );
        assert_eq!(vm.start, dm.last + 1 + (8 << 20));
        assert_eq!(vm.last + 1, pk.start - 2 * 4096);
        // MAXMEM leaves __VMALLOC_RESERVE (128 MiB) to vmalloc and above.
        assert_eq!(dm.size(), vm.last + 1 - PAGE_OFFSET - (128 << 20));
        // PKMAP is PMD-aligned and LAST_PKMAP pages long.
        assert_eq!(pk.start % a.level_size(Level::Pmd), 0);
        let last_pkmap = if a.pae { 512 } else { 1024 };
        assert_eq!(pk.size(), last_pkmap * 4096);
        let cea = l.get(RegionKind::CpuEntryArea).unwrap();
        assert_eq!(cea.start % a.level_size(Level::Pmd), 0);
        let fix = l.get(RegionKind::Fixmap).unwrap();
        assert_eq!(fix.last + 1, 0xffff_f000, "FIXADDR_TOP");
        assert_eq!(cea.last + 1, fix.start);
        // Every region lies in the kernel's top-level slots.
        for r in regions {
            let slot = a.index(Level::Pgd, r.start) as usize;
            assert!(a.kernel_top_slots().contains(&slot), "{}", r.name);
        }
    }
    let (two, pae) = (X86_32::TWO_LEVEL.layout(), X86_32::PAE.layout());
    assert_eq!(two.get(RegionKind::Pkmap).unwrap().start, 0xff40_0000);
    assert_eq!(pae.get(RegionKind::Pkmap).unwrap().start, 0xff60_0000);
    assert_eq!(
        X86_32::PAE_UNSHARED_PMD.layout().regions,
        X86_32::PAE.layout().regions
    );
}
