//! The vmalloc layer (`mm/vmalloc.c`, `mm/ioremap.c`): `vmap_range()`,
//! `vmap()`, `vunmap()`, `ioremap()` and the vmap area allocator, over the
//! walk engine's map and unmap walks. The public entry points are methods
//! of [`KernelEdit`](crate::KernelEdit), which lends this layer its tables,
//! its mask and the vmalloc area; nothing here knows an address space.

mod area;
mod ioremap;
mod vmap;

pub use area::VmapAreas;

use crate::addr::PhysAddr;
use crate::arch::Level;
use crate::walk::pgalloc::Populate;

/// What the vmalloc calls of one kernel edit work on.
pub(crate) struct Vmalloc<'e, A, M: ?Sized> {
    /// The kernel tables, and the edit's own mask to record into.
    pub pop: Populate<'e, A, M>,
    /// The kernel root (`swapper_pg_dir`).
    pub root: PhysAddr,
    /// The deepest level whose entries an unmap never clears to free the
    /// table below (the edit's choice: the root's, or the sync level's
    /// under a lazy sync).
    pub keep: Level,
    /// The vmalloc area's free and busy ranges.
    pub areas: &'e mut VmapAreas,
    /// Whether the edit allows kernel mappings both writable and executable.
    pub allow_wx: bool,
}
