use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Decoded, EntryFormat, KernelPolicy, PagingGeometry, RegionKind, SyncMethod};
use crate::prot::{Access, CacheMode, Prot};

const MODES: [Arm64; 3] = [Arm64::VA_39, Arm64::VA_48, Arm64::VA_52];
const CACHES: [CacheMode; 3] = [
    CacheMode::WriteBack,
    CacheMode::WriteCombining,
    CacheMode::Uncached,
];

#[test]
fn folding_levels_and_tables() {
    let a = Arm64::VA_39;
    assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
    assert!(a.is_passthrough(Level::Pgd) && a.is_passthrough(Level::P4d));
    assert_eq!(a.top_level(), Level::Pud);
    assert_eq!(a.levels(), 3);
    assert_eq!(Level::ALL.map(|l| a.level_shift(l)), [30, 30, 30, 21, 12]);
    assert_eq!(a.table_bytes(Level::Pgd), 4096);

    let b = Arm64::VA_48;
    assert!(b.is_folded(Level::P4d) && !b.is_folded(Level::Pud));
    assert_eq!(b.top_level(), Level::P4d);
    assert_eq!(b.levels(), 4);
    assert_eq!(Level::ALL.map(|l| b.level_shift(l)), [39, 39, 30, 21, 12]);
    assert_eq!(b.table_bytes(Level::Pgd), 4096);

    let c = Arm64::VA_52;
    assert_eq!(c.top_level(), Level::Pgd);
    assert_eq!(c.levels(), 5);
    assert_eq!(c.level_bits(Level::Pgd), 4);
    assert_eq!(Level::ALL.map(|l| c.level_shift(l)), [48, 39, 30, 21, 12]);
    // Level -1 has 16 entries: a 128-byte root, as Linux's pgd_cache.
    assert_eq!(c.table_bytes(Level::Pgd), 128);
    assert_eq!(c.table_bytes(Level::P4d), 4096);
    assert_eq!((c.phys_bits(), b.phys_bits()), (52, 48));
    for m in MODES {
        // Bits of the real levels add up to the VA width.
        let bits: u32 = Level::ALL.iter().map(|l| m.level_bits(*l)).sum();
        assert_eq!(bits + 12, m.va_bits(), "{}", m.name());
    }
}

#[test]
fn canonical_and_halves() {
    let a = Arm64::VA_48;
    assert!(a.is_canonical(VirtAddr(0x0000_ffff_ffff_f000)));
    assert!(!a.is_canonical(VirtAddr(0x0001_0000_0000_0000)));
    assert!(a.is_canonical(VirtAddr(0xffff_0000_0000_0000)));
    assert!(!a.is_canonical(VirtAddr(0xfffe_ffff_ffff_ffff)));
    // Not x86-style sign extension: bit 47 says nothing.
    assert!(a.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
    assert_eq!(a.user_end(), 0x0001_0000_0000_0000);
    assert_eq!(a.kernel_start(), 0xffff_0000_0000_0000);
    let b = Arm64::VA_39;
    assert!(b.is_canonical(VirtAddr(0x0000_007f_ffff_ffff)));
    assert!(!b.is_canonical(VirtAddr(0x0000_0080_0000_0000)));
    assert!(b.is_canonical(VirtAddr(0xffff_ff80_0000_0000)));
    assert!(!b.is_canonical(VirtAddr(0xffff_ff7f_ffff_ffff)));
    assert_eq!(b.kernel_start(), 0xffff_ff80_0000_0000);
    let c = Arm64::VA_52;
    assert!(c.is_canonical(VirtAddr(0x000f_ffff_ffff_f000)));
    assert!(c.is_canonical(VirtAddr(0xfff0_0000_0000_0000)));
    assert!(!c.is_canonical(VirtAddr(0xffef_ffff_ffff_ffff)));
    assert_eq!(c.user_end(), 1 << 52);
}

#[test]
fn both_halves_index_the_same_slots() {
    let a = Arm64::VA_48;
    // TTBR1 walks use VA[47:39] like TTBR0 walks: the bottom of the
    // kernel half is slot 0 of the kernel root.
    assert_eq!(a.index(Level::Pgd, 0xffff_0000_0000_0000), 0);
    assert_eq!(a.index(Level::Pgd, 0), 0);
    assert_eq!(a.index(Level::Pgd, 0xffff_8000_8000_0000), 256);
    assert_eq!(a.index(Level::Pgd, 0xffff_ffff_ffff_f000), 511);
    assert_eq!(a.index(Level::Pud, 0xffff_8000_8000_0000), 2);
    assert_eq!(a.kernel_top_slots(), 0..0);
    let b = Arm64::VA_39;
    assert_eq!(b.index(Level::Pgd, 0xffff_ffc0_8000_0000), 258);
    assert_eq!(b.index(Level::Pmd, 0xffff_ffc0_8020_0000), 1);
    let c = Arm64::VA_52;
    assert_eq!(c.index(Level::Pgd, 0xfff0_0000_0000_0000), 0);
    assert_eq!(c.index(Level::Pgd, 0xffff_8000_0000_0000), 15);
    assert_eq!(c.index(Level::P4d, 0xffff_8000_8000_0000), 256);
}

#[test]
fn no_sync_split_roots() {
    for m in MODES {
        assert!(m.sync_mask().is_empty());
        assert_eq!(m.sync_method(), SyncMethod::None);
        assert!(m.split_roots());
        assert!(m.boot_prealloc().is_empty());
    }
}

#[test]
fn leaf_round_trips_with_cache_modes() {
    let prots = [
        Prot::KERNEL,
        Prot::KERNEL_RO,
        Prot::KERNEL_ROX,
        Prot::KERNEL_EXEC,
        Prot::new(Access::WRITE, CacheMode::WriteBack),
        Prot::USER_RW,
        Prot::USER_RO,
        Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack),
    ];
    for m in MODES {
        // With LPA2, OA[51:48] set too: bits 49:48 in place, 51:50 in
        // bits 9:8.
        let high = if m.lpa2() { 0xf_0000_0000_0000 } else { 0 };
        let cases = [
            (Level::Pte, 0x1234_5000),
            (Level::Pmd, 0x4020_0000),
            (Level::Pud, 0x8_4000_0000),
            (Level::Pte, high | 0x1234_5000),
            (Level::Pud, high | 0x4000_0000),
        ];
        for cache in CACHES {
            for base in prots {
                let prot = base.with_cache(cache);
                for (level, pa) in &cases {
                    let raw = m.encode_leaf(*level, PhysAddr(*pa), prot);
                    assert_eq!(
                        m.decode(*level, raw),
                        Decoded::Leaf(PhysAddr(*pa), prot),
                        "{} {level} {prot:?}",
                        m.name()
                    );
                }
            }
        }
    }
}

#[test]
fn write_through_is_device_memory_as_linux_ioremap_wt() {
    let a = Arm64::VA_48;
    let wt = Prot::KERNEL.with_cache(CacheMode::WriteThrough);
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x9000_0000), wt);
    assert_eq!((raw & ATTR_MASK) >> ATTR_SHIFT, MT_DEVICE_NGNRE);
    assert_eq!(
        a.decode(Level::Pte, raw),
        Decoded::Leaf(
            PhysAddr(0x9000_0000),
            Prot::KERNEL.with_cache(CacheMode::Uncached)
        )
    );
}

#[test]
fn descriptor_bits_follow_linux() {
    let a = Arm64::VA_48;
    let f = |raw| Arm64Flags::from_bits_retain(raw);
    // PAGE_KERNEL: page, AF, SH, UXN|PXN, DBM, global, MT_NORMAL.
    let k = f(a.encode_leaf(Level::Pte, PhysAddr(0x4000_1000), Prot::KERNEL));
    assert!(k.contains(
        Arm64Flags::VALID
            | Arm64Flags::TABLE
            | Arm64Flags::AF
            | Arm64Flags::SH_INNER
            | Arm64Flags::UXN
            | Arm64Flags::PXN
            | Arm64Flags::DBM
    ));
    assert!(!k.intersects(Arm64Flags::NG | Arm64Flags::AP_USER | Arm64Flags::AP_RDONLY));
    assert_eq!(k.bits() & ATTR_MASK, 0);
    assert_eq!(k.bits() & ADDR_MASK_48, 0x4000_1000);
    // Kernel text: executable at EL1 only.
    let x = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX));
    assert!(x.contains(Arm64Flags::UXN | Arm64Flags::AP_RDONLY));
    assert!(!x.contains(Arm64Flags::PXN));
    // A user page: nG, AP[1], PXN always.
    let u = f(a.encode_leaf(Level::Pte, PhysAddr(0x2000), Prot::USER_RW));
    assert!(u.contains(Arm64Flags::NG | Arm64Flags::AP_USER | Arm64Flags::PXN | Arm64Flags::UXN));
    let ux = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let ux = f(a.encode_leaf(Level::Pte, PhysAddr(0x2000), ux));
    assert!(ux.contains(Arm64Flags::PXN | Arm64Flags::AP_RDONLY));
    assert!(!ux.contains(Arm64Flags::UXN));
    // Blocks are 0b01 at levels 1 and 2.
    let blk = a.encode_leaf(Level::Pmd, PhysAddr(0x4020_0000), Prot::KERNEL);
    assert_eq!(blk & 3, 0b01);
    let blk = a.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
    assert_eq!(blk & 3, 0b01);
    // ioremap: Device-nGnRE; ioremap_wc: Normal-NC.
    let io = Prot::KERNEL.with_cache(CacheMode::Uncached);
    let io = a.encode_leaf(Level::Pte, PhysAddr(0x1000), io);
    assert_eq!((io & ATTR_MASK) >> ATTR_SHIFT, 4);
    let wc = Prot::KERNEL.with_cache(CacheMode::WriteCombining);
    let wc = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wc);
    assert_eq!((wc & ATTR_MASK) >> ATTR_SHIFT, 2);
    // Tagged normal memory (PROT_MTE) reads as write-back.
    let tagged = (a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RO) & !ATTR_MASK)
        | (MT_NORMAL_TAGGED << ATTR_SHIFT);
    assert_eq!(
        a.decode(Level::Pte, tagged),
        Decoded::Leaf(PhysAddr(0x1000), Prot::USER_RO)
    );
    // LPA2: no SH in the descriptor, the bits carry OA[51:50].
    let c = Arm64::VA_52;
    let raw = c.encode_leaf(Level::Pte, PhysAddr(0x4000_1000), Prot::KERNEL);
    assert_eq!(raw & (3 << 8), 0);
    let raw = c.encode_leaf(Level::Pte, PhysAddr(0xc_0000_0000_1000), Prot::KERNEL);
    assert_eq!(raw & (3 << 8), 3 << 8);
}

#[test]
fn table_entries() {
    for m in MODES {
        for level in [m.top_level(), Level::Pud, Level::Pmd] {
            let k = m.encode_table(level, PhysAddr(0x5000), false);
            assert_eq!(m.decode(level, k), Decoded::Table(PhysAddr(0x5000)));
            let k = Arm64Flags::from_bits_retain(k);
            assert!(k.contains(Arm64Flags::UXN_TABLE | Arm64Flags::AF | Arm64Flags::TABLE));
            assert!(!k.contains(Arm64Flags::PXN_TABLE));
            let u = m.encode_table(level, PhysAddr(0x6000), true);
            assert_eq!(m.decode(level, u), Decoded::Table(PhysAddr(0x6000)));
            let u = Arm64Flags::from_bits_retain(u);
            assert!(u.contains(Arm64Flags::PXN_TABLE));
            assert!(!u.contains(Arm64Flags::UXN_TABLE));
        }
    }
    let c = Arm64::VA_52;
    let t = c.encode_table(Level::Pgd, PhysAddr(0xf_0000_0000_7000), false);
    assert_eq!(
        c.decode(Level::Pgd, t),
        Decoded::Table(PhysAddr(0xf_0000_0000_7000))
    );
}

#[test]
fn reserved_encodings_decode_as_none() {
    let a = Arm64::VA_48;
    assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
    // A block at level 3 and at level 0 (without LPA2) is a
    // Translation fault.
    assert_eq!(
        a.decode(Level::Pte, 0x4000_1000 | 0b01 | 1 << 10),
        Decoded::None
    );
    assert_eq!(a.decode(Level::P4d, 0x40_0000_0000 | 0b01), Decoded::None);
    assert!(!a.leaf_allowed(Level::P4d));
    assert!(a.leaf_allowed(Level::Pud) && a.leaf_allowed(Level::Pmd));
    // 39-bit: the root is level 1, where blocks exist.
    let b = Arm64::VA_39;
    assert!(b.leaf_allowed(b.top_level()));
    let raw = b.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
    assert_eq!(
        b.decode(Level::Pud, raw),
        Decoded::Leaf(PhysAddr(0x4000_0000), Prot::KERNEL)
    );
    // 52-bit: level -1 holds tables only; level 0 blocks decode (the
    // hardware would use them) though none is ever written.
    let c = Arm64::VA_52;
    assert_eq!(c.decode(Level::Pgd, 0x8000_0000_0000 | 0b01), Decoded::None);
    assert!(!c.leaf_allowed(Level::P4d));
    assert!(matches!(
        c.decode(Level::P4d, 0x80_0000_0000 | 0b01 | 1 << 10),
        Decoded::Leaf(PhysAddr(0x80_0000_0000), _)
    ));
}

#[test]
fn layout_sorted_and_in_the_kernel_half() {
    for m in MODES {
        let l = m.layout();
        assert!(!l.regions.is_empty());
        for r in l.regions {
            assert!(r.start >= m.kernel_start(), "{} {}", m.name(), r.name);
            assert!(r.start <= r.last);
            assert!(m.is_canonical(VirtAddr(r.start)) && m.is_canonical(VirtAddr(r.last)));
        }
        for w in l.regions.windows(2) {
            assert!(w[0].last < w[1].start, "{} {}", m.name(), w[1].name);
        }
        let vm = l.get(RegionKind::Vmalloc).unwrap();
        let vmemmap = l.get(RegionKind::Vmemmap).unwrap();
        assert_eq!(vm.last + 1 + 0x80_0000, vmemmap.start, "8 MiB guard");
        assert_eq!(vmemmap.last, 0xffff_ffff_bfff_ffff, "VMEMMAP_END = -1 GiB");
        let modules = l.get(RegionKind::Modules).unwrap();
        assert_eq!(modules.last + 1, vm.start, "VMALLOC_START = MODULES_END");
        assert_eq!(l.regions[0].start, m.kernel_start(), "PAGE_OFFSET");
    }
    let l = Arm64::VA_48.layout();
    assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 2 << 40);
    assert_eq!(
        l.get(RegionKind::Vmalloc).unwrap().start,
        0xffff_8000_8000_0000
    );
    let l = Arm64::VA_39.layout();
    assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 4 << 30);
    let l = Arm64::VA_52.layout();
    assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 62 << 40);
    assert!(Arm64::new(42).unwrap().layout().regions.is_empty());
}
