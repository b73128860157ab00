//! Taking over a boot loader's tables (`PageTables::adopt`). The "boot
//! loader" here writes raw x86-64 entries by hand (present | writable =
//! 0x3, PS = 0x80), independently of the library's encoder.

use pgtable::arch::x86_32::X86_32;
use pgtable::PageSize;
use pgtable::{
    Error, OffsetMemory, PageTables, PhysAddr, Prot, SyncOutcome, VirtAddr, PAGE_SIZE, X86_64,
};

const BASE: u64 = 0x100_0000;
const KTEXT: u64 = 0xffff_ffff_8000_0000;
const TABLE: u64 = 0x3; // present, writable
const LEAF_2M: u64 = 0x83; // present, writable, PS

struct Boot {
    mem: OffsetMemory,
    root: PhysAddr,
    pdpt: PhysAddr,
    pd: PhysAddr,
}

/// A boot loader's tables: `KTEXT` mapped to physical 2 MiB with one 2 MiB
/// leaf, through a PML4 at `BASE`, a PDPT and a PD.
fn boot() -> Boot {
    let mem = OffsetMemory::new_host(PhysAddr(BASE), 64 * PAGE_SIZE).unwrap();
    let (root, pdpt, pd) = (
        PhysAddr(BASE),
        PhysAddr(BASE + PAGE_SIZE),
        PhysAddr(BASE + 2 * PAGE_SIZE),
    );
    mem.write_u64(PhysAddr(root.0 + 511 * 8), pdpt.0 | TABLE);
    mem.write_u64(PhysAddr(pdpt.0 + 510 * 8), pd.0 | TABLE);
    mem.write_u64(pd, 0x20_0000 | LEAF_2M);
    Boot {
        mem,
        root,
        pdpt,
        pd,
    }
}

fn hand_over(b: &Boot) {
    for t in [b.root, b.pdpt, b.pd] {
        assert!(b.mem.adopt_table(t));
    }
}

#[test]
fn adopted_tables_are_the_kernel_half_of_every_space() {
    let b = boot();
    hand_over(&b);
    let pt = PageTables::adopt(X86_64::FOUR_LEVEL, &b.mem, b.root).unwrap();
    assert_eq!(pt.kernel_root(), b.root);
    assert_eq!(pt.mem().tables_in_use(), 3);
    let va = VirtAddr(KTEXT + 0x1234);
    assert_eq!(
        pt.kernel().translate(va).unwrap().translate(va),
        PhysAddr(0x20_1234)
    );
    // A new space gets the adopted kernel half (pgd_ctor()).
    let s = pt.create_space().unwrap();
    assert_eq!(pt.translate(s.root(), va).unwrap().pa, PhysAddr(0x20_0000));
    // Edits sync as usual, and frames never collide with the adopted ones.
    let vm = VirtAddr(0xffff_c900_0000_0000);
    let (r, report) = pt.kernel().edit(|e| {
        e.vmap_range(
            vm,
            PhysAddr(0x40_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    assert_eq!(report.outcome, SyncOutcome::Synced);
    assert!(pt.translate(s.root(), vm).is_some());
    // The adopted leaf unmaps like any other; its emptied PD goes back.
    let (f, _) = pt
        .kernel()
        .edit(|e| e.vunmap_range(VirtAddr(KTEXT), 2 << 20));
    assert!(f.unwrap().range().freed_tables);
    assert!(!b.mem.holds_table(b.pd));
    pt.destroy_space(s).unwrap().ignore();
}

#[test]
fn tables_not_handed_over_are_refused() {
    let b = boot();
    assert!(b.mem.adopt_table(b.root) && b.mem.adopt_table(b.pdpt));
    assert_eq!(
        PageTables::adopt(X86_64::FOUR_LEVEL, &b.mem, b.root).err(),
        Some(Error::BadTable(b.pd))
    );
}

#[test]
fn a_table_linked_twice_is_refused() {
    let b = boot();
    hand_over(&b);
    b.mem
        .write_u64(PhysAddr(b.root.0 + 300 * 8), b.pdpt.0 | TABLE);
    assert_eq!(
        PageTables::adopt(X86_64::FOUR_LEVEL, &b.mem, b.root).err(),
        Some(Error::BadTable(b.pdpt))
    );
}

#[test]
fn a_user_half_or_a_pml4_leaf_is_refused() {
    let b = boot();
    hand_over(&b);
    // An identity map left in the user half.
    b.mem.write_u64(b.root, b.pdpt.0 | TABLE);
    assert_eq!(
        PageTables::adopt(X86_64::FOUR_LEVEL, &b.mem, b.root).err(),
        Some(Error::BadTable(b.root))
    );
    b.mem.write_u64(b.root, 0);
    // A "leaf" in the PML4, which x86-64 does not allow: PS is reserved
    // there, so the entry reads as a pointer to a table at 1 GiB, which
    // was never handed over.
    b.mem
        .write_u64(PhysAddr(b.root.0 + 400 * 8), 0x4000_0000 | LEAF_2M);
    assert_eq!(
        PageTables::adopt(X86_64::FOUR_LEVEL, &b.mem, b.root).err(),
        Some(Error::BadTable(PhysAddr(0x4000_0000)))
    );
}

#[test]
fn modes_whose_tables_are_not_pages_are_refused() {
    let b = boot();
    hand_over(&b);
    assert!(matches!(
        PageTables::adopt(X86_32::PAE, &b.mem, b.root).err(),
        Some(Error::UnsupportedMode(_))
    ));
}
