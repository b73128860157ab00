//! Sub-page page tables: several small tables carved out of one page, the
//! page given back when its last table goes (powerpc's
//! `pte_fragment_alloc()` in `arch/powerpc/mm/pgtable-frag.c`, arm32's 1 KiB
//! second-level tables, x86-32 PAE's 32-byte PDPT as Linux allocated it
//! before 6.16).

use super::{RawAccess, TableMemory};
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::error::{Error, Result};
use alloc::vec::Vec;
use hashbrown::HashMap;

/// One page cut into fragments of one size.
#[derive(Clone, Copy, Debug)]
struct Page {
    bytes: u64,
    /// Bit `i` set: fragment `i` is handed out. Up to 128 fragments (32-byte
    /// tables).
    used: u128,
}

impl Page {
    fn slots(&self) -> u32 {
        (PAGE_SIZE / self.bytes) as u32
    }

    fn full(&self) -> bool {
        self.used.count_ones() == self.slots()
    }
}

#[derive(Default)]
struct Inner {
    pages: HashMap<u64, Page>,
    /// Pages with at least one free fragment.
    partial: Vec<u64>,
}

/// The fragment allocator of one set of page tables.
///
/// Pages come from, and go back to, the [`TableMemory`] whole; the memory's
/// [`tables_in_use`](TableMemory::tables_in_use) therefore counts each
/// fragmented page once, however many tables it holds.
#[derive(Default)]
pub struct Fragments {
    inner: crate::sync::Mutex<Inner>,
}

impl core::fmt::Debug for Fragments {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Fragments")
            .field("pages", &inner.pages.len())
            .field("partial", &inner.partial.len())
            .finish()
    }
}

impl Fragments {
    /// A zeroed table of `bytes` (a power of two from 32 to half a page),
    /// aligned to its size.
    ///
    /// Returns [`Error::Misaligned`] with `bytes` for any other size, and
    /// [`Error::OutOfMemory`] when `mem` has no page left.
    pub fn alloc<M: TableMemory + ?Sized>(&self, mem: &M, bytes: u64) -> Result<PhysAddr> {
        if !bytes.is_power_of_two() || !(32..PAGE_SIZE).contains(&bytes) {
            return Err(Error::Misaligned(bytes));
        }
        let mut inner = self.inner.lock();
        let found = inner
            .partial
            .iter()
            .position(|p| inner.pages.get(p).is_some_and(|pg| pg.bytes == bytes));
        let page = match found {
            Some(i) => inner.partial[i],
            None => {
                // A fresh page is zeroed by the memory, so every fragment of
                // it is a valid empty table.
                let page = mem.alloc_table(RawAccess::new())?.0;
                inner.pages.insert(page, Page { bytes, used: 0 });
                inner.partial.push(page);
                page
            }
        };
        let Some(pg) = inner.pages.get_mut(&page) else {
            // A partial page is always registered; were it not, nothing is
            // handed out.
            return Err(Error::OutOfMemory);
        };
        // A partial page has a free slot below `slots() <= 128`.
        let slot = (!pg.used).trailing_zeros();
        pg.used |= 1u128 << (slot % 128);
        if pg.full() {
            inner.partial.retain(|p| *p != page);
        }
        Ok(PhysAddr(page + u64::from(slot) * bytes))
    }

    /// Give back the fragment `table` of `bytes`; its page goes back to
    /// `mem` when no other fragment of it is in use. The fragment is zeroed
    /// for its next user.
    ///
    /// A `table` that is not a fragment handed out by [`alloc`](Self::alloc)
    /// with this `bytes` (never allocated, already given back, of another
    /// size) is ignored.
    pub fn free<M: TableMemory + ?Sized>(&self, mem: &M, table: PhysAddr, bytes: u64) {
        let page = table.0 & !(PAGE_SIZE - 1);
        let mut inner = self.inner.lock();
        let Some(pg) = inner.pages.get_mut(&page) else {
            return;
        };
        // `pg.bytes` is a valid fragment size (checked by `alloc`), so the
        // slot is below 128.
        let off = table.0 - page;
        let bit = 1u128 << ((off / pg.bytes) % 128);
        if pg.bytes != bytes || !off.is_multiple_of(bytes) || pg.used & bit == 0 {
            return;
        }
        let was_full = pg.full();
        pg.used &= !bit;
        if pg.used == 0 {
            inner.pages.remove(&page);
            inner.partial.retain(|p| *p != page);
            drop(inner);
            mem.free_table(RawAccess::new(), PhysAddr(page));
            return;
        }
        // Zeroed while the lock keeps the fragment from its next user.
        for off in (0..bytes).step_by(8) {
            mem.write_u64(RawAccess::new(), PhysAddr(table.0 + off), 0);
        }
        if was_full {
            inner.partial.push(page);
        }
    }

    /// Pages currently cut into fragments.
    #[cfg(test)]
    pub fn pages(&self) -> usize {
        self.inner.lock().pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::SparseMemory;

    fn mem() -> SparseMemory {
        SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x20_0000))
    }

    #[test]
    fn a_page_is_freed_only_with_its_last_fragment() {
        let (m, f) = (mem(), Fragments::default());
        let tables: Vec<PhysAddr> = (0..4).map(|_| f.alloc(&m, 1024).unwrap()).collect();
        assert_eq!(m.tables_in_use(), 1, "four 1 KiB tables share one page");
        let page = tables[0].0;
        for (i, t) in tables.iter().enumerate() {
            assert_eq!(t.0, page + i as u64 * 1024);
        }
        m.write_u64(tables[1], 0x1234);
        for t in &tables[..3] {
            f.free(&m, *t, 1024);
            assert_eq!(m.tables_in_use(), 1, "page kept while a fragment lives");
        }
        let again = f.alloc(&m, 1024).unwrap();
        assert_eq!(m.tables_in_use(), 1, "a free fragment is reused first");
        assert_eq!(m.read_u64(tables[1]), 0, "reused fragments are zeroed");
        f.free(&m, again, 1024);
        f.free(&m, tables[3], 1024);
        assert_eq!(m.tables_in_use(), 0, "the last fragment frees the page");
        assert_eq!(f.pages(), 0);
    }

    #[test]
    fn sizes_do_not_share_pages_and_small_ones_pack_densely() {
        let (m, f) = (mem(), Fragments::default());
        let pdpts: Vec<PhysAddr> = (0..128).map(|_| f.alloc(&m, 32).unwrap()).collect();
        assert_eq!(m.tables_in_use(), 1, "128 PDPTs of 32 bytes in one page");
        let l2 = f.alloc(&m, 1024).unwrap();
        assert_eq!(m.tables_in_use(), 2);
        assert_ne!(l2.0 & !(PAGE_SIZE - 1), pdpts[0].0 & !(PAGE_SIZE - 1));
        let next = f.alloc(&m, 32).unwrap();
        assert_eq!(m.tables_in_use(), 3, "a full page takes no more");
        for t in pdpts.iter().chain([&next]) {
            f.free(&m, *t, 32);
        }
        f.free(&m, l2, 1024);
        assert_eq!(m.tables_in_use(), 0);
    }

    #[test]
    fn allocation_failure_is_reported_and_changes_nothing() {
        let (m, f) = (mem(), Fragments::default());
        m.set_table_limit(0);
        assert_eq!(f.alloc(&m, 1024), Err(crate::Error::OutOfMemory));
        assert_eq!(f.pages(), 0);
    }

    #[test]
    fn bad_sizes_are_refused_with_an_error() {
        let (m, f) = (mem(), Fragments::default());
        for bytes in [0, 8, 16, 48, 1000, PAGE_SIZE, 2 * PAGE_SIZE, u64::MAX] {
            assert_eq!(f.alloc(&m, bytes), Err(Error::Misaligned(bytes)));
        }
        assert_eq!(m.tables_in_use(), 0);
        assert_eq!(f.pages(), 0);
    }

    #[test]
    fn bad_frees_are_ignored() {
        let (m, f) = (mem(), Fragments::default());
        let a = f.alloc(&m, 1024).unwrap();
        let b = f.alloc(&m, 1024).unwrap();
        m.write_u64(b, 7);
        let other = m.alloc_table().unwrap();
        m.write_u64(other, 9);
        for bytes in [0, 1, 32, 512, 2048, PAGE_SIZE, u64::MAX] {
            f.free(&m, b, bytes);
        }
        f.free(&m, PhysAddr(b.0 + 8), 1024);
        f.free(&m, other, 1024);
        f.free(&m, PhysAddr(u64::MAX), 1024);
        f.free(&m, a, 1024);
        f.free(&m, a, 1024);
        assert_eq!(m.read_u64(b), 7, "b is still in use");
        assert_eq!(m.read_u64(other), 9, "not a fragment");
        assert_eq!(m.tables_in_use(), 2, "b's page and other");
        // The freed slot is handed out once, then a fresh one.
        assert_eq!(f.alloc(&m, 1024), Ok(a));
        let c = f.alloc(&m, 1024).unwrap();
        assert!(c != a && c != b);
        f.free(&m, a, 1024);
        f.free(&m, b, 1024);
        f.free(&m, c, 1024);
        f.free(&m, c, 1024);
        m.free_table(other);
        assert_eq!(m.tables_in_use(), 0);
        assert_eq!(f.pages(), 0);
    }
}
