//! The contract of `EntryFormat::is_leaf` and `EntryFormat::leaf_bits`,
//! which the unmap walk's check runs over every entry it is asked to clear:
//! for every mode, real level and entry, `is_leaf` says `Leaf` exactly
//! where `decode` does, and it reads no bit outside `leaf_bits` (the check
//! takes a run of entries equal to a leaf in those bits for leaves). A mode whose
//! bit test drifted from its decoder (a leaf the check would wave through
//! and the clear would then wipe, or one it would refuse) fails here.

use pgtable::{
    Access, Arch, Arm32, Arm64, CacheMode, Decoded, Level, PhysAddr, Prot, Riscv64, X86_32, X86_64,
};

/// xorshift64: the same entries on every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Words of the sweep of the low twelve bits, at the end of `entries`.
const SWEEP: usize = 18 * 4096;

/// Entries worth asking about at `level`: every leaf and table encoding
/// the mode writes (over every protection and memory type, at a few
/// addresses), each with every single bit flipped; every value of the low
/// twelve bits (where the formats keep their type and permission bits)
/// under a few high parts (none, each of the top twelve bits alone, an
/// address part aligned to each of the first levels); and random words
/// (which on riscv are nearly all malformed: the sweep is what reaches its
/// leaves with odd bits).
fn entries<A: Arch>(arch: &A, level: Level, state: &mut u64) -> Vec<u64> {
    let caches = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
        CacheMode::Uncached,
    ];
    let size = arch.level_size(level);
    let frames = (arch.phys_limit() / size).max(1);
    let mut written = Vec::new();
    for _ in 0..4 {
        let pa = PhysAddr(next(state) % frames * size);
        let table = PhysAddr((next(state) % (arch.phys_limit() >> 12)) << 12);
        written.push(arch.encode_table(level, table, false));
        written.push(arch.encode_table(level, table, true));
        if arch.leaf_allowed(level) {
            for bits in 0..16u8 {
                for &cache in &caches {
                    let prot = Prot::new(Access::from_bits_truncate(bits), cache);
                    written.push(arch.encode_leaf(level, pa, prot));
                }
            }
        }
    }
    let mut all: Vec<u64> = written
        .iter()
        .flat_map(|&raw| (0..64).map(move |bit| raw ^ (1 << bit)).chain([raw]))
        .collect();
    // Entries of 4 bytes: the upper half is never read.
    let width = arch.entry_size() * 8;
    all.extend((0..20_000).map(|_| next(state)));
    all.extend([0, u64::MAX]);
    // The sweep last: `check` flips bits around the entries before it only.
    let highs =
        (52..64)
            .map(|bit| 1u64 << bit)
            .chain([0, 1 << 12, 1 << 21, 1 << 30, 1 << 39, 0x1ff << 12]);
    for high in highs {
        all.extend((0..4096).map(|low| high | low));
    }
    if width < 64 {
        for raw in &mut all {
            *raw &= (1 << width) - 1;
        }
    }
    all
}

/// Returns the number of entries compared at each real level.
fn check<A: Arch>(arch: A) -> Vec<(Level, usize)> {
    let mut state = 0x2545_f491_4f6c_dd1d;
    let mut levels = Vec::new();
    for &level in Level::ALL.iter() {
        if arch.is_passthrough(level) {
            continue;
        }
        let mut compared = 0;
        let all = entries(&arch, level, &mut state);
        let bits = arch.leaf_bits(level);
        for &raw in &all[..all.len() - SWEEP] {
            // Any bits outside `leaf_bits` changed, the answer stays.
            let other = (raw & bits) | (next(&mut state) & !bits);
            for changed in (0..64).map(|bit| raw ^ (1 << bit) & !bits).chain([other]) {
                assert_eq!(
                    arch.is_leaf(level, changed),
                    arch.is_leaf(level, raw),
                    "{} {level:?}: {raw:#x} and {changed:#x} differ only outside {bits:#x}",
                    arch.name()
                );
            }
        }
        for raw in all {
            let decoded = arch.decode(level, raw);
            assert_eq!(
                arch.is_leaf(level, raw),
                matches!(decoded, Decoded::Leaf(..)),
                "{} {level:?} {raw:#x}: decodes as {decoded:?}",
                arch.name()
            );
            compared += 1;
        }
        levels.push((level, compared));
    }
    levels
}

#[test]
fn is_leaf_says_leaf_exactly_where_decode_does() {
    let modes = [
        check(X86_64::FOUR_LEVEL),
        check(X86_64::FIVE_LEVEL),
        check(X86_32::TWO_LEVEL),
        check(X86_32::PAE),
        check(X86_32::PAE_UNSHARED_PMD),
        check(Arm64::VA_39),
        check(Arm64::VA_48),
        check(Arm64::VA_52),
        check(Riscv64::SV39),
        check(Riscv64::SV48),
        check(Riscv64::SV57),
        check(Arm32::SHORT),
        check(Arm32::SHORT_PXN),
    ];
    // Every real level of every mode was asked about, the PTE level
    // included, with the random words and the sweep.
    for levels in &modes {
        assert!(levels.iter().any(|&(l, _)| l == Level::Pte), "{levels:?}");
        assert!(levels.len() >= 2, "{levels:?}");
        assert!(
            levels.iter().all(|&(_, n)| n >= 20_000 + SWEEP),
            "{levels:?}"
        );
    }
}
