use super::super::build::{clear, entry_pa, map, or};
use super::super::desc::*;
use super::*;
use crate::test_util::MemBus;
use Access::*;
use Mode::*;

const KVA: u64 = 0xffff_8000_1234_5000;
const UVA: u64 = 0x0000_0040_0060_3000;

fn setup() -> (MemBus, u64, u64) {
    let bus = MemBus::new();
    let t0 = bus.alloc();
    let t1 = bus.alloc();
    (bus, t0, t1)
}

fn err(
    m: &Arm64Mmu,
    bus: &MemBus,
    t0: u64,
    t1: u64,
    va: u64,
    a: Access,
    md: Mode,
) -> (FaultKind, i8) {
    let f = m.translate(bus, t0, t1, va, a, md).unwrap_err();
    assert_eq!((f.addr, f.access, f.mode), (va, a, md));
    (f.kind, f.level)
}

#[test]
fn pages_and_blocks_48() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    map(
        &bus,
        &m,
        Half::Upper,
        t1,
        KVA,
        0x8765_4000,
        3,
        UXN | (3 << ATTR_INDX_SHIFT),
    );
    let l = m
        .translate(&bus, t0, t1, KVA + 0x123, Read, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.xlat.size, l.level), (0x8765_4123, 0x1000, 3));
    assert!(l.xlat.writable && !l.xlat.user && l.xlat.executable && l.xlat.global);
    assert_eq!(attr_index(l.entry), 3);
    assert_eq!(l.entry_pa, entry_pa(&bus, &m, Half::Upper, t1, KVA, 3));
    // 2 MiB block at level 2 in TTBR0, user RW, not global.
    let u2 = 0x0000_1234_5660_0000;
    map(
        &bus,
        &m,
        Half::Lower,
        t0,
        u2,
        0x1_2340_0000,
        2,
        AP_EL0 | NG | PXN,
    );
    let l = m
        .translate(&bus, t0, t1, u2 + 0x1f_fff8, Write, User)
        .unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x1_2340_0000 + 0x1f_fff8, 0x20_0000, 2)
    );
    assert!(l.xlat.user && l.xlat.writable && l.xlat.executable && !l.xlat.global);
    // 1 GiB block at level 1.
    let u1 = 0x0000_0080_4000_0000;
    map(
        &bus,
        &m,
        Half::Lower,
        t0,
        u1,
        0x3_c000_0000,
        1,
        AP_EL0 | AP_RO | UXN,
    );
    let l = m
        .translate(&bus, t0, t1, u1 + 0x3abc_d123, Read, User)
        .unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x3_fabc_d123, 0x4000_0000, 1)
    );
    assert!(l.xlat.user && !l.xlat.writable && !l.xlat.executable);
    // The same VA in the other tree is not mapped.
    assert_eq!(
        err(&m, &bus, t1, t0, u1, Read, User),
        (FaultKind::NotPresent, 0)
    );
}

#[test]
fn three_levels_39() {
    let m = Arm64Mmu::new_39();
    let (bus, t0, t1) = setup();
    let kva = 0xffff_ffc0_0020_1000;
    map(&bus, &m, Half::Upper, t1, kva, 0x5000, 3, 0);
    // The upper 39-bit range starts at 0xffff_ff80_0000_0000: index 256.
    assert_eq!(entry_pa(&bus, &m, Half::Upper, t1, kva, 1), t1 + 8 * 256);
    assert_eq!(
        m.translate(&bus, t0, t1, kva + 1, Read, Supervisor)
            .unwrap()
            .xlat
            .pa,
        0x5001
    );
    map(
        &bus,
        &m,
        Half::Upper,
        t1,
        0xffff_ffc0_4000_0000,
        0x8000_0000,
        1,
        0,
    );
    let l = m
        .translate(&bus, t0, t1, 0xffff_ffc0_4000_0010, Read, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.level), (0x8000_0010, 1));
    // Outside the 39-bit ranges: a level 0 translation fault, no read.
    bus.reads.set(0);
    assert_eq!(
        err(&m, &bus, t0, t1, 0xffff_ff00_0000_0000, Read, Supervisor),
        (FaultKind::NotPresent, 0)
    );
    assert_eq!(bus.reads.get(), 0);
    // An empty lower tree faults at the start level, 1.
    assert_eq!(
        err(&m, &bus, t0, t1, 0x1000, Read, User),
        (FaultKind::NotPresent, 1)
    );
}

#[test]
fn lpa2_52_bit() {
    let m = Arm64Mmu::new_52();
    let (bus, t0, t1) = setup();
    // Level -1 index 0, high output address bits in [9:8] and [49:48].
    let kva = 0xfff0_0000_0040_3000;
    let pa = 0xc_0000_1234_5000;
    map(&bus, &m, Half::Upper, t1, kva, pa, 3, 0);
    assert_eq!(entry_pa(&bus, &m, Half::Upper, t1, kva, -1), t1);
    let l = m
        .translate(&bus, t0, t1, kva + 8, Read, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.level), (pa + 8, 3));
    // 512 GiB block at level 0 (DS only).
    let uva = 0x000f_ff80_0000_0000;
    map(
        &bus,
        &m,
        Half::Lower,
        t0,
        uva,
        0x8_0000_0000_0000,
        0,
        AP_EL0,
    );
    let l = m
        .translate(&bus, t0, t1, uva + 0x12_3456_789a, Read, User)
        .unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x8_0012_3456_789a, 1 << 39, 0)
    );
    // A block at level -1 is a translation fault there.
    let l_1 = entry_pa(&bus, &m, Half::Lower, t0, 0x1000, -1);
    bus.set(l_1, BLOCK);
    assert_eq!(
        err(&m, &bus, t0, t1, 0x1000, Read, User),
        (FaultKind::NotPresent, -1)
    );
}

/// Clearing VALID at each level in turn reports exactly that level.
fn invalid_each_level(m: Arm64Mmu, va: u64, half: Half) {
    let (bus, t0, t1) = setup();
    let root = if half == Half::Lower { t0 } else { t1 };
    for level in m.start_level(half)..=3 {
        map(&bus, &m, half, root, va, 0x7000, 3, AP_EL0);
        clear(&bus, &m, half, root, va, level, VALID);
        let f = m.translate(&bus, t0, t1, va, Write, User).unwrap_err();
        assert_eq!(
            (f.kind, f.level, f.detail),
            (FaultKind::NotPresent, level, "invalid descriptor")
        );
        or(&bus, &m, half, root, va, level, VALID);
    }
    assert!(m.translate(&bus, t0, t1, va, Write, User).is_ok());
}

#[test]
fn translation_fault_levels() {
    invalid_each_level(Arm64Mmu::new_48(), UVA, Half::Lower);
    invalid_each_level(Arm64Mmu::new_48(), KVA, Half::Upper);
    invalid_each_level(Arm64Mmu::new_39(), UVA, Half::Lower);
    invalid_each_level(Arm64Mmu::new_52(), 0xfff8_0000_0000_1000, Half::Upper);
}

#[test]
fn reserved_encodings_and_disabled_walks() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    // bits[1:0] = 01 at level 3 is reserved.
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 3, 0);
    clear(&bus, &m, Half::Upper, t1, KVA, 3, TABLE);
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Read, Supervisor),
        (FaultKind::NotPresent, 3)
    );
    // A level 0 block without DS.
    bus.set(
        entry_pa(&bus, &m, Half::Lower, t0, 0, 0),
        0x4000_0000 | AF | BLOCK,
    );
    assert_eq!(
        err(&m, &bus, t0, t1, 0x10, Read, Supervisor),
        (FaultKind::NotPresent, 0)
    );
    // EPD1: the upper range does not walk.
    let f = m
        .translate_opt(&bus, Some(t0), None, KVA, Read, Supervisor)
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::NotPresent, 0));
}

#[test]
fn address_size_faults() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    // OA bit 48 set: bits [51:48] are RES0 for the 4K granule without DS.
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 3, 0);
    or(&bus, &m, Half::Upper, t1, KVA, 3, 1 << 48);
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Read, Supervisor),
        (FaultKind::AddressSize, 3)
    );
    // A 40-bit PA size: a level 1 table address at 2^40 is too wide.
    let m40 = Arm64Mmu { pa_bits: 40, ..m };
    map(&bus, &m, Half::Lower, t0, UVA, 0x7000, 3, 0);
    assert!(m40.translate(&bus, t0, t1, UVA, Read, Supervisor).is_ok());
    or(&bus, &m, Half::Lower, t0, UVA, 1, 1 << 40);
    assert_eq!(
        err(&m40, &bus, t0, t1, UVA, Read, Supervisor),
        (FaultKind::AddressSize, 1)
    );
    // A TTBR base above the PA size: level 0.
    assert_eq!(
        err(&m40, &bus, 1 << 41, t1, UVA, Read, Supervisor),
        (FaultKind::AddressSize, 0)
    );
}

#[test]
fn access_flag() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 2, AP_RO);
    clear(&bus, &m, Half::Upper, t1, KVA, 2, AF);
    let f = m
        .translate(&bus, t0, t1, KVA, Read, Supervisor)
        .unwrap_err();
    assert_eq!(
        (f.kind, f.level, f.detail),
        (FaultKind::AccessFlag, 2, "AF = 0")
    );
    // It takes priority over the permission fault a write would also take.
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Write, User),
        (FaultKind::AccessFlag, 2)
    );
    // With HA a permitted access sets AF; a denied one does not.
    let ha = Arm64Mmu { ha: true, ..m };
    let epa = entry_pa(&bus, &m, Half::Upper, t1, KVA, 2);
    assert_eq!(
        err(&ha, &bus, t0, t1, KVA, Write, Supervisor),
        (FaultKind::Protection, 2)
    );
    assert_eq!(bus.get(epa) & AF, 0);
    let l = ha.translate(&bus, t0, t1, KVA, Read, Supervisor).unwrap();
    assert_eq!((l.entry & AF, bus.get(epa) & AF), (AF, AF));
    let w = bus.writes.get();
    ha.translate(&bus, t0, t1, KVA, Read, Supervisor).unwrap();
    assert_eq!(bus.writes.get(), w);
}

#[test]
fn data_permissions() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    // Kernel read-only page: EL1 write and any EL0 access fault.
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 3, AP_RO);
    assert!(m.translate(&bus, t0, t1, KVA, Read, Supervisor).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Write, Supervisor),
        (FaultKind::Protection, 3)
    );
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Read, User),
        (FaultKind::Protection, 3)
    );
    // User RO page: EL0 read ok, EL0 write faults.
    map(&bus, &m, Half::Lower, t0, UVA, 0x9000, 3, AP_EL0 | AP_RO);
    assert!(m.translate(&bus, t0, t1, UVA, Read, User).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Write, User),
        (FaultKind::Protection, 3)
    );
    // PAN: EL1 data access to an EL0-accessible page faults.
    let pan = Arm64Mmu { pan: true, ..m };
    assert!(m.translate(&bus, t0, t1, UVA, Read, Supervisor).is_ok());
    assert_eq!(
        err(&pan, &bus, t0, t1, UVA, Read, Supervisor),
        (FaultKind::Protection, 3)
    );
    assert!(pan.translate(&bus, t0, t1, KVA, Read, Supervisor).is_ok());
}

#[test]
fn execute_permissions() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 3, PXN | UXN);
    assert_eq!(
        err(&m, &bus, t0, t1, KVA, Execute, Supervisor),
        (FaultKind::Protection, 3)
    );
    // EL0 execute-only: AP[1] = 0 but UXN = 0.
    map(&bus, &m, Half::Lower, t0, UVA, 0x9000, 3, AP_RO | PXN);
    assert!(m.translate(&bus, t0, t1, UVA, Execute, User).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Read, User),
        (FaultKind::Protection, 3)
    );
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Execute, Supervisor),
        (FaultKind::Protection, 3)
    );
    // EL0-writable memory is implicitly PXN.
    map(&bus, &m, Half::Lower, t0, UVA, 0x9000, 3, AP_EL0);
    let f = m
        .translate(&bus, t0, t1, UVA, Execute, Supervisor)
        .unwrap_err();
    assert_eq!(f.detail, "PXN, PXNTable or EL0-writable");
    map(&bus, &m, Half::Lower, t0, UVA, 0x9000, 3, AP_EL0 | AP_RO);
    assert!(m.translate(&bus, t0, t1, UVA, Execute, Supervisor).is_ok());
}

#[test]
fn hierarchical_permissions() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    map(&bus, &m, Half::Lower, t0, UVA, 0x9000, 3, AP_EL0);
    assert!(m.translate(&bus, t0, t1, UVA, Write, User).is_ok());
    // APTable[0] in the level 1 table descriptor: no EL0 access below.
    or(&bus, &m, Half::Lower, t0, UVA, 1, AP_TABLE_NO_EL0);
    let l = m.translate(&bus, t0, t1, UVA, Read, Supervisor).unwrap();
    assert!(!l.xlat.user);
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Read, User),
        (FaultKind::Protection, 3)
    );
    clear(&bus, &m, Half::Lower, t0, UVA, 1, AP_TABLE_NO_EL0);
    // APTable[1] in the level 0 descriptor: read-only below, at any EL.
    or(&bus, &m, Half::Lower, t0, UVA, 0, AP_TABLE_RO);
    assert!(m.translate(&bus, t0, t1, UVA, Read, User).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Write, User),
        (FaultKind::Protection, 3)
    );
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Write, Supervisor),
        (FaultKind::Protection, 3)
    );
    clear(&bus, &m, Half::Lower, t0, UVA, 0, AP_TABLE_RO);
    // UXNTable at level 2.
    or(&bus, &m, Half::Lower, t0, UVA, 2, UXN_TABLE);
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Execute, User),
        (FaultKind::Protection, 3)
    );
    // PXNTable: a kernel executable page under it cannot be fetched at EL1.
    map(&bus, &m, Half::Upper, t1, KVA, 0x7000, 3, UXN);
    assert!(m.translate(&bus, t0, t1, KVA, Execute, Supervisor).is_ok());
    or(&bus, &m, Half::Upper, t1, KVA, 2, PXN_TABLE);
    let f = m
        .translate(&bus, t0, t1, KVA, Execute, Supervisor)
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::Protection, 3));
    // Table attributes are ignored in block/page descriptors' positions:
    // bit 62 in a leaf is not APTable.
    map(
        &bus,
        &m,
        Half::Upper,
        t1,
        KVA + 0x1000,
        0x8000,
        3,
        AP_TABLE_RO,
    );
    assert!(m
        .translate(&bus, t0, t1, KVA + 0x1000, Write, Supervisor)
        .is_ok());
}

#[test]
fn hardware_dirty_state() {
    let m = Arm64Mmu::new_48();
    let (bus, t0, t1) = setup();
    map(
        &bus,
        &m,
        Half::Lower,
        t0,
        UVA,
        0x9000,
        3,
        AP_EL0 | AP_RO | DBM,
    );
    // Without HD, DBM is ignored: a write faults.
    assert_eq!(
        err(&m, &bus, t0, t1, UVA, Write, User),
        (FaultKind::Protection, 3)
    );
    let hd = m.with_hafdbs();
    let epa = entry_pa(&bus, &m, Half::Lower, t0, UVA, 3);
    assert!(
        hd.translate(&bus, t0, t1, UVA, Read, User)
            .unwrap()
            .xlat
            .writable
    );
    assert_eq!(bus.get(epa) & AP_RO, AP_RO);
    let l = hd.translate(&bus, t0, t1, UVA, Write, User).unwrap();
    assert_eq!((l.entry & AP_RO, bus.get(epa) & AP_RO), (0, 0));
    // APTable[1] above still forbids the write: no update.
    bus.set(epa, bus.get(epa) | AP_RO);
    or(&bus, &m, Half::Lower, t0, UVA, 2, AP_TABLE_RO);
    assert_eq!(
        err(&hd, &bus, t0, t1, UVA, Write, User),
        (FaultKind::Protection, 3)
    );
    assert_eq!(bus.get(epa) & AP_RO, AP_RO);
}
