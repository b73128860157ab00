use super::*;

#[test]
fn geometry_and_satp() {
    assert_eq!((Scheme::Sv39.levels(), Scheme::Sv39.va_bits()), (3, 39));
    assert_eq!((Scheme::Sv48.levels(), Scheme::Sv48.va_bits()), (4, 48));
    assert_eq!((Scheme::Sv57.levels(), Scheme::Sv57.va_bits()), (5, 57));
    let m = Riscv64Mmu::new(Scheme::Sv48);
    assert_eq!(m.root_level(), 3);
    let satp = m.satp(0x8020_3000, 7);
    assert_eq!(satp >> 60, 9);
    assert_eq!((satp >> 44) & 0xffff, 7);
    assert_eq!(Riscv64Mmu::satp_root(satp), 0x8020_3000);
    let m39 = Riscv64Mmu::new(Scheme::Sv39);
    assert!(m39.is_canonical(0x3f_ffff_ffff));
    assert!(m39.is_canonical(0xffff_ffc0_0000_0000));
    assert!(!m39.is_canonical(0x40_0000_0000));
    assert!(m.is_canonical(0x40_0000_0000));
    assert_eq!(level_shift(2), 30);
}
