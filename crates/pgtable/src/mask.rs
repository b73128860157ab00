//! The modification mask (Linux's `pgtbl_mod_mask`, `PGTBL_*_MODIFIED`).

use crate::level::Level;

bitflags::bitflags! {
    /// Which page-table levels an edit wrote a non-leaf or leaf entry at.
    ///
    /// The walks set a bit each time they populate or clear an entry of that
    /// level; an architecture's [`crate::KernelPolicy::sync_mask`] says which bits
    /// oblige it to copy kernel entries into every address space.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct SyncMask: u8 {
        /// `PGTBL_PGD_MODIFIED`.
        const PGD = 1 << 0;
        /// `PGTBL_P4D_MODIFIED`.
        const P4D = 1 << 1;
        /// `PGTBL_PUD_MODIFIED`.
        const PUD = 1 << 2;
        /// `PGTBL_PMD_MODIFIED`.
        const PMD = 1 << 3;
        /// `PGTBL_PTE_MODIFIED`.
        const PTE = 1 << 4;
    }
}

impl SyncMask {
    /// The bit for one level.
    #[must_use]
    pub const fn of(level: Level) -> Self {
        match level {
            Level::Pgd => Self::PGD,
            Level::P4d => Self::P4D,
            Level::Pud => Self::PUD,
            Level::Pmd => Self::PMD,
            Level::Pte => Self::PTE,
        }
    }
}
