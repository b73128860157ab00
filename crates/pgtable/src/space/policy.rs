//! Which kernel code a [`KernelEdit`](crate::KernelEdit) writes as: Linux
//! 6.17's tracked populate helpers or the plain ones of earlier kernels.

use crate::walk::pgalloc::Side;

mod sealed {
    /// Only this crate's policies: the edit's guarantees rest on them.
    pub trait Sealed {}
}

/// How a [`KernelEdit`](crate::KernelEdit) populates the kernel tables:
/// [`Tracked`] or [`Legacy`]. Sealed: the library's guarantees depend on
/// which one an edit is.
pub trait EditPolicy: sealed::Sealed + 'static {
    /// Whether the edit records `pgtbl_mod_mask` at each populate and runs
    /// the architecture's sync when it ends (`*_populate_kernel()`), rather
    /// than writing the plain `*_populate(&init_mm, …)` and nothing else.
    const TRACKED: bool;
}

/// Linux 6.17's edit: `pgd_populate_kernel()` and friends record the level
/// they changed in `pgtbl_mod_mask`, and the edit syncs every root when it
/// ends. What [`KernelSpace::edit`](crate::KernelSpace::edit) lends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {}

/// The edit as kernels before Linux 6.17 wrote it: the plain
/// `pgd_populate()`, no mask, no sync. Lent only by the `unsafe`
/// [`KernelSpace::legacy_edit`](crate::KernelSpace::legacy_edit), to
/// reproduce the old bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legacy {}

impl sealed::Sealed for Tracked {}
impl sealed::Sealed for Legacy {}

impl EditPolicy for Tracked {
    const TRACKED: bool = true;
}

impl EditPolicy for Legacy {
    const TRACKED: bool = false;
}

/// The populate helpers' variant an edit of policy `P` uses.
pub(crate) const fn side<P: EditPolicy>() -> Side {
    if P::TRACKED {
        Side::Kernel
    } else {
        Side::LegacyKernel
    }
}
