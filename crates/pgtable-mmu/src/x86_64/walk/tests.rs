use super::super::entry::*;
use super::*;
use crate::test_util::MemBus;
use crate::x86_64::build;
use crate::x86_64::Level;
use Access::*;
use Mode::*;

const KVA: u64 = 0xffff_8880_0123_4000;

fn setup() -> (MemBus, u64) {
    let bus = MemBus::new();
    let cr3 = bus.alloc();
    (bus, cr3)
}

#[test]
fn four_kib_translation() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    build::map(
        &bus,
        &m,
        cr3,
        KVA,
        0x8765_4000,
        Level::Pt,
        RW | G | PCD | PAT_4K,
    );
    let t = m
        .translate(&bus, cr3, KVA + 0x123, Read, Supervisor)
        .unwrap();
    assert_eq!(t.pa, 0x8765_4123);
    assert_eq!((t.page_size, t.level), (0x1000, Level::Pt));
    assert!(t.writable && !t.user && t.executable && t.global);
    assert!(!t.pwt && t.pcd && t.pat);
    assert_eq!(t.pat_index(), 0b110);
    assert_eq!(
        t.entry_pa,
        build::entry_pa(&bus, &m, cr3, KVA, Level::Pt, 0)
    );
    // The neighbouring page is not mapped: its PTE is zero.
    let f = m
        .translate(&bus, cr3, KVA + 0x1000, Read, Supervisor)
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::NotPresent, Level::Pt));
    // G without CR4.PGE is not global.
    let nopge = X86Mmu { pge: false, ..m };
    assert!(
        !nopge
            .translate(&bus, cr3, KVA, Read, Supervisor)
            .unwrap()
            .global
    );
}

#[test]
fn large_page_translations() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    // 2 MiB at PD level, PAT in bit 12.
    build::map(
        &bus,
        &m,
        cr3,
        0xffff_c900_0020_0000,
        0x1_2340_0000,
        Level::Pd,
        PAT_LARGE,
    );
    let t = m
        .translate(&bus, cr3, 0xffff_c900_003f_fff8, Read, Supervisor)
        .unwrap();
    assert_eq!(t.pa, 0x1_2340_0000 + 0x1f_fff8);
    assert_eq!((t.page_size, t.level), (0x20_0000, Level::Pd));
    assert!(t.pat && !t.writable && !t.global);
    // 1 GiB at PDPT level.
    build::map(
        &bus,
        &m,
        cr3,
        0x0000_0040_0000_0000,
        0x3_c000_0000,
        Level::Pdpt,
        RW | US,
    );
    let t = m
        .translate(&bus, cr3, 0x0000_0040_3abc_d123, Write, User)
        .unwrap();
    assert_eq!(t.pa, 0x3_fabc_d123);
    assert_eq!((t.page_size, t.level), (0x4000_0000, Level::Pdpt));
    assert!(t.user && t.writable && t.dirty);
}

#[test]
fn five_level_translation() {
    let m = X86Mmu::new_la57();
    let (bus, cr3) = setup();
    let va = 0xff11_2233_4455_6000; // PML5 index 0x111
    build::map(&bus, &m, cr3, va, 0xabc_d000, Level::Pt, RW);
    assert_eq!(
        build::entry_pa(&bus, &m, cr3, va, Level::Pml5, 0),
        cr3 + 8 * 0x111
    );
    let t = m.translate(&bus, cr3, va + 8, Write, Supervisor).unwrap();
    assert_eq!(t.pa, 0xabc_d008);
    // The same address is non-canonical for 4-level paging.
    let f = X86Mmu::new()
        .translate(&bus, cr3, va, Read, Supervisor)
        .unwrap_err();
    assert_eq!(f.kind, FaultKind::NonCanonical);
    // A 57-bit-only low address walks through PML5 entry 1.
    let low = 0x0001_0000_0000_0000;
    build::map(&bus, &m, cr3, low, 0x4000_0000, Level::Pdpt, 0);
    let t = m.translate(&bus, cr3, low + 5, Read, Supervisor).unwrap();
    assert_eq!(t.pa, 0x4000_0005);
    let pml5e = build::entry_pa(&bus, &m, cr3, low, Level::Pml5, 0);
    assert_eq!(pml5e, cr3 + 8);
    assert_eq!(bus.get(pml5e) & A, A);
}

/// Clearing P at each level in turn reports exactly that level.
fn not_present_each_level(m: X86Mmu) {
    let (bus, cr3) = setup();
    let f = m.translate(&bus, cr3, KVA, Read, Supervisor).unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::NotPresent, m.root_level()));
    assert_eq!(f.error_code(), 0);
    let mut level = Some(m.root_level());
    while let Some(l) = level {
        build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, RW);
        let epa = build::entry_pa(&bus, &m, cr3, KVA, l, 0);
        bus.set(epa, bus.get(epa) & !P);
        let f = m.translate(&bus, cr3, KVA, Write, User).unwrap_err();
        assert_eq!((f.kind, f.level, f.addr), (FaultKind::NotPresent, l, KVA));
        assert_eq!(f.error_code(), PageFault::W | PageFault::U);
        bus.set(epa, bus.get(epa) | P);
        level = l.lower();
    }
    assert!(m.translate(&bus, cr3, KVA, Read, Supervisor).is_ok());
}

#[test]
fn not_present_reports_level_4() {
    not_present_each_level(X86Mmu::new());
}

#[test]
fn not_present_reports_level_5() {
    not_present_each_level(X86Mmu::new_la57());
}

#[test]
fn write_protect() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, 0);
    let f = m.translate(&bus, cr3, KVA, Write, Supervisor).unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::Protection, Level::Pt));
    assert_eq!(f.error_code(), PageFault::P | PageFault::W);
    assert!(X86Mmu { wp: false, ..m }
        .translate(&bus, cr3, KVA, Write, Supervisor)
        .is_ok());
    // R/W = 0 in a non-leaf entry also makes the page read-only.
    build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, RW);
    assert!(m.translate(&bus, cr3, KVA, Write, Supervisor).is_ok());
    let pde = build::entry_pa(&bus, &m, cr3, KVA, Level::Pd, 0);
    bus.set(pde, bus.get(pde) & !RW);
    let t = m.translate(&bus, cr3, KVA, Read, Supervisor).unwrap();
    assert!(!t.writable);
    let f = m.translate(&bus, cr3, KVA, Write, Supervisor).unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::Protection, Level::Pt));
}

#[test]
fn user_access_to_supervisor_page() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    build::map(&bus, &m, cr3, 0x40_0000, 0x9000, Level::Pt, RW | US);
    assert!(m.translate(&bus, cr3, 0x40_0000, Write, User).is_ok());
    // U/S = 0 only in the PML4E: the whole subtree is supervisor-only.
    let pml4e = build::entry_pa(&bus, &m, cr3, 0x40_0000, Level::Pml4, 0);
    bus.set(pml4e, bus.get(pml4e) & !US);
    let f = m.translate(&bus, cr3, 0x40_0000, Read, User).unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::Protection, Level::Pt));
    assert_eq!(f.error_code(), PageFault::P | PageFault::U);
    assert!(m.translate(&bus, cr3, 0x40_0000, Read, Supervisor).is_ok());
}

#[test]
fn nx_fetch() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, RW);
    assert!(
        m.translate(&bus, cr3, KVA, Execute, Supervisor)
            .unwrap()
            .executable
    );
    // XD in the PDE (not the leaf) forbids fetches from the page.
    let pde = build::entry_pa(&bus, &m, cr3, KVA, Level::Pd, 0);
    bus.set(pde, bus.get(pde) | XD);
    let f = m
        .translate(&bus, cr3, KVA, Execute, Supervisor)
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::Protection, Level::Pt));
    assert_eq!(f.error_code(), PageFault::P | PageFault::ID);
    assert!(m.translate(&bus, cr3, KVA, Read, Supervisor).is_ok());
    // SMEP: supervisor fetch from a user page faults.
    build::map(&bus, &m, cr3, 0x40_0000, 0x9000, Level::Pt, US);
    let smep = X86Mmu { smep: true, ..m };
    assert!(m
        .translate(&bus, cr3, 0x40_0000, Execute, Supervisor)
        .is_ok());
    let f = smep
        .translate(&bus, cr3, 0x40_0000, Execute, Supervisor)
        .unwrap_err();
    assert_eq!(f.kind, FaultKind::Protection);
}

#[test]
fn reserved_bits() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    let rsvd = |level| {
        let f = m.translate(&bus, cr3, KVA, Read, Supervisor).unwrap_err();
        assert_eq!((f.kind, f.level), (FaultKind::ReservedBit, level));
        assert_eq!(f.error_code(), PageFault::P | PageFault::RSVD);
    };
    // PS = 1 in a PML4E.
    build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, 0);
    let pml4e = build::entry_pa(&bus, &m, cr3, KVA, Level::Pml4, 0);
    bus.set(pml4e, bus.get(pml4e) | PS);
    rsvd(Level::Pml4);
    bus.set(pml4e, bus.get(pml4e) & !PS);
    // A 2 MiB leaf whose address field has bit 13 set.
    build::map(&bus, &m, cr3, KVA & !0x1f_ffff, 0x20_2000, Level::Pd, 0);
    rsvd(Level::Pd);
    // A 1 GiB leaf with bit 21 set.
    build::map(&bus, &m, cr3, KVA, 0x4020_0000, Level::Pdpt, 0);
    rsvd(Level::Pdpt);
    // XD with NXE = 0; the same tables are fine with NXE = 1.
    build::map(
        &bus,
        &m,
        cr3,
        KVA & !0x3fff_ffff,
        0x4000_0000,
        Level::Pdpt,
        XD,
    );
    assert!(m.translate(&bus, cr3, KVA, Read, Supervisor).is_ok());
    let f = X86Mmu { nxe: false, ..m }
        .translate(&bus, cr3, KVA, Execute, Supervisor)
        .unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::ReservedBit, Level::Pdpt));
    assert_eq!(f.error_code(), PageFault::P | PageFault::RSVD);
    // A PML5E with PS = 1 under LA57.
    let m5 = X86Mmu::new_la57();
    let cr3_5 = bus.alloc();
    build::map(&bus, &m5, cr3_5, KVA, 0x7000, Level::Pt, 0);
    let pml5e = build::entry_pa(&bus, &m5, cr3_5, KVA, Level::Pml5, 0);
    bus.set(pml5e, bus.get(pml5e) | PS);
    let f = m5.translate(&bus, cr3_5, KVA, Read, User).unwrap_err();
    assert_eq!((f.kind, f.level), (FaultKind::ReservedBit, Level::Pml5));
    // Reserved bits in a not-present entry are ignored: not-present.
    bus.set(pml5e, PS | (1 << 40));
    let f = m5.translate(&bus, cr3_5, KVA, Read, User).unwrap_err();
    assert_eq!(f.kind, FaultKind::NotPresent);
}

#[test]
fn non_canonical() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    let f = m
        .translate(&bus, cr3, 0x0000_8000_0000_0000, Write, User)
        .unwrap_err();
    assert_eq!(f.kind, FaultKind::NonCanonical);
    assert_eq!(
        (f.addr, f.level, f.error_code()),
        (0x0000_8000_0000_0000, Level::Pml4, 0)
    );
    assert_eq!(bus.writes.get(), 0);
}

#[test]
fn accessed_and_dirty() {
    let m = X86Mmu::new();
    let (bus, cr3) = setup();
    build::map(&bus, &m, cr3, KVA, 0x7000, Level::Pt, RW);
    let levels = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];
    let epas = levels.map(|l| build::entry_pa(&bus, &m, cr3, KVA, l, 0));
    // A faulting access changes nothing.
    assert!(m.translate(&bus, cr3, KVA, Write, User).is_err());
    assert_eq!(bus.writes.get(), 0);
    // A read sets A everywhere, D nowhere.
    let t = m.translate(&bus, cr3, KVA, Read, Supervisor).unwrap();
    assert!(!t.dirty && t.entry & A != 0);
    for epa in epas {
        assert_eq!(bus.get(epa) & (A | D), A);
    }
    assert_eq!(bus.writes.get(), 4);
    // Another read writes nothing: bits already set.
    m.translate(&bus, cr3, KVA, Read, Supervisor).unwrap();
    assert_eq!(bus.writes.get(), 4);
    // A write sets D in the leaf only.
    let t = m.translate(&bus, cr3, KVA, Write, Supervisor).unwrap();
    assert!(t.dirty);
    assert_eq!(bus.writes.get(), 5);
    assert_eq!(bus.get(epas[3]) & D, D);
    for epa in &epas[..3] {
        assert_eq!(bus.get(*epa) & D, 0);
    }
    // A 2 MiB leaf gets D too.
    build::map(
        &bus,
        &m,
        cr3,
        0xffff_c900_0000_0000,
        0x20_0000,
        Level::Pd,
        RW,
    );
    m.translate(&bus, cr3, 0xffff_c900_0000_0010, Write, Supervisor)
        .unwrap();
    let pde = build::entry_pa(&bus, &m, cr3, 0xffff_c900_0000_0000, Level::Pd, 0);
    assert_eq!(bus.get(pde) & (A | D | PS), A | D | PS);
}
