use super::*;

#[test]
fn geometry() {
    let m48 = Arm64Mmu::new_48();
    let m39 = Arm64Mmu::new_39();
    let m52 = Arm64Mmu::new_52();
    assert_eq!(m48.start_level(Half::Lower), 0);
    assert_eq!(m39.start_level(Half::Upper), 1);
    assert_eq!(m52.start_level(Half::Lower), -1);
    let m40 = Arm64Mmu { t0sz: 24, ..m48 };
    assert_eq!(m40.start_level(Half::Lower), 0);
    assert_eq!(m40.index(Half::Lower, 0, 0xff_ffff_ffff), 1);
    assert_eq!(level_shift(-1), 48);
    assert_eq!(level_shift(3), 12);
    assert_eq!(m52.index(Half::Upper, -1, 0xfff5_0000_0000_0000), 5);
}

#[test]
fn ranges_and_tbi() {
    let m = Arm64Mmu::new_48();
    assert_eq!(m.half(0x0000_ffff_ffff_ffff), Some(Half::Lower));
    assert_eq!(m.half(0xffff_0000_0000_0000), Some(Half::Upper));
    assert_eq!(m.half(0x0001_0000_0000_0000), None);
    assert_eq!(m.half(0xfffe_ffff_ffff_ffff), None);
    assert_eq!(m.half(0x5a00_0000_0000_1000), None);
    let tbi = Arm64Mmu { tbi0: true, ..m };
    assert_eq!(tbi.half(0x5a00_0000_0000_1000), Some(Half::Lower));
    assert_eq!(tbi.half(0x5a80_0000_0000_1000), None);
    let m39 = Arm64Mmu::new_39();
    assert_eq!(m39.half(0x0000_007f_ffff_ffff), Some(Half::Lower));
    assert_eq!(m39.half(0x0000_0080_0000_0000), None);
    assert_eq!(m39.half(0xffff_ff80_0000_0000), Some(Half::Upper));
}

#[test]
fn ttbr_base() {
    let m = Arm64Mmu::new_48();
    // ASID and CnP are ignored.
    assert_eq!(
        m.table_base(0x1234_0000_8000_1001, Half::Lower),
        0x8000_1000
    );
    let m52 = Arm64Mmu::new_52();
    // 16-entry level -1 table: 128-byte aligned, BADDR[51:48] in [5:2].
    assert_eq!(
        m52.table_base(0x8000_1080 | (0xa << 2), Half::Lower),
        0xa_0000_8000_1080
    );
}
