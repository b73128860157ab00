use super::super::build::{l1_pa, l2_pa};
use super::super::desc::*;
use super::*;
use crate::test_util::MemBus;
use std::vec;
use std::vec::Vec;

/// (va, size, pa, level) of an enumerated leaf.
type Row = (u64, u64, u64, i8);

fn collect(
    m: &Arm32Mmu,
    bus: &MemBus,
    roots: Roots,
    start: u64,
    end: u64,
) -> (Vec<Row>, Result<(), Fault>) {
    let mut v = Vec::new();
    let r = m.for_each_leaf(bus, &roots, start, end, &mut |l| {
        v.push((l.va, l.xlat.size, l.xlat.pa, l.level))
    });
    (v, r)
}

/// Maps one of each size; returns the expected (va, size, pa, level).
fn populate(bus: &MemBus, m: &Arm32Mmu, t0: u64, t1: u64) -> Vec<Row> {
    let ap = sect_ap(0b011);
    let pg = page_ap(0b011);
    bus.set32(l2_pa(bus, m, t0, 0x0010_3000, 0), 0x7000 | pg | L2_SMALL);
    for k in 0..16 {
        bus.set32(
            l2_pa(bus, m, t0, 0x0012_0000 + k * 0x1000, 0),
            0x5_0000 | pg | L2_LARGE,
        );
    }
    bus.set32(l1_pa(m, t0, 0x0800_0000), 0x0800_0000 | ap | L1_SECTION);
    let sup = 0x0900_0000 | SUPERSECTION | ap | L1_SECTION;
    for k in 0..16 {
        bus.set32(l1_pa(m, t0, 0x1000_0000) + 4 * k, sup);
    }
    let kt = if m.ttbcr_n > 0 { t1 } else { t0 };
    bus.set32(l1_pa(m, kt, 0xc000_0000), sect_ap(0b001) | L1_SECTION);
    vec![
        (0x0010_3000, 0x1000, 0x7000, 2),
        (0x0012_0000, 0x1_0000, 0x5_0000, 2),
        (0x0800_0000, 0x10_0000, 0x0800_0000, 1),
        (0x1000_0000, 0x100_0000, 0x0900_0000, 1),
        (0xc000_0000, 0x10_0000, 0, 1),
    ]
}

#[test]
fn finds_exactly_the_mapped_leaves() {
    for m in [Arm32Mmu::new(), Arm32Mmu::with_n(2)] {
        let bus = MemBus::new();
        let t0 = bus.alloc_aligned(0x4000);
        let t1 = bus.alloc_aligned(0x4000);
        let want = populate(&bus, &m, t0, t1);
        let (got, r) = collect(&m, &bus, Roots::split(t0, t1), 0, 0);
        r.unwrap();
        assert_eq!(got, want, "N = {}", m.ttbcr_n);
        // A range starting inside the large page and the supersection.
        let (got, r) = collect(&m, &bus, Roots::split(t0, t1), 0x0012_8000, 0x1080_0000);
        r.unwrap();
        assert_eq!(got, want[1..4].to_vec());
    }
}

#[test]
fn bad_replication_is_reported() {
    let m = Arm32Mmu::new();
    let bus = MemBus::new();
    let t0 = bus.alloc_aligned(0x4000);
    let want = populate(&bus, &m, t0, 0);
    // Break the 9th replica of the large page.
    let epa = l2_pa(&bus, &m, t0, 0x0012_8000, 0);
    bus.set32(epa, bus.get32(epa) | SMALL_XN << 15);
    let (got, r) = collect(&m, &bus, Roots::single(t0), 0, 0);
    let f = r.unwrap_err();
    assert_eq!(
        (f.kind, f.level, f.addr),
        (FaultKind::ReservedBit, 2, 0x0012_0000)
    );
    let mut rest = want.clone();
    rest.remove(1);
    assert_eq!(got, rest);
    // A lone supersection entry not at a group start.
    let sup = bus.get32(l1_pa(&m, t0, 0x1000_0000));
    bus.set32(l1_pa(&m, t0, 0x2030_0000), sup);
    let (_, r) = collect(&m, &bus, Roots::single(t0), 0x2000_0000, 0);
    let f = r.unwrap_err();
    assert_eq!(
        (f.kind, f.level, f.addr),
        (FaultKind::ReservedBit, 1, 0x2030_0000)
    );
}

#[test]
fn neutral_translate_matches() {
    let m = Arm32Mmu::with_n(2);
    let bus = MemBus::new();
    let t0 = bus.alloc_aligned(0x4000);
    let t1 = bus.alloc_aligned(0x4000);
    populate(&bus, &m, t0, t1);
    let x = m
        .translate_any(
            &bus,
            &Roots::split(t0, t1),
            0xc000_0004,
            Access::Write,
            Mode::Supervisor,
        )
        .unwrap();
    assert!(x.writable && !x.user && x.executable && x.global);
    assert_eq!(x.pa, 4);
    let f = m
        .translate_any(
            &bus,
            &Roots::single(t0),
            0xc000_0004,
            Access::Read,
            Mode::Supervisor,
        )
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::NotPresent, 1));
}
