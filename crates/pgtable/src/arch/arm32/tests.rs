use super::entry::{LARGE_XN, PAGE_NG, SECT_ADDR, SECT_SUPER};
use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Region;
use crate::arch::{Decoded, EntryFormat, KernelPolicy, PagingGeometry, RegionKind, SyncMethod};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};

const ALL_CACHE: [CacheMode; 4] = [
    CacheMode::WriteBack,
    CacheMode::WriteCombining,
    CacheMode::WriteThrough,
    CacheMode::Uncached,
];

fn all_prots() -> [Prot; 8] {
    [
        Prot::KERNEL,
        Prot::KERNEL_RO,
        Prot::KERNEL_EXEC,
        Prot::KERNEL_ROX,
        Prot::USER_RW,
        Prot::USER_RO,
        Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack),
        Prot::new(
            Access::USER | Access::WRITE | Access::EXEC,
            CacheMode::WriteBack,
        ),
    ]
}

#[test]
fn levels_fold_into_the_first_level() {
    let a = Arm32::SHORT;
    for l in [Level::P4d, Level::Pud, Level::Pmd] {
        assert!(a.is_folded(l), "{l}");
        assert_eq!(a.level_shift(l), 20);
    }
    assert!(!a.is_folded(Level::Pgd) && !a.is_folded(Level::Pte));
    assert!(a.is_passthrough(Level::Pgd));
    assert!(a.is_passthrough(Level::Pud));
    assert!(!a.is_passthrough(Level::Pmd));
    assert_eq!(a.top_level(), Level::Pmd);
    assert_eq!(a.levels(), 2);
    assert_eq!(a.entry_size(), 4);
    assert_eq!(a.table_bytes(Level::Pgd), 16 * 1024);
    assert_eq!(a.table_bytes(Level::Pte), 1024);
    assert_eq!(a.level_size(Level::Pmd), 1 << 20);
    assert_eq!(a.level_size(Level::Pte), 4096);
    assert!(a.leaf_allowed(Level::Pmd) && a.leaf_allowed(Level::Pte));
    assert!(!a.leaf_allowed(Level::Pud) && !a.leaf_allowed(Level::Pgd));
    assert_eq!(a.name(), "arm32/short");
    assert_eq!(Arm32::SHORT_PXN.name(), "arm32/short+pxn");
    assert_eq!(a.phys_limit(), 1 << 32);
}

#[test]
fn canonical_halves_and_indices() {
    let a = Arm32::SHORT;
    assert!(a.is_canonical(VirtAddr(0)));
    assert!(a.is_canonical(VirtAddr(0xffff_ffff)));
    assert!(!a.is_canonical(VirtAddr(0x1_0000_0000)));
    assert_eq!(a.user_end(), 0xbf00_0000);
    assert_eq!(a.kernel_start(), 0xbf00_0000);
    assert_eq!(a.kernel_top_slots(), 0xbf0..4096);
    assert_eq!(a.index(Level::Pgd, 0xbf00_0000), 0xbf0);
    assert_eq!(a.index(Level::Pgd, 0xc000_0000), 0xc00);
    assert_eq!(a.index(Level::Pgd, 0xffff_f000), 0xfff);
    assert_eq!(a.index(Level::Pmd, 0xc012_3456), 0);
    assert_eq!(a.index(Level::Pte, 0xc012_3456), 0x23);
    assert_eq!(a.index(Level::Pte, 0x000f_f000), 0xff);
}

#[test]
fn leaves_round_trip_at_both_levels() {
    let a = Arm32::SHORT;
    for cache in ALL_CACHE {
        for prot in all_prots() {
            let prot = prot.with_cache(cache);
            for (level, pa) in [(Level::Pte, 0x1234_5000), (Level::Pmd, 0xfed0_0000)] {
                let raw = a.encode_leaf(level, PhysAddr(pa), prot);
                assert!(raw <= u64::from(u32::MAX));
                assert_eq!(
                    a.decode(level, raw),
                    Decoded::Leaf(PhysAddr(pa), prot),
                    "{level} {prot:?}"
                );
            }
        }
    }
}

#[test]
fn small_page_bits() {
    let a = Arm32::SHORT;
    // PAGE_KERNEL: AP 0b001, XN, TEX 001 C B (WBWA), S, global.
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x8765_4000), Prot::KERNEL);
    assert_eq!(
        raw,
        0x8765_4000 | 0b10 | 1 | (0b01 << 4) | (0b001 << 6) | (1 << 3) | (1 << 2) | (1 << 10)
    );
    // User read-only executable: AP 0b111 (APX), no XN, nG.
    let p = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000), p);
    assert_eq!(raw & 0b11, 0b10);
    assert_eq!((raw >> 4) & 3, 0b11);
    assert_ne!(raw & (1 << 9), 0, "APX");
    assert_ne!(raw & (1 << 11), 0, "nG");
    // Kernel read-only: AP 0b101.
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX);
    assert_eq!(((raw >> 4) & 3, raw & (1 << 9) != 0), (0b01, true));
    assert_eq!(raw & 1, 0, "executable: XN clear");
}

#[test]
fn memory_types_without_tex_remap() {
    let a = Arm32::SHORT;
    let texcb = |cache| {
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0), Prot::KERNEL.with_cache(cache));
        ((raw >> 6) & 7, (raw >> 3) & 1, (raw >> 2) & 1)
    };
    assert_eq!(texcb(CacheMode::WriteBack), (0b001, 1, 1));
    assert_eq!(texcb(CacheMode::WriteCombining), (0b001, 0, 0));
    assert_eq!(texcb(CacheMode::WriteThrough), (0b000, 1, 0));
    assert_eq!(texcb(CacheMode::Uncached), (0b000, 0, 1));
    let sect = |cache| {
        let raw = a.encode_leaf(Level::Pmd, PhysAddr(0), Prot::KERNEL.with_cache(cache));
        ((raw >> 12) & 7, (raw >> 3) & 1, (raw >> 2) & 1)
    };
    assert_eq!(sect(CacheMode::WriteBack), (0b001, 1, 1));
    assert_eq!(sect(CacheMode::Uncached), (0b000, 0, 1));
    // Encodings never written: Strongly-ordered and non-shareable
    // Device read as uncached, WB no write-allocate as write-back.
    let small = |tex: u64, cb: u64| a.decode(Level::Pte, 0x5000 | 0b10 | (tex << 6) | (cb << 2));
    let cache = |d| match d {
        Decoded::Leaf(_, p) => Some(p.cache),
        _ => None,
    };
    assert_eq!(cache(small(0, 0b00)), Some(CacheMode::Uncached));
    assert_eq!(cache(small(0b010, 0b00)), Some(CacheMode::Uncached));
    assert_eq!(cache(small(0, 0b11)), Some(CacheMode::WriteBack));
    assert_eq!(cache(small(0b101, 0b01)), Some(CacheMode::WriteBack));
    assert_eq!(cache(small(0b110, 0b10)), Some(CacheMode::WriteThrough));
}

#[test]
fn section_bits_and_domains() {
    let a = Arm32::SHORT;
    let raw = a.encode_leaf(Level::Pmd, PhysAddr(0x6010_0000), Prot::KERNEL);
    assert_eq!(raw & 0b11, 0b10, "section");
    assert_eq!(raw & SECT_ADDR, 0x6010_0000);
    assert_eq!((raw >> 10) & 3, 0b01, "AP kernel RW");
    assert_ne!(raw & (1 << 4), 0, "XN");
    assert_ne!(raw & (1 << 16), 0, "S");
    assert_eq!(raw & (1 << 17), 0, "global");
    assert_eq!(raw & SECT_SUPER, 0);
    assert_eq!((raw >> 5) & 0xf, u64::from(DOMAIN_KERNEL));
    let dev = a.encode_leaf(
        Level::Pmd,
        PhysAddr(0),
        Prot::KERNEL.with_cache(CacheMode::Uncached),
    );
    assert_eq!((dev >> 5) & 0xf, u64::from(DOMAIN_IO));
    let user = a.encode_leaf(Level::Pmd, PhysAddr(0), Prot::USER_RO);
    assert_eq!((user >> 5) & 0xf, u64::from(DOMAIN_USER));
    assert_eq!(((user >> 10) & 3, user & (1 << 15) != 0), (0b11, true));
    assert_ne!(user & (1 << 17), 0, "nG");
    // A supersection (never written) reports its 16 MiB frame.
    let sup = 0x4500_0000 | SECT_SUPER | (0b01 << 10) | 0b10;
    assert!(matches!(
        a.decode(Level::Pmd, sup),
        Decoded::Leaf(PhysAddr(0x4500_0000), _)
    ));
}

#[test]
fn table_entries_carry_domain_and_pxn() {
    let a = Arm32::SHORT;
    let k = a.encode_table(Level::Pmd, PhysAddr(0x1234_5c00), false);
    assert_eq!(k, 0x1234_5c01);
    assert_eq!(
        a.decode(Level::Pmd, k),
        Decoded::Table(PhysAddr(0x1234_5c00))
    );
    let u = a.encode_table(Level::Pmd, PhysAddr(0x1234_5c00), true);
    assert_eq!(u, 0x1234_5c01 | (1 << 5));
    let p = Arm32::SHORT_PXN.encode_table(Level::Pmd, PhysAddr(0x400), true);
    assert_eq!(p, 0x400 | (1 << 5) | (1 << 2) | 1);
    assert_eq!(
        Arm32::SHORT_PXN.encode_table(Level::Pmd, PhysAddr(0x400), false),
        0x401,
        "kernel tables never PXN"
    );
    assert_eq!(
        Arm32::SHORT_PXN.decode(Level::Pmd, p),
        Decoded::Table(PhysAddr(0x400))
    );
    assert_eq!(a.decode(Level::Pmd, 0), Decoded::None);
    assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
    assert_eq!(
        a.decode(Level::Pte, 0xffff_f000),
        Decoded::None,
        "type 0b00"
    );
}

#[test]
fn permissions_prot_cannot_express() {
    let a = Arm32::SHORT;
    // AP 0b010: PL1 RW, PL0 RO. Prot has no "kernel may write, user may
    // only read": it reads as a user read-only page.
    let raw = 0x7000 | 0b10 | (0b10 << 4) | PAGE_NG;
    assert_eq!(
        a.decode(Level::Pte, raw),
        Decoded::Leaf(
            PhysAddr(0x7000),
            Prot::new(Access::USER | Access::EXEC, CacheMode::Uncached)
        )
    );
    // A 64 KiB large page (never written) reports its frame and XN.
    let large = 0x5555_0000 | LARGE_XN | (0b01 << 4) | 0b01;
    assert_eq!(
        a.decode(Level::Pte, large),
        Decoded::Leaf(
            PhysAddr(0x5555_0000),
            Prot::new(Access::WRITE | Access::GLOBAL, CacheMode::Uncached)
        )
    );
}

#[test]
fn sync_is_pmd_level() {
    for a in [Arm32::SHORT, Arm32::SHORT_PXN] {
        assert_eq!(a.sync_mask(), SyncMask::PMD);
        assert_eq!(a.sync_method(), SyncMethod::CopyEntries(Level::Pmd));
        assert_eq!(a.sync_method(), SyncMethod::CopyEntries(a.top_level()));
        assert!(!a.split_roots());
    }
}

#[test]
fn layout_sorted_and_in_the_kernel_half() {
    let a = Arm32::SHORT;
    let l = a.layout();
    let mut prev: Option<&Region> = None;
    for r in l.regions {
        assert!(r.start >= a.kernel_start(), "{}", r.name);
        assert!(r.last <= 0xffff_ffff && r.start <= r.last, "{}", r.name);
        if let Some(p) = prev {
            assert!(p.last < r.start, "{} overlaps {}", p.name, r.name);
        }
        prev = Some(r);
    }
    assert_eq!(
        l.get(RegionKind::DirectMap).map(Region::size),
        Some(768 << 20)
    );
    let vm = l.get(RegionKind::Vmalloc).unwrap();
    assert_eq!((vm.start, vm.last + 1), (0xf080_0000, 0xff80_0000));
    assert_eq!(l.get(RegionKind::Modules).unwrap().start, a.kernel_start());
    assert_eq!(l.get(RegionKind::Pkmap).unwrap().size(), 512 * 4096);
    assert!(l.get(RegionKind::Vmemmap).is_none());
    assert!(l.get(RegionKind::KasanShadow).is_none());
    assert_eq!(
        l.region_of(0xffc8_0000).map(|r| r.kind),
        Some(RegionKind::Fixmap)
    );
}
