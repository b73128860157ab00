//! `PageTables::activation`: the register values for a space on every
//! family, refused for another machine's space or an ASID the mode cannot
//! hold. (The arm64 QEMU kernel loads its TTBR0 values from here, so the
//! real MMU checks the encoding too.)

use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::x86_32::X86_32;
use pgtable::{Activation, Arch, Error, PageTables, PhysAddr, SparseMemory, X86_64};

fn mem() -> SparseMemory {
    SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x100_0000))
}

fn check<A: Arch>(arch: A, asid: u16, want: impl Fn(u64, u64) -> Activation) {
    let pt = PageTables::new(arch, mem()).unwrap();
    let s = pt.create_space().unwrap();
    assert_eq!(
        pt.activation(&s, asid),
        Ok(want(s.root().0, pt.kernel_root().0)),
        "{}",
        arch.name()
    );
    let other = PageTables::new(arch, mem()).unwrap();
    let t = other.create_space().unwrap();
    assert_eq!(pt.activation(&t, asid), Err(Error::Foreign));
    other.destroy_space(t).unwrap().ignore();
    pt.destroy_space(s).unwrap().ignore();
}

#[test]
fn every_family_gives_its_registers() {
    check(X86_64::FOUR_LEVEL, 5, |r, _| Activation::X86 { cr3: r | 5 });
    check(X86_64::FIVE_LEVEL, 0, |r, _| Activation::X86 { cr3: r });
    check(X86_32::PAE, 0, |r, _| Activation::X86 { cr3: r });
    check(X86_32::TWO_LEVEL, 0, |r, _| Activation::X86 { cr3: r });
    check(Arm64::VA_48, 3, |r, k| Activation::Arm64 {
        ttbr0: r | 3 << 48,
        ttbr1: k,
    });
    check(Riscv64::SV48, 9, |r, _| Activation::Riscv {
        satp: 9 << 60 | 9 << 44 | r >> 12,
    });
    check(Arm32::SHORT, 7, |r, _| Activation::Arm32 {
        ttbr0: r as u32,
        contextidr: 7,
    });
}

#[test]
fn asids_a_mode_cannot_hold_are_refused() {
    for (asid, ok) in [(0xfff, true), (0x1000, false)] {
        let pt = PageTables::new(X86_64::FOUR_LEVEL, mem()).unwrap();
        let s = pt.create_space().unwrap();
        assert_eq!(pt.activation(&s, asid).is_ok(), ok, "PCID {asid:#x}");
        pt.destroy_space(s).unwrap().ignore();
    }
    let pt = PageTables::new(X86_32::PAE, mem()).unwrap();
    let s = pt.create_space().unwrap();
    assert!(pt.activation(&s, 1).is_err(), "no PCID in 32-bit paging");
    pt.destroy_space(s).unwrap().ignore();
    let pt = PageTables::new(Arm32::SHORT, mem()).unwrap();
    let s = pt.create_space().unwrap();
    assert!(pt.activation(&s, 256).is_err(), "8-bit arm ASIDs");
    pt.destroy_space(s).unwrap().ignore();
}
