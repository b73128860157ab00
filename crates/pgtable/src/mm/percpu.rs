//! The percpu first chunk in page mode (`mm/percpu.c`): each page of each
//! CPU's unit is mapped one by one, after `pcpu_populate_pte()` has built
//! the tables down to its PTE.

use super::{populate_path, KernelEditor};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::walk::tables::EntryPtr;

/// `pcpu_populate_pte()`: populate every missing table down to the PTE
/// table of `addr` (`pgd_populate_kernel()`, `p4d_populate_kernel()`,
/// `pud_populate()`, `pmd_populate_kernel()` of new tables) and return the
/// PTE entry of `addr`.
pub fn pcpu_populate_pte<'a, A, M, E>(e: &mut E, addr: VirtAddr) -> Result<EntryPtr>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    populate_path(e, addr, Level::Pte)
}

/// The mapping half of `pcpu_page_first_chunk()`: for each page of the
/// first chunk at `base` (the units of every CPU, one after another, as
/// the caller allocated them with `pcpu_fc_alloc()`), `pcpu_populate_pte()`
/// then map the page read-write. On an error the pages this call mapped
/// are unmapped again (and tables that leaves empty below the top level
/// freed).
pub fn pcpu_page_first_chunk<'a, A, M, E>(
    e: &mut E,
    base: VirtAddr,
    pages: &[PhysAddr],
) -> Result<()>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    for (mapped, &page) in (0u64..).zip(pages) {
        let addr = mapped
            .checked_mul(PAGE_SIZE)
            .and_then(|off| base.0.checked_add(off))
            .map(VirtAddr)
            .ok_or(Error::Wraps);
        let r = addr.and_then(|addr| {
            let pte = pcpu_populate_pte(e, addr)?;
            e.set_leaf(Level::Pte, addr, pte, page, Prot::KERNEL)
        });
        if let Err(err) = r {
            if mapped > 0 {
                let _ = e.vunmap_range(base, mapped * PAGE_SIZE);
            }
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::machine;

    const BASE: VirtAddr = VirtAddr(0xffff_c900_0000_0000);

    #[test]
    fn every_page_is_mapped_and_reaches_every_root() {
        let pt = machine();
        let other = pt.create_space().unwrap();
        let pages: alloc::vec::Vec<PhysAddr> =
            (0..16).map(|i| PhysAddr((1 << 40) + i * 8192)).collect();
        let (r, report) = pt.kernel().edit(|e| pcpu_page_first_chunk(e, BASE, &pages));
        assert_eq!(r, Ok(()));
        assert!(report.synced());
        for (i, pa) in pages.iter().enumerate() {
            let va = VirtAddr(BASE.0 + i as u64 * PAGE_SIZE);
            let m = pt.translate(other.root(), va).unwrap();
            assert_eq!((m.pa, m.size, m.prot), (*pa, PAGE_SIZE, Prot::KERNEL));
        }
        pt.destroy_space(other).unwrap().ignore();
    }

    #[test]
    fn a_bad_page_unmaps_the_pages_before_it() {
        let pt = machine();
        let pages = [PhysAddr(1 << 40), PhysAddr((1 << 40) + 4096), PhysAddr(123)];
        let (r, _) = pt.kernel().edit(|e| pcpu_page_first_chunk(e, BASE, &pages));
        assert_eq!(r, Err(Error::Misaligned(123)));
        assert!(pt.translate(pt.kernel_root(), BASE).is_none());
        let (r, _) = pt.kernel().edit(|e| pcpu_populate_pte(e, VirtAddr(0x1000)));
        assert_eq!(r, Err(Error::NotKernelAddress(VirtAddr(0x1000))));
    }
}
