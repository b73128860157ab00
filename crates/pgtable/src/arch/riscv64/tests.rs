use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Decoded, EntryFormat, KernelPolicy, PagingGeometry, RegionKind, SyncMethod};
use crate::prot::{Access, CacheMode, Prot};

const MODES: [Riscv64; 3] = [Riscv64::SV39, Riscv64::SV48, Riscv64::SV57];
const CACHES: [CacheMode; 3] = [
    CacheMode::WriteBack,
    CacheMode::WriteCombining,
    CacheMode::Uncached,
];

#[test]
fn folding_levels_and_tables() {
    let a = Riscv64::SV39;
    assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
    assert_eq!(a.top_level(), Level::Pud);
    assert_eq!(a.levels(), 3);
    assert_eq!(Level::ALL.map(|l| a.level_shift(l)), [30, 30, 30, 21, 12]);
    let b = Riscv64::SV48;
    assert!(b.is_folded(Level::P4d) && !b.is_folded(Level::Pud));
    assert_eq!(b.top_level(), Level::P4d);
    assert_eq!(b.levels(), 4);
    assert_eq!(Level::ALL.map(|l| b.level_shift(l)), [39, 39, 30, 21, 12]);
    let c = Riscv64::SV57;
    assert_eq!(c.top_level(), Level::Pgd);
    assert_eq!(c.levels(), 5);
    assert_eq!(Level::ALL.map(|l| c.level_shift(l)), [48, 39, 30, 21, 12]);
    for m in MODES {
        let bits: u32 = Level::ALL.iter().map(|l| m.level_bits(*l)).sum();
        assert_eq!(bits + 12, m.va_bits(), "{}", m.name());
        for l in Level::ALL.into_iter().filter(|l| !m.is_folded(*l)) {
            assert_eq!(m.table_bytes(l), 4096);
        }
        assert_eq!(m.phys_bits(), 56);
        assert_eq!(m.kernel_top_slots(), 256..512);
    }
    assert_eq!((a.va_bits(), b.va_bits(), c.va_bits()), (39, 48, 57));
}

#[test]
fn canonical_and_halves() {
    let a = Riscv64::SV39;
    assert!(a.is_canonical(VirtAddr(0x0000_003f_ffff_f000)));
    assert!(!a.is_canonical(VirtAddr(0x0000_0040_0000_0000)));
    assert!(a.is_canonical(VirtAddr(0xffff_ffc0_0000_0000)));
    assert!(!a.is_canonical(VirtAddr(0xffff_ffbf_ffff_ffff)));
    assert_eq!(a.user_end(), 0x40_0000_0000);
    assert_eq!(a.kernel_start(), 0xffff_ffc0_0000_0000);
    let b = Riscv64::SV48;
    assert_eq!(b.user_end(), 0x8000_0000_0000);
    assert_eq!(b.kernel_start(), 0xffff_8000_0000_0000);
    assert!(!b.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
    let c = Riscv64::SV57;
    assert_eq!(c.kernel_start(), 0xff00_0000_0000_0000);
    assert!(c.is_canonical(VirtAddr(0x00ff_ffff_ffff_f000)));
    assert!(!c.is_canonical(VirtAddr(0x0100_0000_0000_0000)));
}

#[test]
fn index_of_known_addresses() {
    let a = Riscv64::SV39;
    // The kernel half starts at slot 256 in every mode.
    assert_eq!(a.index(Level::Pgd, a.kernel_start()), 256);
    assert_eq!(a.index(Level::Pgd, 0xffff_ffc6_0000_0000), 280);
    assert_eq!(a.index(Level::Pgd, 0xffff_ffc4_fea0_0000), 275);
    assert_eq!(a.index(Level::Pmd, 0xffff_ffc4_fea0_0000), 501);
    let b = Riscv64::SV48;
    assert_eq!(b.index(Level::Pgd, b.kernel_start()), 256);
    assert_eq!(b.index(Level::Pgd, 0xffff_8d7f_fea0_0000), 282);
    assert_eq!(b.index(Level::Pud, 0xffff_ffff_8000_0000), 510);
    let c = Riscv64::SV57;
    assert_eq!(c.index(Level::Pgd, c.kernel_start()), 256);
    assert_eq!(c.index(Level::Pgd, 0xff60_0000_0000_0000), 352);
    assert_eq!(c.index(Level::P4d, 0xffff_ffff_8000_0000), 511);
}

#[test]
fn no_sync_but_boot_preallocation() {
    for m in MODES {
        assert!(m.sync_mask().is_empty());
        assert_eq!(m.sync_method(), SyncMethod::None);
        assert!(!m.split_roots());
        let l = m.layout();
        for kind in m.boot_prealloc() {
            assert!(l.get(*kind).is_some(), "{kind:?}");
        }
        // The fixmap's slot is not preallocated: that is the gap.
        let fixmap = l.get(RegionKind::Fixmap).unwrap();
        let slot = m.index(Level::Pgd, fixmap.start);
        for kind in m.boot_prealloc() {
            let r = l.get(*kind).unwrap();
            let (first, last) = (m.index(Level::Pgd, r.start), m.index(Level::Pgd, r.last));
            assert!(!(first..=last).contains(&slot), "{} {kind:?}", m.name());
        }
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
        // Leaves at every real level, with a high PA bit set.
        let top = m.top_level();
        let mut cases = [(Level::Pte, 0x80_1234_5000u64); 5];
        for (n, level) in Level::ALL
            .into_iter()
            .filter(|l| !m.is_folded(*l) && *l >= top)
            .enumerate()
        {
            cases[n] = (level, 0x80_0000_0000_0000 | (1 << m.level_shift(level)));
        }
        for cache in CACHES {
            for base in prots {
                let prot = base.with_cache(cache);
                for (level, pa) in cases {
                    let raw = m.encode_leaf(level, PhysAddr(pa), prot);
                    assert_eq!(
                        m.decode(level, raw),
                        Decoded::Leaf(PhysAddr(pa), prot),
                        "{} {level} {prot:?}",
                        m.name()
                    );
                }
            }
        }
    }
}

#[test]
fn write_through_is_io_as_linux_ioremap_wt() {
    let a = Riscv64::SV48;
    let wt = Prot::KERNEL.with_cache(CacheMode::WriteThrough);
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000_0000), wt);
    assert_eq!(raw & PBMT_MASK, RiscvFlags::PBMT_IO.bits());
    assert_eq!(
        a.decode(Level::Pte, raw),
        Decoded::Leaf(
            PhysAddr(0x1000_0000),
            Prot::KERNEL.with_cache(CacheMode::Uncached)
        )
    );
}

#[test]
fn pte_bits_follow_linux() {
    let a = Riscv64::SV39;
    let f = |raw| RiscvFlags::from_bits_retain(raw);
    // PAGE_KERNEL: V R W A D G, no X, no U, PMA.
    let raw = a.encode_leaf(Level::Pte, PhysAddr(0x8020_0000), Prot::KERNEL);
    assert_eq!(raw & PPN_MASK, (0x8020_0000 >> 12) << 10);
    assert_eq!(
        f(raw & 0xff),
        RiscvFlags::VALID
            | RiscvFlags::READ
            | RiscvFlags::WRITE
            | RiscvFlags::ACCESSED
            | RiscvFlags::DIRTY
            | RiscvFlags::GLOBAL
    );
    assert_eq!(raw & PBMT_MASK, 0);
    // Read-only kernel text keeps A and D (Svade never faults on it).
    let rox = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX));
    assert!(rox.contains(RiscvFlags::ACCESSED | RiscvFlags::DIRTY | RiscvFlags::EXEC));
    assert!(!rox.contains(RiscvFlags::WRITE));
    // User: U, A; D only when writable; never G.
    let ro = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RO));
    assert!(ro.contains(RiscvFlags::USER | RiscvFlags::ACCESSED | RiscvFlags::READ));
    assert!(!ro.intersects(RiscvFlags::DIRTY | RiscvFlags::GLOBAL | RiscvFlags::WRITE));
    let rw = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RW));
    assert!(rw.contains(RiscvFlags::DIRTY | RiscvFlags::WRITE));
    // ioremap_wc: NC; ioremap: IO.
    let wc = Prot::KERNEL.with_cache(CacheMode::WriteCombining);
    let wc = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wc);
    assert_eq!(wc & PBMT_MASK, 1 << 61);
    let io = Prot::KERNEL.with_cache(CacheMode::Uncached);
    let io = a.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), io);
    assert_eq!(io & PBMT_MASK, 2 << 61);
    // A superpage's PPN is aligned to its size.
    let big = a.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
    assert_eq!(pa_of(big), 0x4000_0000);
}

#[test]
fn table_entries() {
    for m in MODES {
        for level in [m.top_level(), Level::Pmd] {
            for user in [false, true] {
                let t = m.encode_table(level, PhysAddr(0x8000_5000), user);
                // V only: R = W = X = 0, and U, A, D, G clear.
                assert_eq!(t & 0x3ff, RiscvFlags::VALID.bits());
                assert_eq!(m.decode(level, t), Decoded::Table(PhysAddr(0x8000_5000)));
            }
        }
    }
}

#[test]
fn faulting_entries_decode_as_none() {
    let a = Riscv64::SV48;
    let v = RiscvFlags::VALID.bits();
    assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
    // A pointer at the last level.
    assert_eq!(a.decode(Level::Pte, ppn(0x5000) | v), Decoded::None);
    // W without R.
    let w = RiscvFlags::WRITE.bits();
    assert_eq!(a.decode(Level::Pte, ppn(0x5000) | v | w), Decoded::None);
    // Reserved bits, N, PBMT 3, PBMT in a pointer.
    let leaf = a.encode_leaf(Level::Pte, PhysAddr(0x5000), Prot::KERNEL);
    assert_eq!(a.decode(Level::Pte, leaf | 1 << 54), Decoded::None);
    assert_eq!(a.decode(Level::Pte, leaf | 1 << 63), Decoded::None);
    assert_eq!(a.decode(Level::Pte, leaf | PBMT_MASK), Decoded::None);
    let table = a.encode_table(Level::Pmd, PhysAddr(0x5000), false);
    assert_eq!(a.decode(Level::Pmd, table | 1 << 61), Decoded::None);
    // A misaligned megapage.
    let r = RiscvFlags::READ.bits();
    assert_eq!(a.decode(Level::Pmd, ppn(0x20_1000) | v | r), Decoded::None);
    assert!(matches!(
        a.decode(Level::Pmd, ppn(0x20_0000) | v | r),
        Decoded::Leaf(PhysAddr(0x20_0000), _)
    ));
}

#[test]
fn layout_sorted_and_in_the_kernel_half() {
    for m in MODES {
        let l = m.layout();
        for r in l.regions {
            assert!(r.start >= m.kernel_start(), "{} {}", m.name(), r.name);
            assert!(r.start <= r.last);
            assert!(m.is_canonical(VirtAddr(r.start)) && m.is_canonical(VirtAddr(r.last)));
        }
        for w in l.regions.windows(2) {
            assert!(w[0].last < w[1].start, "{} {}", m.name(), w[1].name);
        }
        let vm = l.get(RegionKind::Vmalloc).unwrap();
        let dm = l.get(RegionKind::DirectMap).unwrap();
        // VMALLOC_END = PAGE_OFFSET - 1.
        assert_eq!(vm.last + 1, dm.start);
        assert_eq!(l.get(RegionKind::KernelText).unwrap().last, u64::MAX);
    }
    let sizes = |m: Riscv64| {
        let l = m.layout();
        [
            RegionKind::Vmemmap,
            RegionKind::Vmalloc,
            RegionKind::DirectMap,
        ]
        .map(|k| l.get(k).unwrap().size())
    };
    assert_eq!(sizes(Riscv64::SV39), [4 << 30, 64 << 30, 128 << 30]);
    assert_eq!(sizes(Riscv64::SV48), [2 << 40, 32 << 40, 64 << 40]);
    // "32 PB" in the document; the direct map stops one top-level slot
    // short, where the KASAN shadow begins.
    assert_eq!(sizes(Riscv64::SV57), [1 << 50, 16 << 50, 0x7f << 48]);
}
