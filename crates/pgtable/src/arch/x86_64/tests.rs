use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Decoded, EntryFormat, KernelPolicy, PagingGeometry, SyncMethod};
use crate::mask::SyncMask;
use crate::prot::{CacheMode, Prot};

#[test]
fn canonical_and_halves() {
    let a = X86_64::FOUR_LEVEL;
    assert!(a.is_canonical(VirtAddr(0x0000_7fff_ffff_f000)));
    assert!(!a.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
    assert!(a.is_canonical(VirtAddr(0xffff_8000_0000_0000)));
    assert_eq!(a.kernel_start(), 0xffff_8000_0000_0000);
    let b = X86_64::FIVE_LEVEL;
    assert!(b.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
    assert!(!b.is_canonical(VirtAddr(0x0100_0000_0000_0000)));
    assert_eq!(b.kernel_start(), 0xff00_0000_0000_0000);
    assert_eq!(b.index(Level::Pgd, 0xff11_0000_0000_0000), 273);
}

#[test]
fn folding_follows_nop4d() {
    let a = X86_64::FOUR_LEVEL;
    assert!(a.is_folded(Level::P4d));
    assert!(a.is_passthrough(Level::Pgd));
    assert_eq!(a.top_level(), Level::P4d);
    assert_eq!(a.levels(), 4);
    assert_eq!(a.sync_method(), SyncMethod::CopyEntries(Level::P4d));
    let b = X86_64::FIVE_LEVEL;
    assert_eq!(b.top_level(), Level::Pgd);
    assert_eq!(b.levels(), 5);
    assert_eq!(b.sync_mask(), SyncMask::PGD);
}

#[test]
fn leaf_round_trips_with_cache_modes() {
    let a = X86_64::FOUR_LEVEL;
    for cache in [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
        CacheMode::Uncached,
    ] {
        for (level, pa) in [
            (Level::Pte, 0x1234_5000),
            (Level::Pmd, 0x4020_0000),
            (Level::Pud, 0x8_4000_0000),
        ] {
            let prot = Prot::KERNEL.with_cache(cache);
            let raw = a.encode_leaf(level, PhysAddr(pa), prot);
            assert_eq!(
                a.decode(level, raw),
                Decoded::Leaf(PhysAddr(pa), prot),
                "{level} {cache:?}"
            );
        }
    }
    let raw = a.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), Prot::KERNEL);
    assert_ne!(raw & X86Flags::HUGE.bits(), 0);
    assert_ne!(raw & X86Flags::NO_EXECUTE.bits(), 0);
    let t = a.encode_table(Level::Pmd, PhysAddr(0x5000), false);
    assert_eq!(a.decode(Level::Pmd, t), Decoded::Table(PhysAddr(0x5000)));
    assert_eq!(t & X86Flags::USER.bits(), 0);
}
