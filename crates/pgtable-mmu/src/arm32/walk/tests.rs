use super::super::build::{l1_pa, l2_pa};
use super::super::desc::*;
use super::*;
use crate::test_util::MemBus;
use Access::*;
use Mode::*;

/// AP = 0b001: PL1 read/write, PL0 none (kernel data).
const KRW: u32 = 0b001;
/// AP = 0b011: full access.
const URW: u32 = 0b011;
/// AP = 0b111: read-only everywhere.
const URO: u32 = 0b111;

fn setup() -> (MemBus, u64, u64) {
    let bus = MemBus::new();
    let t0 = bus.alloc_aligned(0x4000);
    let t1 = bus.alloc_aligned(0x4000);
    (bus, t0, t1)
}

fn small(bus: &MemBus, m: &Arm32Mmu, l1: u64, va: u64, pa: u64, bits: u32) {
    bus.set32(l2_pa(bus, m, l1, va, 0), pa as u32 | bits | L2_SMALL);
}

fn err(
    m: &Arm32Mmu,
    bus: &MemBus,
    t0: u64,
    t1: u64,
    va: u64,
    a: Access,
    md: Mode,
) -> (FaultKind, i8, &'static str) {
    let f = m.translate(bus, t0, t1, va, a, md).unwrap_err();
    assert_eq!((f.addr, f.access, f.mode), (va, a, md));
    (f.kind, f.level, f.detail)
}

#[test]
fn every_page_size() {
    let m = Arm32Mmu::new();
    let (bus, t0, t1) = setup();
    // 4 KiB small page.
    small(
        &bus,
        &m,
        t0,
        0x8000_3000,
        0x1234_5000,
        page_ap(URW) | PAGE_NG,
    );
    let l = m.translate(&bus, t0, t1, 0x8000_3abc, Write, User).unwrap();
    assert_eq!((l.xlat.pa, l.xlat.size, l.level), (0x1234_5abc, 0x1000, 2));
    assert!(l.xlat.user && l.xlat.writable && l.xlat.executable && !l.xlat.global);
    // 64 KiB large page: 16 replicated entries, VA[15:12] kept.
    for i in 0..16 {
        let d = 0x5555_0000 | page_ap(KRW) | LARGE_XN | L2_LARGE;
        bus.set32(l2_pa(&bus, &m, t0, 0x8001_0000 + i * 0x1000, 0), d);
    }
    let l = m
        .translate(&bus, t0, t1, 0x8001_7004, Read, Supervisor)
        .unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x5555_7004, 0x1_0000, 2)
    );
    assert!(!l.xlat.user && l.xlat.writable && !l.xlat.executable && l.xlat.global);
    // 1 MiB section.
    bus.set32(
        l1_pa(&m, t0, 0xc010_0000),
        0x4560_0000 | sect_ap(KRW) | L1_SECTION,
    );
    let l = m
        .translate(&bus, t0, t1, 0xc01f_fff0, Execute, Supervisor)
        .unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x456f_fff0, 0x10_0000, 1)
    );
    // 16 MiB supersection with a 40-bit PA: bits [23:20] are PA[35:32],
    // [8:5] PA[39:36].
    let d = 0x0100_0000 | (0x3 << 20) | (0x9 << 5) | SUPERSECTION | sect_ap(URO) | L1_SECTION;
    // Replicated in 16 consecutive first-level entries; the walk uses the
    // one VA[31:20] selects.
    for k in 0..16 {
        bus.set32(l1_pa(&m, t0, 0xd000_0000) + 4 * k, d);
    }
    let l = m.translate(&bus, t0, t1, 0xd0ab_cdef, Read, User).unwrap();
    assert_eq!((l.xlat.pa, l.xlat.size), (0x93_01ab_cdef, 1 << 24));
    assert!(l.xlat.user && !l.xlat.writable);
    let no_super = Arm32Mmu {
        supersections: false,
        ..m
    };
    assert_eq!(
        err(&no_super, &bus, t0, t1, 0xd000_0000, Read, User).0,
        FaultKind::NotPresent
    );
}

#[test]
fn split_n2() {
    let m = Arm32Mmu::with_n(2);
    let (bus, t1, _) = setup();
    // TTBR0 has a 4 KiB first-level table (1024 entries) with N = 2.
    let t0 = bus.alloc();
    small(&bus, &m, t0, 0x0804_8000, 0x7000, page_ap(URW));
    assert_eq!(l1_pa(&m, t0, 0x0804_8000), t0 + 4 * 0x80);
    bus.set32(l1_pa(&m, t1, 0xc000_0000), sect_ap(KRW) | L1_SECTION);
    assert_eq!(l1_pa(&m, t1, 0xc000_0000), t1 + 4 * 0xc00);
    assert_eq!(
        m.translate(&bus, t0, t1, 0x0804_8010, Read, User)
            .unwrap()
            .xlat
            .pa,
        0x7010
    );
    assert_eq!(
        m.translate(&bus, t0, t1, 0xc000_0010, Read, Supervisor)
            .unwrap()
            .xlat
            .pa,
        0x10
    );
    // Swapping the TTBRs: each VA misses.
    assert_eq!(err(&m, &bus, t1, t0, 0x0804_8010, Read, User).1, 1);
    assert_eq!(err(&m, &bus, t1, t0, 0xc000_0000, Read, Supervisor).1, 1);
}

#[test]
fn translation_faults_and_section_vs_table() {
    let m = Arm32Mmu::new();
    let (bus, t0, t1) = setup();
    let va = 0x4000_5000;
    assert_eq!(
        err(&m, &bus, t0, t1, va, Read, Supervisor),
        (FaultKind::NotPresent, 1, "first-level fault descriptor")
    );
    // A page table with no entry for va: level 2.
    small(&bus, &m, t0, va + 0x1000, 0x9000, page_ap(KRW));
    assert_eq!(
        err(&m, &bus, t0, t1, va, Read, Supervisor),
        (FaultKind::NotPresent, 2, "second-level fault descriptor")
    );
    assert!(m
        .translate(&bus, t0, t1, va + 0x1000, Read, Supervisor)
        .is_ok());
    // The same first-level slot as a section maps all of its MiB.
    let slot = l1_pa(&m, t0, va);
    let table = bus.get32(slot);
    bus.set32(slot, 0x8000_0000 | sect_ap(KRW) | L1_SECTION);
    assert_eq!(
        m.translate(&bus, t0, t1, va, Read, Supervisor)
            .unwrap()
            .xlat
            .pa,
        0x8000_5000
    );
    bus.set32(slot, table);
    // bits[1:0] = 0b11 is a section with PXN, or reserved without PXN.
    bus.set32(slot, 0x8000_0000 | sect_ap(KRW) | 0b11);
    assert_eq!(
        err(&m, &bus, t0, t1, va, Execute, Supervisor),
        (FaultKind::Protection, 1, "PXN")
    );
    let old = Arm32Mmu { pxn: false, ..m };
    assert_eq!(
        err(&old, &bus, t0, t1, va, Read, Supervisor).0,
        FaultKind::NotPresent
    );
    assert_eq!(
        err(&m, &bus, t0, t1, 1 << 32, Read, Supervisor).0,
        FaultKind::NonCanonical
    );
}

#[test]
fn permissions() {
    let m = Arm32Mmu::new();
    let (bus, t0, t1) = setup();
    let va = 0xc000_1000;
    small(&bus, &m, t0, va, 0x7000, page_ap(KRW));
    assert!(m.translate(&bus, t0, t1, va, Write, Supervisor).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, va, Read, User),
        (FaultKind::Protection, 2, "AP: no access")
    );
    // Read-only (APX set).
    small(&bus, &m, t0, va, 0x7000, page_ap(0b101));
    assert_eq!(
        err(&m, &bus, t0, t1, va, Write, Supervisor),
        (FaultKind::Protection, 2, "AP: not writable")
    );
    // PL1 RW, PL0 RO.
    small(&bus, &m, t0, va, 0x7000, page_ap(0b010));
    assert!(m.translate(&bus, t0, t1, va, Read, User).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, va, Write, User).0,
        FaultKind::Protection
    );
    let x = m.translate(&bus, t0, t1, va, Read, User).unwrap().xlat;
    assert!(x.user && !x.writable);
    // XN on a small page; PXN from the page-table descriptor.
    small(&bus, &m, t0, va, 0x7000, page_ap(URW) | SMALL_XN);
    assert_eq!(
        err(&m, &bus, t0, t1, va, Execute, User),
        (FaultKind::Protection, 2, "XN")
    );
    small(&bus, &m, t0, va, 0x7000, page_ap(KRW));
    let slot = l1_pa(&m, t0, va);
    bus.set32(slot, bus.get32(slot) | L1_PT_PXN);
    assert_eq!(err(&m, &bus, t0, t1, va, Execute, Supervisor).2, "PXN");
    // Reserved AP.
    small(&bus, &m, t0, va, 0x7000, page_ap(0b100));
    assert_eq!(
        err(&m, &bus, t0, t1, va, Read, Supervisor).0,
        FaultKind::ReservedBit
    );
}

#[test]
fn domains() {
    let m = Arm32Mmu {
        dacr: 0b01,
        ..Arm32Mmu::new()
    };
    let (bus, t0, t1) = setup();
    // Domain 0 is a client; domain 1 is "no access".
    bus.set32(
        l1_pa(&m, t0, 0x1000_0000),
        0x1000_0000 | sect_ap(URO) | L1_SECTION,
    );
    bus.set32(
        l1_pa(&m, t0, 0x2000_0000),
        0x2000_0000 | (1 << DOMAIN_SHIFT) | sect_ap(URW) | L1_SECTION,
    );
    assert!(m.translate(&bus, t0, t1, 0x1000_0000, Read, User).is_ok());
    assert_eq!(
        err(&m, &bus, t0, t1, 0x1000_0000, Write, User).0,
        FaultKind::Protection
    );
    assert_eq!(
        err(&m, &bus, t0, t1, 0x2000_0000, Read, Supervisor),
        (FaultKind::Protection, 1, "domain fault (DACR no access)")
    );
    // A manager domain is not checked against AP.
    let mgr = Arm32Mmu { dacr: 0b11, ..m };
    assert!(mgr
        .translate(&bus, t0, t1, 0x1000_0000, Write, User)
        .is_ok());
}
