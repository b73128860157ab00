use super::super::build::{edit, entry_pa, map, set};
use super::super::entry::*;
use super::*;
use crate::test_util::MemBus;
use Access::*;
use Mode::*;

const KVA: u64 = 0xc012_3000;
const UVA: u64 = 0x0804_8000;

fn setup() -> (MemBus, u64) {
    let bus = MemBus::new();
    let cr3 = bus.alloc();
    (bus, cr3)
}

fn err(m: &X86_32Mmu, bus: &MemBus, cr3: u64, va: u64, a: Access, md: Mode) -> (FaultKind, i8) {
    let f = m.translate(bus, cr3, va, a, md).unwrap_err();
    assert_eq!((f.addr, f.access, f.mode), (va, a, md));
    (f.kind, f.level)
}

#[test]
fn two_level_4k_and_4m() {
    let m = X86_32Mmu::new_32bit();
    let (bus, cr3) = setup();
    map(&bus, &m, cr3, KVA, 0x0765_4000, 1, RW | G);
    // The PDE for 0xc0000000 is entry 0x300 of the 4-byte-entry directory.
    assert_eq!(entry_pa(&bus, &m, cr3, KVA, 2), cr3 + 4 * 0x300);
    let l = m
        .translate(&bus, cr3, KVA + 0x123, Write, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.xlat.size, l.level), (0x0765_4123, 0x1000, 1));
    assert!(l.xlat.writable && !l.xlat.user && l.xlat.executable && l.xlat.global);
    // 32-bit A/D updates leave the neighbouring entry alone.
    let pte = entry_pa(&bus, &m, cr3, KVA, 1);
    assert_eq!(u64::from(bus.get32(pte)) & (A | D), A | D);
    assert_eq!(bus.get32(pte ^ 4), 0);
    assert_eq!(u64::from(bus.get32(cr3 + 4 * 0x300)) & A, A);
    // A 4 MiB page.
    map(&bus, &m, cr3, 0x0800_0000, 0x1c0_0000, 2, US);
    let l = m.translate(&bus, cr3, 0x083f_fffc, Read, User).unwrap();
    assert_eq!(
        (l.xlat.pa, l.xlat.size, l.level),
        (0x1ff_fffc, 0x40_0000, 2)
    );
    assert!(!l.xlat.writable && l.xlat.user);
    // PSE-36: PDE bits 20:13 give PA bits 39:32 (here bit 33 via bit 14).
    map(&bus, &m, cr3, 0x4000_0000, 0x0040_0000 | (2 << 13), 2, 0);
    let l = m
        .translate(&bus, cr3, 0x4000_0010, Read, Supervisor)
        .unwrap();
    assert_eq!(l.xlat.pa, 0x2_0040_0010);
}

#[test]
fn pse_off_ignores_ps() {
    let m = X86_32Mmu::new_32bit();
    let (bus, cr3) = setup();
    // A PDE with PS = 1 whose address field is a page table at 4 MiB.
    let pt = 0x40_0000;
    bus.set32(pt + 4 * 0x12, 0x9000 | (P | RW) as u32);
    set(&bus, &m, cr3 + 4 * 0x300, pt | P | RW | PS);
    let no_pse = X86_32Mmu { pse: false, ..m };
    let l = no_pse
        .translate(&bus, cr3, 0xc001_2004, Read, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.level), (0x9004, 1));
    // With PSE the same PDE maps the 4 MiB page at 4 MiB.
    let l = m
        .translate(&bus, cr3, 0xc001_2004, Read, Supervisor)
        .unwrap();
    assert_eq!((l.xlat.pa, l.level, l.xlat.size), (0x41_2004, 2, 0x40_0000));
}

#[test]
fn reserved_bits_32bit() {
    let m = X86_32Mmu::new_32bit();
    let (bus, cr3) = setup();
    map(&bus, &m, cr3, 0x40_0000, 0x80_0000 | (1 << 21), 2, 0);
    assert_eq!(
        err(&m, &bus, cr3, 0x40_0000, Read, Supervisor),
        (FaultKind::ReservedBit, 2)
    );
    // MAXPHYADDR 36: PA bit 36 (PDE bit 17) is reserved; without PSE-36 all
    // of bits 20:13 are.
    map(&bus, &m, cr3, 0x40_0000, 0x80_0000 | (1 << 17), 2, 0);
    assert_eq!(
        err(&m, &bus, cr3, 0x40_0000, Read, Supervisor).0,
        FaultKind::ReservedBit
    );
    map(&bus, &m, cr3, 0x40_0000, 0x80_0000 | (1 << 13), 2, 0);
    assert!(m.translate(&bus, cr3, 0x40_0000, Read, Supervisor).is_ok());
    let no36 = X86_32Mmu { pse36: false, ..m };
    assert_eq!(
        err(&no36, &bus, cr3, 0x40_0000, Read, Supervisor).0,
        FaultKind::ReservedBit
    );
}

fn not_present_each_level(m: X86_32Mmu) {
    let (bus, cr3) = setup();
    for level in 1..=m.root_level() {
        map(&bus, &m, cr3, UVA, 0x7000, 1, RW | US);
        edit(&bus, &m, cr3, UVA, level, |e| e & !P);
        assert_eq!(
            err(&m, &bus, cr3, UVA, Write, User),
            (FaultKind::NotPresent, level)
        );
        edit(&bus, &m, cr3, UVA, level, |e| e | P);
    }
    assert!(m.translate(&bus, cr3, UVA, Write, User).is_ok());
    assert_eq!(
        err(&m, &bus, cr3, 1 << 32, Read, User).0,
        FaultKind::NonCanonical
    );
}

#[test]
fn not_present_levels() {
    not_present_each_level(X86_32Mmu::new_32bit());
    not_present_each_level(X86_32Mmu::new_pae());
}

#[test]
fn pae_pages() {
    let m = X86_32Mmu::new_pae();
    let (bus, cr3) = setup();
    // The PDPT is 32 bytes, 32-byte aligned: CR3 bits 11:5 count.
    let cr3 = cr3 + 0x40;
    map(&bus, &m, cr3, KVA, 0x9_8765_4000, 1, RW | G);
    assert_eq!(entry_pa(&bus, &m, cr3, KVA, 3), cr3 + 8 * 3);
    let l = m.translate(&bus, cr3, KVA + 8, Write, Supervisor).unwrap();
    assert_eq!((l.xlat.pa, l.level), (0x9_8765_4008, 1));
    assert_eq!(bus.get(entry_pa(&bus, &m, cr3, KVA, 1)) & (A | D), A | D);
    // PDPTEs have no A bit: left unchanged.
    assert_eq!(bus.get(cr3 + 24) & A, 0);
    map(&bus, &m, cr3, 0x4020_0000, 0x60_0000, 2, US | XD);
    let l = m.translate(&bus, cr3, 0x403f_ffff, Read, User).unwrap();
    assert_eq!((l.xlat.pa, l.xlat.size, l.level), (0x7f_ffff, 0x20_0000, 2));
    assert!(!l.xlat.executable);
    assert_eq!(
        err(&m, &bus, cr3, 0x4020_0000, Execute, User),
        (FaultKind::Protection, 2)
    );
    // XD is reserved without NXE.
    let nonx = X86_32Mmu { nxe: false, ..m };
    assert_eq!(
        err(&nonx, &bus, cr3, 0x4020_0000, Read, User),
        (FaultKind::ReservedBit, 2)
    );
}

#[test]
fn pae_pdpte_reserved_bits() {
    let m = X86_32Mmu::new_pae();
    let (bus, cr3) = setup();
    map(&bus, &m, cr3, UVA, 0x7000, 1, RW | US);
    for bit in [1, 2, 5, 8, 36, 63] {
        edit(&bus, &m, cr3, UVA, 3, |e| e | 1 << bit);
        let f = m.translate(&bus, cr3, UVA, Read, User).unwrap_err();
        assert_eq!(
            (f.kind, f.level, f.detail),
            (FaultKind::ReservedBit, 3, "reserved bit in a PDPTE")
        );
        edit(&bus, &m, cr3, UVA, 3, |e| e & !(1 << bit));
    }
    // PWT, PCD and the ignored bits 11:9 are fine.
    edit(&bus, &m, cr3, UVA, 3, |e| e | PWT | PCD | 0xe00);
    assert!(m.translate(&bus, cr3, UVA, Read, User).is_ok());
    // A 2 MiB PDE with bit 13 set.
    map(&bus, &m, cr3, 0x20_0000, 0x40_0000 | (1 << 13), 2, 0);
    assert_eq!(
        err(&m, &bus, cr3, 0x20_0000, Read, Supervisor),
        (FaultKind::ReservedBit, 2)
    );
}

#[test]
fn permissions() {
    for m in [X86_32Mmu::new_32bit(), X86_32Mmu::new_pae()] {
        let (bus, cr3) = setup();
        map(&bus, &m, cr3, KVA, 0x7000, 1, 0);
        assert_eq!(
            err(&m, &bus, cr3, KVA, Write, Supervisor),
            (FaultKind::Protection, 1)
        );
        assert!(X86_32Mmu { wp: false, ..m }
            .translate(&bus, cr3, KVA, Write, Supervisor)
            .is_ok());
        assert_eq!(
            err(&m, &bus, cr3, KVA, Read, User),
            (FaultKind::Protection, 1)
        );
        // R/W = 0 in the PDE makes the user page read-only.
        map(&bus, &m, cr3, UVA, 0x9000, 1, RW | US);
        edit(&bus, &m, cr3, UVA, 2, |e| e & !RW);
        assert_eq!(
            err(&m, &bus, cr3, UVA, Write, User),
            (FaultKind::Protection, 1)
        );
        assert!(m.translate(&bus, cr3, UVA, Read, User).is_ok());
    }
}
