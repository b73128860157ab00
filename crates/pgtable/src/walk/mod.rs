//! The walk engine: everything that reads or writes entries, below the
//! address spaces that own the tables.
//!
//! - [`tables`]: entry access (`pgd_offset()` … `pte_offset_kernel()`,
//!   `p?d_none()`, `p?d_addr_end()`), table allocation, folding;
//! - [`shared`]: the tables linked under many entries, which no walk writes
//!   through;
//! - [`pgalloc`]: the populate helpers of `include/linux/pgalloc.h` and the
//!   `*_alloc_track()` helpers, recording `pgtbl_mod_mask`;
//! - [`visit`]: the read-only walk (translate, visit leaves and tables);
//! - [`map`] and [`unmap`]: `mm/vmalloc.c`'s `vmap_range_noflush()` and
//!   `vunmap_range_noflush()`, one function per level, used for kernel and
//!   user mappings alike.
//!
//! Dependencies point down: `map` → `unmap` → `pgalloc` → `tables` →
//! `shared`; nothing here knows an address space.

pub(crate) mod map;
pub(crate) mod pgalloc;
pub(crate) mod shared;
pub(crate) mod tables;
pub(crate) mod unmap;
pub(crate) mod visit;

pub use shared::MAX_SHARED_TABLES;
pub use tables::EntryPtr;
pub use visit::Mapping;
