//! The five logical page-table levels every architecture is described in.

/// A logical level, as Linux names them from the root down.
///
/// Architectures with fewer hardware levels *fold* some of these: a folded
/// level has no table of its own, its entry is its parent's entry, and the
/// walk passes through it (Linux's `pgtable-nop4d.h` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Top level (`pgd_t`).
    Pgd = 0,
    /// Fourth level (`p4d_t`).
    P4d = 1,
    /// Upper directory (`pud_t`).
    Pud = 2,
    /// Middle directory (`pmd_t`).
    Pmd = 3,
    /// Page table entries (`pte_t`).
    Pte = 4,
}

impl Level {
    /// All levels from the root down.
    pub const ALL: [Level; 5] = [Level::Pgd, Level::P4d, Level::Pud, Level::Pmd, Level::Pte];

    /// The level below, or `None` for [`Level::Pte`].
    #[must_use]
    pub const fn next(self) -> Option<Level> {
        match self {
            Level::Pgd => Some(Level::P4d),
            Level::P4d => Some(Level::Pud),
            Level::Pud => Some(Level::Pmd),
            Level::Pmd => Some(Level::Pte),
            Level::Pte => None,
        }
    }

    /// Linux's name of the level, lower case (`"pgd"` … `"pte"`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Level::Pgd => "pgd",
            Level::P4d => "p4d",
            Level::Pud => "pud",
            Level::Pmd => "pmd",
            Level::Pte => "pte",
        }
    }
}

impl core::fmt::Display for Level {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
