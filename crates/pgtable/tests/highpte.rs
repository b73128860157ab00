//! `pgtable_t` under HIGHPTE: a user PTE table from high memory is a handle,
//! reached only through `pte_offset_map()`, whose temporary mapping lives as
//! long as the returned map; a kernel PTE table never needs one.

mod harness;

use pgtable::arch::x86_32::X86_32;
use pgtable::{Decoded, Level, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr};

const LOW: core::ops::Range<u64> = (384 << 20)..(512 << 20);
const HIGH: core::ops::Range<u64> = (1 << 30)..((1 << 30) + (64 << 20));

fn tables(arch: X86_32) -> PageTables<X86_32, SparseMemory> {
    let mem = SparseMemory::new(PhysAddr(LOW.start)..PhysAddr(LOW.end))
        .with_high_tables(PhysAddr(HIGH.start)..PhysAddr(HIGH.end));
    PageTables::new(arch, mem).unwrap()
}

#[test]
fn a_high_user_pte_table_is_reached_only_through_a_temporary_map() {
    for (arch, high) in [
        (X86_32::TWO_LEVEL.with_highpte(), true),
        (X86_32::PAE.with_highpte(), true),
        (X86_32::TWO_LEVEL, false),
    ] {
        let pt = tables(arch);
        let mut space = pt.create_space().unwrap();
        let va = VirtAddr(0x0804_8000);
        let mut u = pt.user(&mut space).unwrap();
        let pte = u.pte_alloc_one().unwrap();
        assert_eq!(pte.is_high(), high, "{arch:?}");
        assert_eq!(HIGH.contains(&pte.frame().0), high);
        // Walk to the PMD entry (folded into the root without PAE).
        let mut e = u.pgd_offset(va).unwrap();
        for level in [Level::P4d, Level::Pud] {
            e = u.offset(level, e, va).unwrap_or(e);
        }
        let pmd = match u.offset(Level::Pmd, e, va) {
            Some(p) => p,
            None => {
                // PAE: the PMD table is allocated on demand.
                u.map_pages(VirtAddr(0x0800_0000), &[PhysAddr(0x10_0000)], Prot::USER_RW)
                    .unwrap();
                let e = u.pgd_offset(va).unwrap();
                u.offset(Level::Pmd, e, va).unwrap()
            }
        };
        if u.offset(Level::Pte, pmd, va).is_none() {
            u.pmd_populate(va, pmd, pte).map_err(|r| r.error).unwrap();
        } else {
            // The PAE walk above already linked a PTE table for this PMD.
            u.pte_free(pte);
        }
        u.map_pages(va, &[PhysAddr(0x20_0000)], Prot::USER_RW)
            .unwrap();
        {
            let map = u.pte_offset_map(pmd, va).unwrap();
            assert_eq!(map.is_temporary(), high, "{arch:?}");
            assert_eq!(pt.temporary_maps(), usize::from(high));
            assert!(matches!(map.read(), Decoded::Leaf(pa, _) if pa == PhysAddr(0x20_0000)));
        }
        assert_eq!(
            pt.temporary_maps(),
            0,
            "pte_unmap() when the map is dropped"
        );
        pt.destroy_space(space).expect("own space").ignore();
        harness::assert_no_leak(&pt, &format!("{arch:?}"));
    }
}
