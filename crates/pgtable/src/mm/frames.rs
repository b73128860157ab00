//! Where the memory the populating users map comes from.

use crate::addr::PhysAddr;
use crate::error::Error;

/// The kernel's allocator of the memory these users map (not of page
/// tables, which come from the [`TableMemory`](crate::TableMemory)): the
/// `struct page` arrays of the vmemmap (Linux's
/// `vmemmap_alloc_block_buf()`), given back by
/// [`vmemmap_free`](super::vmemmap_free) (`free_pagetable()`,
/// `free_hugepage_table()`).
///
/// Its error type carries the kernel's own "out of memory"; it must hold
/// the library's [`Error`] too, which the populate calls return through it.
pub trait FrameSource {
    /// The caller's error: the library's errors convert into it.
    type Error: From<Error>;
    /// A zeroed frame of `size` bytes (the base page size or a PMD block),
    /// aligned to `size`. A misaligned frame is handed back through
    /// [`free`](Self::free) and refused with [`Error::Misaligned`].
    fn alloc(&mut self, size: u64) -> Result<PhysAddr, Self::Error>;
    /// Give back a frame [`alloc`](Self::alloc) returned, of that size.
    fn free(&mut self, pa: PhysAddr, size: u64);
}

/// Allocate and check the alignment the mapping needs.
pub(crate) fn alloc_aligned<F: FrameSource + ?Sized>(
    frames: &mut F,
    size: u64,
) -> Result<PhysAddr, F::Error> {
    let pa = frames.alloc(size)?;
    if !pa.is_aligned(size) {
        frames.free(pa, size);
        return Err(Error::Misaligned(pa.0).into());
    }
    Ok(pa)
}
