//! The software MMU reads the same memory the library writes.

use pgtable::{PhysAddr, SparseMemory};
use pgtable_mmu::PhysBus;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// [`SparseMemory`] seen as the MMU's physical bus.
pub struct Bus<'a>(pub &'a SparseMemory);

impl PhysBus for Bus<'_> {
    fn read_u64(&self, pa: u64) -> u64 {
        self.0.read_u64(PhysAddr(pa))
    }
    fn write_u64(&self, pa: u64, value: u64) {
        self.0.write_u64(PhysAddr(pa), value)
    }
}

/// [`Bus`] that keeps the words of the last table page it read, so that a
/// walk along one table (an enumeration reads every entry) finds the page
/// once. It reads the same words as [`Bus`]: the memory's own, lent by
/// [`SparseMemory::peek_words`], which live as long as the memory.
pub struct PageBus<'a> {
    mem: &'a SparseMemory,
    last: Cell<Option<(u64, &'a [AtomicU64])>>,
}

impl<'a> PageBus<'a> {
    /// A bus over `mem`.
    pub fn new(mem: &'a SparseMemory) -> Self {
        PageBus {
            mem,
            last: Cell::new(None),
        }
    }
}

impl PhysBus for PageBus<'_> {
    fn read_u64(&self, pa: u64) -> u64 {
        let page = pa & !0xfff;
        let word = ((pa & 0xfff) / 8) as usize;
        let words = match self.last.get() {
            Some((p, w)) if p == page => Some(w),
            _ => self.mem.peek_words(PhysAddr(page)).inspect(|&w| {
                self.last.set(Some((page, w)));
            }),
        };
        match words {
            Some(w) => w[word].load(Ordering::Acquire),
            // Not a table frame: the memory's own read.
            None => self.mem.read_u64(PhysAddr(pa)),
        }
    }
    fn write_u64(&self, pa: u64, value: u64) {
        self.mem.write_u64(PhysAddr(pa), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bus_reads_what_bus_reads() {
        let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x20_0000));
        let t = mem.alloc_table().unwrap();
        mem.write_u64(PhysAddr(t.0 + 8), 5);
        mem.write_u64(PhysAddr(0x4000_0010), 7);
        let (bus, page) = (Bus(&mem), PageBus::new(&mem));
        for pa in [t.0, t.0 + 8, 0x4000_0010, t.0 + 8, 0x5000_0000] {
            assert_eq!(page.read_u64(pa), bus.read_u64(pa), "{pa:#x}");
        }
        // A write through either is seen by the other, cached page or not.
        page.write_u64(t.0 + 8, 9);
        assert_eq!((page.read_u64(t.0 + 8), bus.read_u64(t.0 + 8)), (9, 9));
        bus.write_u64(t.0 + 16, 3);
        assert_eq!(page.read_u64(t.0 + 16), 3);
    }
}
