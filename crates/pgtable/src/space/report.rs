//! What the end of a kernel edit did to keep every address space in sync.

use crate::addr::VirtAddr;
use crate::error::{Error, Result};
use crate::mask::SyncMask;

/// What the end of an edit did to keep every address space in sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct SyncReport {
    /// Levels the edit modified (`pgtbl_mod_mask`).
    pub mask: SyncMask,
    /// The range that needed a sync, if any.
    pub range: Option<(VirtAddr, VirtAddr)>,
    /// What was done about it.
    pub outcome: SyncOutcome,
    /// Top-level entries found present in some root and different from the
    /// kernel's: left as they were (Linux's `sync_global_pgds()` `BUG()`s
    /// there). Always 0 unless something wrote a root's kernel half behind
    /// the library's back; [`check`](Self::check) turns it into an error.
    pub mismatches: usize,
}

impl SyncReport {
    /// [`Error::SyncMismatch`] if the sync found a root whose top-level
    /// kernel entry differed from the kernel's (the `BUG_ON()` of
    /// `sync_global_pgds()`).
    pub fn check(&self) -> Result<()> {
        match self.mismatches {
            0 => Ok(()),
            n => Err(Error::SyncMismatch(n)),
        }
    }

    /// Whether entries were copied into the other roots (by the
    /// architecture's sync or by the top-level fallback).
    pub fn synced(&self) -> bool {
        matches!(
            self.outcome,
            SyncOutcome::Synced | SyncOutcome::CopiedTopLevel
        )
    }
}

/// How the end of an edit kept (or did not keep) the other roots in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// No level the architecture shares between roots changed.
    NotNeeded,
    /// The mask met `ARCH_PAGE_TABLE_SYNC_MASK` and
    /// `arch_sync_kernel_mappings()` ran over the range.
    Synced,
    /// The architecture never syncs because it preallocates the top level
    /// where the kernel maps (riscv64 `preallocate_pgd_pages_range()`), but
    /// this edit filled a top-level kernel entry outside those areas. Linux
    /// would leave older spaces without it; the library copied the
    /// top-level entries of the range into every root instead.
    CopiedTopLevel,
    /// A sync was needed and not run: [`SyncPolicy::Lazy`](crate::SyncPolicy::Lazy) leaves it to
    /// [`PageTables::sync_on_fault`](crate::PageTables::sync_on_fault).
    Deferred,
}
