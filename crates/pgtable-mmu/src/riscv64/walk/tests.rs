use super::super::build::{edit, entry_pa, map};
use super::super::pte::*;
use super::super::Scheme;
use super::*;
use crate::test_util::MemBus;
use Access::*;
use Mode::*;

const KVA: u64 = 0xffff_ffc0_1234_5000;
const UVA: u64 = 0x0000_0000_4060_3000;

fn setup(s: Scheme) -> (Riscv64Mmu, MemBus, u64) {
    let bus = MemBus::new();
    let root = bus.alloc();
    (Riscv64Mmu::new(s), bus, root)
}

fn err(
    m: &Riscv64Mmu,
    bus: &MemBus,
    root: u64,
    va: u64,
    a: Access,
    md: Mode,
) -> (FaultKind, i8, &'static str) {
    let f = m.translate(bus, root, va, a, md).unwrap_err();
    assert_eq!((f.addr, f.access, f.mode), (va, a, md));
    (f.kind, f.level, f.detail)
}

#[test]
fn every_page_size() {
    for s in [Scheme::Sv39, Scheme::Sv48, Scheme::Sv57] {
        let (m, bus, root) = setup(s);
        for level in 0..m.scheme.levels() {
            let size = 1u64 << level_shift(level);
            // A distinct canonical VA per level in the lower half.
            let va = (size * (3 + level as u64)) & ((1 << (m.scheme.va_bits() - 1)) - 1);
            let pa = size * 5;
            map(&bus, &m, root, va, pa, level, R | W | U);
            let l = m.translate(&bus, root, va + 0x123, Write, User).unwrap();
            assert_eq!(
                (l.xlat.pa, l.xlat.size, l.level),
                (pa + 0x123, size, level),
                "{s:?}"
            );
            assert!(l.xlat.user && l.xlat.writable && !l.xlat.executable && !l.xlat.global);
        }
    }
}

#[test]
fn kernel_page_and_global() {
    let (m, bus, root) = setup(Scheme::Sv39);
    map(&bus, &m, root, KVA, 0x8765_4000, 0, R | X | G);
    let l = m
        .translate(&bus, root, KVA + 8, Execute, Supervisor)
        .unwrap();
    assert_eq!(l.xlat.pa, 0x8765_4008);
    assert!(l.xlat.global && l.xlat.executable && !l.xlat.writable && !l.xlat.user);
    assert_eq!(l.entry_pa, entry_pa(&bus, &m, root, KVA, 0));
    // G in a non-leaf PTE makes the whole subtree global.
    map(&bus, &m, root, UVA, 0x9000, 0, R);
    assert!(
        !m.translate(&bus, root, UVA, Read, Supervisor)
            .unwrap()
            .xlat
            .global
    );
    edit(&bus, &m, root, UVA, 2, |e| e | G);
    assert!(
        m.translate(&bus, root, UVA, Read, Supervisor)
            .unwrap()
            .xlat
            .global
    );
}

/// Clearing V at each level reports that level.
#[test]
fn invalid_at_each_level() {
    for s in [Scheme::Sv39, Scheme::Sv48, Scheme::Sv57] {
        let (m, bus, root) = setup(s);
        for level in (0..m.scheme.levels()).rev() {
            map(&bus, &m, root, UVA, 0x7000, 0, R | W | U);
            edit(&bus, &m, root, UVA, level, |e| e & !V);
            assert_eq!(
                err(&m, &bus, root, UVA, Read, User),
                (FaultKind::NotPresent, level, "V = 0")
            );
            edit(&bus, &m, root, UVA, level, |e| e | V);
        }
        assert!(m.translate(&bus, root, UVA, Read, User).is_ok());
    }
}

#[test]
fn non_canonical() {
    let (m, bus, root) = setup(Scheme::Sv39);
    bus.reads.set(0);
    let (k, l, _) = err(&m, &bus, root, 0x40_0000_0000, Read, Supervisor);
    assert_eq!((k, l, bus.reads.get()), (FaultKind::NonCanonical, 2, 0));
    // The same address is canonical (and just unmapped) under Sv48.
    let m48 = Riscv64Mmu::new(Scheme::Sv48);
    assert_eq!(
        err(&m48, &bus, root, 0x40_0000_0000, Read, Supervisor).0,
        FaultKind::NotPresent
    );
}

#[test]
fn malformed_entries() {
    let (m, bus, root) = setup(Scheme::Sv48);
    // W without R, in a leaf and as a would-be pointer.
    map(&bus, &m, root, UVA, 0x7000, 0, W | U);
    assert_eq!(
        err(&m, &bus, root, UVA, Read, User),
        (FaultKind::ReservedBit, 0, "W = 1 with R = 0")
    );
    edit(&bus, &m, root, UVA, 1, |e| e | W);
    assert_eq!(err(&m, &bus, root, UVA, Read, User).1, 1);
    edit(&bus, &m, root, UVA, 1, |e| e & !W);
    // Reserved bits 60:54.
    map(&bus, &m, root, UVA, 0x7000, 0, R | U | (1 << 57));
    assert_eq!(
        err(&m, &bus, root, UVA, Read, User).0,
        FaultKind::ReservedBit
    );
    // A pointer at level 0.
    map(&bus, &m, root, UVA, 0x7000, 0, 0);
    assert_eq!(
        err(&m, &bus, root, UVA, Read, User),
        (FaultKind::ReservedBit, 0, "pointer PTE at level 0")
    );
}

#[test]
fn misaligned_superpages() {
    let (m, bus, root) = setup(Scheme::Sv39);
    // A 2 MiB megapage whose PPN[0] is not zero.
    map(&bus, &m, root, 0x20_0000, 0x40_1000, 1, R | W);
    assert_eq!(
        err(&m, &bus, root, 0x20_0000, Read, Supervisor),
        (FaultKind::ReservedBit, 1, "misaligned superpage")
    );
    // A 1 GiB gigapage with PPN[1] not zero.
    map(&bus, &m, root, 0x4000_0000, 0x8020_0000, 2, R | W);
    assert_eq!(err(&m, &bus, root, 0x4000_0000, Read, Supervisor).1, 2);
    // Permission is checked first (step 5 before step 6).
    assert_eq!(
        err(&m, &bus, root, 0x4000_0000, Read, User).0,
        FaultKind::Protection
    );
    map(&bus, &m, root, 0x4000_0000, 0x8000_0000, 2, R | W);
    assert!(m
        .translate(&bus, root, 0x4000_0000, Read, Supervisor)
        .is_ok());
}

#[test]
fn permissions_sum_mxr() {
    let (m, bus, root) = setup(Scheme::Sv39);
    map(&bus, &m, root, KVA, 0x7000, 0, R);
    assert_eq!(
        err(&m, &bus, root, KVA, Write, Supervisor),
        (FaultKind::Protection, 0, "W = 0")
    );
    assert_eq!(err(&m, &bus, root, KVA, Execute, Supervisor).2, "X = 0");
    assert_eq!(
        err(&m, &bus, root, KVA, Read, User).2,
        "U = 0 page accessed from U-mode"
    );
    // U page: S-mode data needs SUM, S-mode fetch always faults.
    map(&bus, &m, root, UVA, 0x9000, 0, R | W | X | U);
    assert!(m.translate(&bus, root, UVA, Execute, User).is_ok());
    assert_eq!(
        err(&m, &bus, root, UVA, Read, Supervisor).0,
        FaultKind::Protection
    );
    let sum = Riscv64Mmu { sum: true, ..m };
    assert!(sum.translate(&bus, root, UVA, Write, Supervisor).is_ok());
    assert_eq!(
        err(&sum, &bus, root, UVA, Execute, Supervisor).2,
        "S-mode fetch from a U = 1 page"
    );
    // Execute-only: loads need MXR.
    map(&bus, &m, root, UVA, 0x9000, 0, X | U);
    assert_eq!(err(&m, &bus, root, UVA, Read, User).2, "R = 0");
    let mxr = Riscv64Mmu { mxr: true, ..m };
    assert!(mxr.translate(&bus, root, UVA, Read, User).is_ok());
    assert_eq!(err(&mxr, &bus, root, UVA, Write, User).2, "W = 0");
}

#[test]
fn accessed_dirty_svade_and_svadu() {
    let (m, bus, root) = setup(Scheme::Sv39);
    map(&bus, &m, root, UVA, 0x9000, 0, R | W | U);
    let epa = entry_pa(&bus, &m, root, UVA, 0);
    bus.set(epa, bus.get(epa) & !(A | D));
    assert_eq!(
        err(&m, &bus, root, UVA, Read, User),
        (FaultKind::AccessFlag, 0, "A = 0 (Svade)")
    );
    bus.set(epa, bus.get(epa) | A);
    assert!(m.translate(&bus, root, UVA, Read, User).is_ok());
    assert_eq!(
        err(&m, &bus, root, UVA, Write, User).2,
        "D = 0 on a store (Svade)"
    );
    // Svadu: the walk sets A and D; a denied access sets nothing.
    bus.set(epa, bus.get(epa) & !(A | D));
    let adu = Riscv64Mmu { svadu: true, ..m };
    assert_eq!(
        err(&adu, &bus, root, UVA, Execute, User).0,
        FaultKind::Protection
    );
    assert_eq!(bus.get(epa) & (A | D), 0);
    assert_eq!(
        adu.translate(&bus, root, UVA, Read, User).unwrap().entry & (A | D),
        A
    );
    assert_eq!(bus.get(epa) & (A | D), A);
    adu.translate(&bus, root, UVA, Write, User).unwrap();
    assert_eq!(bus.get(epa) & (A | D), A | D);
}

#[test]
fn non_leaf_adu_bits() {
    let (m, bus, root) = setup(Scheme::Sv39);
    map(&bus, &m, root, UVA, 0x9000, 0, R | U);
    edit(&bus, &m, root, UVA, 1, |e| e | A | D | U);
    // Ignored by the translation process...
    assert!(m.translate(&bus, root, UVA, Read, User).is_ok());
    // ...unless the strict option is on.
    let strict = Riscv64Mmu {
        strict_nonleaf: true,
        ..m
    };
    assert_eq!(
        err(&strict, &bus, root, UVA, Read, User),
        (FaultKind::ReservedBit, 1, "A, D or U set in a non-leaf PTE")
    );
}
