//! The vmalloc layer (`mm/vmalloc.c`, `mm/ioremap.c`): map and unmap kernel
//! ranges. The public entry points are methods of
//! [`KernelEdit`](crate::KernelEdit); this module holds the walks.

mod area;
pub(crate) mod map;
pub(crate) mod unmap;

pub use area::VmapAreas;
