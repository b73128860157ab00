use super::*;

#[test]
fn ttbr_split() {
    let m = Arm32Mmu::new();
    assert_eq!(m.half(0xffff_ffff), Half::Lower);
    assert_eq!(m.l1_base(0x8000_405b, Half::Lower), 0x8000_4000);
    let s = Arm32Mmu::with_n(2);
    assert_eq!(s.boundary(), 0x4000_0000);
    assert_eq!(s.half(0x3fff_ffff), Half::Lower);
    assert_eq!(s.half(0x4000_0000), Half::Upper);
    assert_eq!(Arm32Mmu::with_n(1).boundary(), 0x8000_0000);
    // TTBR0's table is 4 KiB (1024 entries) with N = 2.
    assert_eq!(s.l1_base(0x8000_1000, Half::Lower), 0x8000_1000);
    assert_eq!(s.l1_base(0x8000_1000, Half::Upper), 0x8000_0000);
    assert_eq!(
        Arm32Mmu {
            dacr: 0b11 << 4,
            ..m
        }
        .domain_access(2),
        3
    );
}
