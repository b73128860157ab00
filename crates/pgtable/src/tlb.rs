//! TLB flush obligations: what an unmap leaves for the caller to flush.
//!
//! Linux's `vunmap_range()` clears entries and then calls
//! `flush_tlb_kernel_range()`; `zap_page_range()` ends in
//! `tlb_finish_mmu()` → `flush_tlb_mm_range(mm, start, end, stride_shift,
//! freed_tables)`. The flush is the architecture's (an `invlpg` loop, a
//! `TLBI VAE1IS` broadcast, an `sfence.vma`, IPIs to other CPUs), so the
//! library hands it to the caller as a [`TlbFlush`] that must be used:
//! every operation that removes a mapping returns one, and an operation that
//! only adds mappings where none were returns none.

use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Level;

/// Whose translations a flush concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushScope {
    /// Kernel (global) translations, in every address space:
    /// `flush_tlb_kernel_range()`.
    Kernel,
    /// One address space's user translations: `flush_tlb_mm_range()`.
    User {
        /// The space's root (`mm->pgd`).
        root: PhysAddr,
        /// Its ASID/PCID, if the caller gave it one
        /// ([`AddressSpace::set_asid`](crate::AddressSpace::set_asid)).
        asid: Option<u16>,
    },
}

/// The range a flush must cover, as `flush_tlb_mm_range()` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushRange {
    /// Whose translations.
    pub scope: FlushScope,
    /// First address unmapped.
    pub start: VirtAddr,
    /// One past the last address unmapped.
    pub end: VirtAddr,
    /// The smallest level whose leaves were removed: its size is the stride
    /// of a per-page flush (`stride_shift`).
    pub stride: Level,
    /// Whether page-table pages were freed, so cached paging-structure
    /// entries must be dropped too (`mmu_gather::freed_tables`; on x86 a
    /// full flush of the range, on arm64 `TLBI VAE1` rather than `VALE1`).
    pub freed_tables: bool,
}

/// The caller's TLB maintenance: the shape of `flush_tlb_kernel_range()` /
/// `flush_tlb_mm_range()`. Implemented for every `FnMut(&FlushRange)`.
pub trait FlushTlb {
    /// Drop every cached translation of `range` on every CPU that may hold
    /// one.
    fn flush_tlb_range(&mut self, range: &FlushRange);
}

impl<F: FnMut(&FlushRange)> FlushTlb for F {
    fn flush_tlb_range(&mut self, range: &FlushRange) {
        self(range)
    }
}

/// A TLB flush the caller owes after an unmap (the `x86_64` crate's
/// `MapperFlush`, for a range).
///
/// Until it is discharged with [`flush`](Self::flush), CPUs may still
/// translate the old addresses, and the frames that were mapped (and any
/// page-table pages that were freed) must not be reused.
#[must_use = "CPUs may still cache the old translations: call flush() with the TLB hook, or ignore() if no CPU can hold them"]
#[derive(Debug, PartialEq, Eq)]
pub struct TlbFlush {
    range: FlushRange,
}

impl TlbFlush {
    pub(crate) fn new(range: FlushRange) -> Self {
        TlbFlush { range }
    }

    /// What must be flushed.
    pub fn range(&self) -> &FlushRange {
        &self.range
    }

    /// Discharge the obligation through the caller's flush hook.
    pub fn flush(self, hook: &mut (impl FlushTlb + ?Sized)) {
        hook.flush_tlb_range(&self.range);
    }

    /// Drop the obligation without flushing: only when no CPU can have
    /// cached the translations (they were never loaded, or the whole TLB is
    /// flushed anyway).
    pub fn ignore(self) {}

    /// One obligation covering both (the union of the ranges, the smaller
    /// stride); both handed back if they concern different scopes.
    pub fn merge(self, other: TlbFlush) -> Result<TlbFlush, (TlbFlush, TlbFlush)> {
        let (a, b) = (self.range, other.range);
        if a.scope != b.scope {
            return Err((self, other));
        }
        Ok(TlbFlush::new(FlushRange {
            scope: a.scope,
            start: a.start.min(b.start),
            end: a.end.max(b.end),
            stride: a.stride.max(b.stride),
            freed_tables: a.freed_tables || b.freed_tables,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(start: u64, end: u64, stride: Level) -> TlbFlush {
        TlbFlush::new(FlushRange {
            scope: FlushScope::Kernel,
            start: VirtAddr(start),
            end: VirtAddr(end),
            stride,
            freed_tables: false,
        })
    }

    #[test]
    fn flush_hands_the_range_to_the_hook_once() {
        let mut seen = alloc::vec::Vec::new();
        kernel(0x1000, 0x3000, Level::Pte).flush(&mut |r: &FlushRange| seen.push(*r));
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].start, seen[0].end),
            (VirtAddr(0x1000), VirtAddr(0x3000))
        );
    }

    #[test]
    fn merge_takes_the_union_and_the_smaller_stride_of_one_scope_only() {
        let m = kernel(0x20_0000, 0x40_0000, Level::Pmd)
            .merge(kernel(0x1000, 0x2000, Level::Pte))
            .unwrap();
        assert_eq!(
            (m.range().start, m.range().end, m.range().stride),
            (VirtAddr(0x1000), VirtAddr(0x40_0000), Level::Pte)
        );
        let user = TlbFlush::new(FlushRange {
            scope: FlushScope::User {
                root: PhysAddr(0x1000),
                asid: None,
            },
            ..*m.range()
        });
        assert!(m.merge(user).is_err());
    }
}
