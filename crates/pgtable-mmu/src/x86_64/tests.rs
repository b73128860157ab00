use super::*;

#[test]
fn level_geometry() {
    assert_eq!(Level::Pt.page_size(), 0x1000);
    assert_eq!(Level::Pd.page_size(), 0x20_0000);
    assert_eq!(Level::Pdpt.page_size(), 0x4000_0000);
    assert_eq!(Level::Pml4.shift(), 39);
    assert_eq!(Level::Pml5.shift(), 48);
    assert_eq!(Level::Pml4.index(0xffff_8880_0000_0000), 273);
    assert_eq!(Level::Pml5.number(), 5);
    assert_eq!(Level::Pd.lower(), Some(Level::Pt));
    assert_eq!(Level::Pt.lower(), None);
}

#[test]
fn canonical_48_and_57() {
    let m4 = X86Mmu::new();
    assert!(m4.is_canonical(0x0000_7fff_ffff_ffff));
    assert!(m4.is_canonical(0xffff_8000_0000_0000));
    assert!(!m4.is_canonical(0x0000_8000_0000_0000));
    assert!(!m4.is_canonical(0xff00_0000_0000_0000));
    let m5 = X86Mmu::new_la57();
    assert!(m5.is_canonical(0x0000_8000_0000_0000));
    assert!(m5.is_canonical(0xff00_0000_0000_0000));
    assert!(!m5.is_canonical(0x0100_0000_0000_0000));
    assert_eq!(m4.sign_extend(0x8000_0000_0000), 0xffff_8000_0000_0000);
}

#[test]
fn rights_table() {
    let m = X86Mmu::new();
    use Access::*;
    use Mode::*;
    // WP: supervisor write to read-only faults; without WP it does not.
    assert!(!m.permits(false, false, true, Write, Supervisor));
    assert!(X86Mmu { wp: false, ..m }.permits(false, false, true, Write, Supervisor));
    // User needs U/S everywhere and R/W for writes regardless of WP.
    assert!(!m.permits(true, false, true, Read, User));
    assert!(!X86Mmu { wp: false, ..m }.permits(false, true, true, Write, User));
    assert!(m.permits(true, true, true, Write, User));
    // XD blocks fetches in both modes.
    assert!(!m.permits(true, true, false, Execute, User));
    assert!(!m.permits(true, false, false, Execute, Supervisor));
    // SMEP / SMAP.
    let s = X86Mmu {
        smep: true,
        smap: true,
        ..m
    };
    assert!(!s.permits(true, true, true, Execute, Supervisor));
    assert!(!s.permits(true, true, true, Read, Supervisor));
    assert!(s.permits(true, false, true, Read, Supervisor));
    assert!(s.permits(true, true, true, Read, User));
}

#[test]
fn error_codes() {
    let m = X86Mmu::new();
    let f = m.fault(
        0,
        Access::Write,
        Mode::User,
        FaultKind::Protection,
        Level::Pt,
    );
    assert_eq!(f.error_code(), PageFault::P | PageFault::W | PageFault::U);
    let f = m.fault(
        0,
        Access::Read,
        Mode::Supervisor,
        FaultKind::NotPresent,
        Level::Pd,
    );
    assert_eq!(f.error_code(), 0);
    let f = m.fault(
        0,
        Access::Execute,
        Mode::Supervisor,
        FaultKind::ReservedBit,
        Level::Pd,
    );
    assert_eq!(
        f.error_code(),
        PageFault::P | PageFault::RSVD | PageFault::ID
    );
    let nonx = X86Mmu { nxe: false, ..m };
    let f = nonx.fault(
        0,
        Access::Execute,
        Mode::User,
        FaultKind::NotPresent,
        Level::Pt,
    );
    assert_eq!(f.error_code(), PageFault::U);
    let f = m.fault(
        1 << 63,
        Access::Read,
        Mode::User,
        FaultKind::NonCanonical,
        Level::Pml4,
    );
    assert_eq!(f.error_code(), 0);
}
