//! A per-CPU TLB model (x86: SDM 4.10.2 "Translation Lookaside Buffers",
//! 4.10.4 "Invalidation of TLBs and Paging-Structure Caches").
//!
//! The model is deliberately the *most forgiving to stale state* that the
//! architecture allows, so missing invalidations in the code under test
//! show up:
//! - it has unlimited capacity and never evicts on its own (hardware may
//!   evict at any time, which can only hide a missing flush);
//! - `invlpg` removes only the entries covering the one address (hardware
//!   may remove more);
//! - only successful translations are cached: the TLB never holds
//!   not-present translations (SDM 4.10.2.1: a translation is cached only if
//!   P = 1 and no reserved bit is set at every level).
//!
//! Paging-structure caches (SDM 4.10.3) are not modelled separately; since
//! they too are only filled from present entries and invalidated by the
//! same operations, their observable effect is covered by the TLB model for
//! the leaf-level question "does a stale translation get used".
//!
//! The TLB is generic over the cached value so arm64 and riscv models can
//! reuse it; PCIDs/ASIDs are not modelled (one address space tag).

use alloc::collections::{BTreeMap, BTreeSet};

/// What a [`Tlb`] needs from a cached translation.
pub trait TlbEntry: Copy {
    /// Page size in bytes (a power of two).
    fn page_size(&self) -> u64;
    /// Whether the entry survives address-space switches (x86 G with
    /// CR4.PGE, SDM 4.10.2.4).
    fn is_global(&self) -> bool;
    /// Physical address the entry translates to.
    fn pa(&self) -> u64;
    /// The same entry translating to `pa` instead.
    fn with_pa(self, pa: u64) -> Self;
}

/// A TLB: page-aligned linear address and page size → cached translation.
///
/// Entries for different page sizes may cover the same address (after a
/// page-size change without invalidation, SDM 4.10.2.3 lets the processor
/// use any of them); [`Tlb::lookup`] deterministically prefers the smallest.
#[derive(Clone, Debug)]
pub struct Tlb<T: TlbEntry> {
    /// (page va, page size) → translation whose `pa` is the page base.
    entries: BTreeMap<(u64, u64), T>,
    /// Page sizes ever filled, ascending: the keys a lookup must try.
    sizes: BTreeSet<u64>,
    hits: u64,
    misses: u64,
}

impl<T: TlbEntry> Default for Tlb<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: TlbEntry> Tlb<T> {
    /// An empty TLB with zeroed counters.
    pub fn new() -> Self {
        Tlb {
            entries: BTreeMap::new(),
            sizes: BTreeSet::new(),
            hits: 0,
            misses: 0,
        }
    }

    /// The cached translation of `va` (its `pa` is `va`'s physical
    /// address), counting a hit or a miss.
    pub fn lookup(&mut self, va: u64) -> Option<T> {
        let found = self.peek(va);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Like [`Tlb::lookup`] without touching the counters.
    pub fn peek(&self, va: u64) -> Option<T> {
        self.sizes.iter().find_map(|&size| {
            let base = va & !(size - 1);
            let t = self.entries.get(&(base, size))?;
            Some(t.with_pa(t.pa() + (va - base)))
        })
    }

    /// Caches `t`, the translation of `va`, replacing any entry for the same
    /// page and size.
    pub fn fill(&mut self, va: u64, t: &T) {
        let size = t.page_size();
        debug_assert!(size.is_power_of_two());
        let offset = va & (size - 1);
        self.sizes.insert(size);
        self.entries
            .insert((va - offset, size), t.with_pa(t.pa() - offset));
    }

    /// INVLPG: removes the entries of every page size covering `va`,
    /// global ones included (SDM 4.10.4.1).
    pub fn invlpg(&mut self, va: u64) {
        for &size in &self.sizes {
            self.entries.remove(&(va & !(size - 1), size));
        }
    }

    /// MOV to CR3 (PCIDE = 0): removes every non-global entry (SDM
    /// 4.10.4.1). Whether an entry is global already accounts for CR4.PGE:
    /// with PGE = 0 nothing is global, so everything goes.
    pub fn load_cr3(&mut self) {
        self.entries.retain(|_, t| t.is_global());
    }

    /// Removes everything, global entries included (as toggling CR4.PGE
    /// does, SDM 4.10.4.1).
    pub fn flush_all(&mut self) {
        self.entries.clear();
    }

    /// Lookups that hit.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Lookups that missed.
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Zeroes the hit and miss counters.
    pub fn reset_counters(&mut self) {
        self.hits = 0;
        self.misses = 0;
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Cached entries as (page-aligned va, translation of that va), in
    /// (va, size) order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.entries.iter().map(|(&(va, _), t)| (va, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct E {
        pa: u64,
        size: u64,
        global: bool,
    }

    impl TlbEntry for E {
        fn page_size(&self) -> u64 {
            self.size
        }
        fn is_global(&self) -> bool {
            self.global
        }
        fn pa(&self) -> u64 {
            self.pa
        }
        fn with_pa(self, pa: u64) -> Self {
            E { pa, ..self }
        }
    }

    fn e(pa: u64, size: u64, global: bool) -> E {
        E { pa, size, global }
    }

    #[test]
    fn fill_lookup_and_counters() {
        let mut tlb = Tlb::new();
        assert_eq!(tlb.lookup(0x5000), None);
        tlb.fill(0x5123, &e(0x9123, 0x1000, false));
        assert_eq!(tlb.lookup(0x5fff), Some(e(0x9fff, 0x1000, false)));
        assert_eq!(tlb.lookup(0x6000), None);
        // A 2 MiB entry serves every address in its page.
        tlb.fill(0x40_0010, &e(0x20_0010, 0x20_0000, false));
        assert_eq!(tlb.lookup(0x5f_fff0).map(|t| t.pa), Some(0x3f_fff0));
        assert_eq!((tlb.hits(), tlb.misses(), tlb.len()), (2, 2, 2));
        tlb.reset_counters();
        assert_eq!((tlb.hits(), tlb.misses()), (0, 0));
    }

    #[test]
    fn invlpg_removes_all_sizes_covering_va() {
        let mut tlb = Tlb::new();
        tlb.fill(0x40_0000, &e(0x20_0000, 0x20_0000, true));
        tlb.fill(0x40_1000, &e(0x7000, 0x1000, true));
        tlb.fill(0x40_2000, &e(0x8000, 0x1000, false));
        // Both the 4 KiB and the 2 MiB entry cover 0x401000; the smaller wins.
        assert_eq!(tlb.peek(0x40_1000).map(|t| t.pa), Some(0x7000));
        tlb.invlpg(0x40_1abc);
        assert_eq!(tlb.len(), 1);
        assert_eq!(tlb.peek(0x40_1000), None);
        assert_eq!(tlb.peek(0x40_2000).map(|t| t.pa), Some(0x8000));
    }

    #[test]
    fn load_cr3_keeps_globals_flush_all_does_not() {
        let mut tlb = Tlb::new();
        tlb.fill(0x1000, &e(0x1000, 0x1000, true));
        tlb.fill(0x2000, &e(0x2000, 0x1000, false));
        tlb.load_cr3();
        assert!(tlb.peek(0x1000).is_some());
        assert!(tlb.peek(0x2000).is_none());
        tlb.flush_all();
        assert!(tlb.is_empty());
    }
}
