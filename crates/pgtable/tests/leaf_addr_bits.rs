//! The contract of `EntryFormat::leaf_addr_bits`, which the map walk relies
//! on to write a run of leaves with one encoding and an addition per entry:
//! wherever a mode gives it, a leaf is the leaf for address 0 or'ed with
//! the address part, and the address part is linear in the frame number.

use pgtable::{
    Access, Arch, Arm32, Arm64, CacheMode, Level, PhysAddr, Prot, Riscv64, X86_32, X86_64,
};

/// xorshift64: the same addresses on every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Returns how many levels give the address part.
fn check<A: Arch>(arch: A) -> usize {
    let mut checked = 0;
    let caches = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
        CacheMode::Uncached,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for &level in Level::ALL.iter() {
        if arch.is_passthrough(level) || !arch.leaf_allowed(level) {
            continue;
        }
        let size = arch.level_size(level);
        let Some(unit) = arch.leaf_addr_bits(level, PhysAddr(size)) else {
            continue;
        };
        checked += 1;
        let frames = arch.phys_limit() / size;
        for bits in 0..16u8 {
            for &cache in &caches {
                let prot = Prot::new(Access::from_bits_truncate(bits), cache);
                let template = arch.encode_leaf(level, PhysAddr(0), prot);
                let mut pas = vec![0, frames - 1, frames / 2, 1];
                pas.extend((0..200).map(|_| next(&mut state) % frames));
                for frame in pas {
                    let pa = PhysAddr(frame * size);
                    let addr_bits = arch.leaf_addr_bits(level, pa).expect("given for size");
                    let name = arch.name();
                    assert_eq!(
                        addr_bits,
                        frame.wrapping_mul(unit),
                        "{name} {level:?} {pa:?}"
                    );
                    assert_eq!(
                        arch.encode_leaf(level, pa, prot),
                        template | addr_bits,
                        "{name} {level:?} {pa:?} {prot:?}"
                    );
                }
            }
        }
    }
    checked
}

#[test]
fn leaf_is_template_or_linear_address_part() {
    // The modes the map walk's fast path serves: every leaf level.
    assert_eq!(check(X86_64::FOUR_LEVEL), 3);
    assert_eq!(check(X86_64::FIVE_LEVEL), 3);
    assert_eq!(check(Arm64::VA_39), 3);
    assert_eq!(check(Arm64::VA_48), 3);
    assert_eq!(check(Riscv64::SV39), 3);
    assert_eq!(check(Riscv64::SV48), 4);
    assert_eq!(check(Riscv64::SV57), 5);
    // FEAT_LPA2 splits the address: each leaf is encoded in full.
    check(Arm64::VA_52);
    check(X86_32::TWO_LEVEL);
    check(X86_32::PAE);
    check(Arm32::SHORT);
}
