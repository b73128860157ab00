//! The KASAN early shadow (`mm/kasan/init.c`): shadow that reads as zero
//! everywhere, built from one zero page and one shared table per level
//! (`kasan_early_shadow_page`, `kasan_early_shadow_pte`, `_pmd`, `_pud`,
//! `_p4d`), each linked under as many entries as need it.

use super::{kernel_range, KernelEditor};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::space::handle::SharedTable;
use crate::walk::tables::EntryPtr;
use alloc::vec::Vec;

/// The zero page and the shared zero tables, built once
/// ([`KasanEarlyShadow::new`]) and linked by every
/// [`kasan_populate_early_shadow`].
#[derive(Clone, Debug)]
pub struct KasanEarlyShadow {
    page: PhysAddr,
    /// Each zero table, with the level of the entries that point at it.
    tables: Vec<(Level, SharedTable)>,
}

impl KasanEarlyShadow {
    /// Build the shared tables over `page` (`kasan_early_shadow_page`, a
    /// zeroed frame the caller owns): a PTE table whose every entry maps
    /// `page` read-only (as x86's and arm64's `kasan_init()` leave
    /// `kasan_early_shadow_pte`), then for each real level up to the one
    /// below the root a table whose every entry points at the table below
    /// (the static `kasan_early_shadow_pmd` … `_p4d`). The tables are shared: never written
    /// again, never freed, walked through by no unmap.
    pub fn new<'a, A, M, E>(e: &mut E, page: PhysAddr) -> Result<Self>
    where
        A: Arch,
        M: TableMemory + 'a,
        E: KernelEditor<'a, A, M> + ?Sized,
    {
        let arch = *e.arch();
        // Entries of unlinked tables may be written for any kernel address.
        let addr = VirtAddr(arch.kernel_start());
        let top = arch.top_level();
        let pte = e.alloc_table(Level::Pte)?;
        for i in 0..1u64 << arch.level_bits(Level::Pte) {
            let entry = pte.entry(i).ok_or(Error::FoldedLevel(Level::Pte))?;
            e.set_leaf(Level::Pte, addr, entry, page, Prot::KERNEL_RO)?;
        }
        let pte = e.share(pte)?;
        let mut tables = Vec::from([(Level::Pmd, pte)]);
        let (mut below, mut level) = (pte, Level::Pmd);
        while level != top {
            let t = e.alloc_table(level)?;
            for i in 0..1u64 << arch.level_bits(level) {
                let entry = t.entry(i).ok_or(Error::FoldedLevel(level))?;
                e.populate_shared(level, addr, entry, below)?;
            }
            let t = e.share(t)?;
            let up = Level::ALL[level as usize - 1];
            tables.push((up, t));
            (below, level) = (t, up);
        }
        Ok(KasanEarlyShadow { page, tables })
    }

    /// `kasan_early_shadow_page`.
    pub fn page(&self) -> PhysAddr {
        self.page
    }

    /// The zero table linked under an entry of `level`.
    pub fn table_below(&self, level: Level) -> Option<SharedTable> {
        self.tables
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, t)| *t)
    }

    fn is_zero_table(&self, frame: PhysAddr) -> bool {
        self.tables.iter().any(|(_, t)| t.frame() == frame)
    }
}

/// `kasan_populate_early_shadow()` (`kasan_add_zero_shadow()` for device
/// memory): make the shadow `start..end` read as zero. Walking from the
/// top, an empty entry the range covers in whole is linked to the zero
/// table below it (`pgd_populate_kernel()` … `pmd_populate_kernel()` of
/// `kasan_early_shadow_p4d` … `_pte`); an empty entry covered in part gets
/// a new table (`p4d_alloc()` … `pte_alloc_one_kernel()`), and the walk
/// goes on below it, as it does below an entry that already holds a table;
/// an empty PTE maps the zero page (`zero_pte_populate()`). Present leaves
/// and zero tables already linked are kept (Linux would rewrite them).
/// Returns the top-level entries it filled.
///
/// Both ends must be page-aligned kernel addresses. On an error the
/// entries filled so far stay: they map the zero page only.
pub fn kasan_populate_early_shadow<'a, A, M, E>(
    e: &mut E,
    shadow: &KasanEarlyShadow,
    start: VirtAddr,
    end: VirtAddr,
) -> Result<usize>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    if !start.is_aligned(PAGE_SIZE) || !end.is_aligned(PAGE_SIZE) {
        return Err(Error::Misaligned(if start.is_aligned(PAGE_SIZE) {
            end.0
        } else {
            start.0
        }));
    }
    let last = kernel_range(e.arch(), start, end.0.wrapping_sub(start.0))?;
    let mut filled = 0;
    zero_populate(e, shadow, Level::Pgd, None, start.0, last, &mut filled)?;
    Ok(filled)
}

/// Fill `start..=last` at `level`, whose entries are found below `parent`
/// (the root's when `None`): `zero_p4d_populate()` … `zero_pte_populate()`.
fn zero_populate<'a, A, M, E>(
    e: &mut E,
    z: &KasanEarlyShadow,
    level: Level,
    parent: Option<EntryPtr>,
    start: u64,
    last: u64,
    filled: &mut usize,
) -> Result<()>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let arch = *e.arch();
    let size = arch.level_size(level);
    let mut va = start;
    loop {
        let entry_last = (va | (size - 1)).min(last);
        let entry = match parent {
            None => e.pgd_offset(VirtAddr(va)),
            Some(p) => e
                .offset(level, p, VirtAddr(va))
                .ok_or(Error::AlreadyMapped(VirtAddr(va)))?,
        };
        let whole = va & (size - 1) == 0 && entry_last == va + (size - 1);
        match (e.entry(level, entry), level.next()) {
            (Decoded::None, None) => {
                e.set_leaf(level, VirtAddr(va), entry, z.page, Prot::KERNEL_RO)?;
            }
            (Decoded::None, Some(child)) => {
                let top = level == arch.top_level();
                match z.table_below(level).filter(|_| whole) {
                    Some(table) => e.populate_shared(level, VirtAddr(va), entry, table)?,
                    None => {
                        e.alloc_track(level, entry, VirtAddr(va))?;
                        zero_populate(e, z, child, Some(entry), va, entry_last, filled)?;
                    }
                }
                *filled += usize::from(top);
            }
            (Decoded::Table(t), Some(child)) if !z.is_zero_table(t) => {
                zero_populate(e, z, child, Some(entry), va, entry_last, filled)?;
            }
            _ => {}
        }
        match entry_last.checked_add(1) {
            Some(n) if n <= last => va = n,
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::{machine, KASAN};

    const ZERO: PhysAddr = PhysAddr(1 << 40);
    const G: u64 = 1 << 30;

    #[test]
    fn whole_entries_link_the_shared_tables_and_partial_ones_get_their_own() {
        let pt = machine();
        let other = pt.create_space().unwrap();
        let mut ks = pt.kernel();
        let (z, _) = ks.edit(|e| KasanEarlyShadow::new(e, ZERO));
        let z = z.unwrap();
        assert_eq!(z.page(), ZERO);
        for l in [Level::Pmd, Level::Pud, Level::P4d] {
            assert!(z.table_below(l).is_some(), "{l}");
        }
        let built = pt.mem().tables_in_use();
        // One whole PUD entry of an empty top-level slot: a new PUD table,
        // then the shared PMD table.
        let (n, report) =
            ks.edit(|e| kasan_populate_early_shadow(e, &z, KASAN, VirtAddr(KASAN.0 + G)));
        assert_eq!(n, Ok(1));
        assert!(report.synced());
        assert_eq!(pt.mem().tables_in_use(), built + 1);
        for va in [KASAN.0, KASAN.0 + G / 2, KASAN.0 + G - 4096] {
            let m = pt.translate(other.root(), VirtAddr(va)).unwrap();
            assert_eq!((m.pa, m.size, m.prot), (ZERO, 4096, Prot::KERNEL_RO));
        }
        // Part of the next PUD entry: a PMD table of its own, a shared PTE
        // table under the whole PMD entry, a PTE table of its own for the
        // rest.
        let (s, e) = (KASAN.0 + G + (2 << 20), KASAN.0 + G + (4 << 20) + 8192);
        let (n, _) = ks.edit(|ed| kasan_populate_early_shadow(ed, &z, VirtAddr(s), VirtAddr(e)));
        assert_eq!(n, Ok(0));
        assert_eq!(pt.mem().tables_in_use(), built + 3);
        assert_eq!(
            pt.translate(other.root(), VirtAddr(e - 4096)).map(|m| m.pa),
            Some(ZERO)
        );
        assert!(pt.translate(pt.kernel_root(), VirtAddr(e)).is_none());
        assert!(pt.translate(pt.kernel_root(), VirtAddr(s - 4096)).is_none());
        // Again over both: nothing new.
        let (n, _) = ks.edit(|ed| kasan_populate_early_shadow(ed, &z, KASAN, VirtAddr(e)));
        assert_eq!(n, Ok(0));
        assert_eq!(pt.mem().tables_in_use(), built + 3);
        drop(ks);
        pt.destroy_space(other).unwrap().ignore();
    }

    #[test]
    fn the_shared_tables_refuse_writes_and_unmaps() {
        let pt = machine();
        let mut ks = pt.kernel();
        let (z, _) = ks.edit(|e| KasanEarlyShadow::new(e, ZERO));
        let z = z.unwrap();
        let _ = ks.edit(|e| kasan_populate_early_shadow(e, &z, KASAN, VirtAddr(KASAN.0 + G)));
        let (r, _) = ks.edit(|e| e.vunmap_range(KASAN, 4096));
        assert_eq!(r, Err(Error::SharedTable(KASAN)));
        let (r, _) =
            ks.edit(|e| e.vmap_range(KASAN, ZERO, 4096, Prot::KERNEL, crate::PageSize::Base));
        assert!(r.is_err());
        // Nor do the removal and the vmemmap walks enter them.
        let mut frames = crate::mm::testing::Frames::new(1 << 20);
        let end = VirtAddr(KASAN.0 + (1 << 20));
        let (r, _) = ks.edit(|e| {
            crate::mm::vmemmap_free(e, KASAN, end, &mut frames, &mut |_: &crate::FlushRange| {})
        });
        assert_eq!(r, Err(Error::SharedTable(KASAN)));
        let (r, _) = ks.edit(|e| crate::mm::vmemmap_populate_basepages(e, KASAN, end, &mut frames));
        assert_eq!(r, Err(Error::SharedTable(KASAN)));
        assert!(frames.live.is_empty());
    }

    #[test]
    fn misaligned_or_user_ranges_are_refused() {
        let pt = machine();
        let mut ks = pt.kernel();
        let (z, _) = ks.edit(|e| KasanEarlyShadow::new(e, ZERO));
        let z = z.unwrap();
        let (r, _) = ks.edit(|e| {
            kasan_populate_early_shadow(e, &z, VirtAddr(KASAN.0 + 8), VirtAddr(KASAN.0 + 4096))
        });
        assert_eq!(r, Err(Error::Misaligned(KASAN.0 + 8)));
        let (r, _) = ks.edit(|e| kasan_populate_early_shadow(e, &z, VirtAddr(0), VirtAddr(4096)));
        assert_eq!(r, Err(Error::NotKernelAddress(VirtAddr(0))));
        let (r, _) = ks.edit(|e| kasan_populate_early_shadow(e, &z, KASAN, KASAN));
        assert_eq!(r, Err(Error::EmptyRange));
    }
}
