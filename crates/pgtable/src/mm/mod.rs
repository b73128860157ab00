//! The kernel code that populates kernel page tables besides vmalloc:
//! memory hotplug's direct map, the sparse vmemmap, the KASAN early shadow
//! and the percpu first chunk, where the missed syncs of 9b861528a801,
//! 4917f55b4ef9 and 8d400913c231 lived. The last three are the users Linux
//! 6.17 moved to `pgd_populate_kernel()`/`p4d_populate_kernel()`; x86's
//! direct map calls `sync_global_pgds()` itself.
//!
//! Every function takes a [`KernelEditor`]: inside
//! [`KernelSpace::edit`](crate::KernelSpace::edit) it populates through the
//! tracked helpers and the edit syncs when it ends; inside the `unsafe`
//! [`legacy_edit`](crate::KernelSpace::legacy_edit) it populates as kernels
//! before 6.17 did, and syncing is the caller's business.
//!
//! | file | Linux |
//! |---|---|
//! | [`hotplug`] | `arch_add_memory()`, `arch_remove_memory()`, x86's `kernel_physical_mapping_init()`, `kernel_physical_mapping_remove()`, `remove_pagetable()` |
//! | [`vmemmap`] | `vmemmap_populate()`, `vmemmap_populate_basepages()`, `vmemmap_populate_hugepages()`, `vmemmap_free()` |
//! | `compound.rs` | `vmemmap_populate_compound_pages()` ([`vmemmap_populate_compound_pages`]) |
//! | [`kasan`] | `kasan_early_shadow_page`, `kasan_early_shadow_pte` … `_p4d`, `kasan_populate_early_shadow()` |
//! | [`percpu`] | `pcpu_populate_pte()`, `pcpu_page_first_chunk()` |

mod compound;
mod editor;
mod frames;
pub mod hotplug;
pub mod kasan;
mod kernel_edit;
mod leaves;
pub mod percpu;
pub mod vmemmap;

pub use compound::vmemmap_populate_compound_pages;
pub use editor::KernelEditor;
pub use frames::FrameSource;
pub use hotplug::{
    arch_add_memory, arch_remove_memory, kernel_physical_mapping_init,
    kernel_physical_mapping_remove,
};
pub use kasan::{kasan_populate_early_shadow, KasanEarlyShadow};
pub use leaves::Removed;
pub use percpu::{pcpu_page_first_chunk, pcpu_populate_pte};
pub use vmemmap::{
    vmemmap_free, vmemmap_populate, vmemmap_populate_basepages, vmemmap_populate_hugepages,
    SubPmdUse, Vmemmap,
};

use crate::addr::VirtAddr;
use crate::arch::Arch;
use crate::args::{check_range, Half};
use crate::error::Result;

/// Check the kernel range `va..va+size` as every mapping call does; returns
/// its last byte.
fn kernel_range<A: Arch>(arch: &A, va: VirtAddr, size: u64) -> Result<u64> {
    let end = check_range(arch, Half::Kernel, va, size)?;
    Ok(end.wrapping_sub(1))
}

/// The entry of `level` for `va`, allocating every missing table above it
/// with the tracked (or, in a legacy edit, plain) populate helpers:
/// `pgd_offset_k()` then `p4d_alloc_track()` … down to `level`, as
/// `vmemmap_pgd_populate()` … and `pcpu_populate_pte()` walk.
fn populate_path<'a, A, M, E>(
    e: &mut E,
    va: VirtAddr,
    level: crate::arch::Level,
) -> Result<crate::walk::tables::EntryPtr>
where
    A: Arch,
    M: crate::memory::TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let mut entry = e.pgd_offset(va);
    for above in crate::arch::Level::ALL
        .into_iter()
        .take_while(|l| *l < level)
    {
        entry = e.alloc_track(above, entry, va)?;
    }
    Ok(entry)
}

/// What the unit tests of the `mm` users share: a machine, a data-frame
/// allocator that remembers what it handed out, and the kernel addresses
/// of x86-64's memory map.
#[cfg(test)]
pub(crate) mod testing {
    use super::FrameSource;
    use crate::addr::{PhysAddr, VirtAddr};
    use crate::error::Error;
    use crate::memory::SparseMemory;
    use crate::space::PageTables;
    use crate::X86_64;
    use alloc::collections::BTreeMap;

    /// `page_offset_base` of x86-64 with 4-level paging.
    pub const PAGE_OFFSET: VirtAddr = VirtAddr(0xffff_8880_0000_0000);
    /// `vmemmap_base` of x86-64 with 4-level paging.
    pub const VMEMMAP: VirtAddr = VirtAddr(0xffff_ea00_0000_0000);
    /// `KASAN_SHADOW_START` of x86-64 with 4-level paging.
    pub const KASAN: VirtAddr = VirtAddr(0xffff_ec00_0000_0000);

    pub fn machine() -> PageTables<X86_64, SparseMemory> {
        let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x1000_0000));
        PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap()
    }

    /// Data frames from a bump pointer, each size-aligned, with a limit.
    pub struct Frames {
        next: u64,
        end: u64,
        /// Frames handed out and not given back: address → size.
        pub live: BTreeMap<u64, u64>,
        /// Hand out frames this far off alignment (to test the check).
        pub skew: u64,
    }

    impl Frames {
        pub fn new(bytes: u64) -> Self {
            Frames {
                next: 1 << 40,
                end: (1 << 40) + bytes,
                live: BTreeMap::new(),
                skew: 0,
            }
        }
    }

    impl FrameSource for Frames {
        type Error = Error;
        fn alloc(&mut self, size: u64) -> Result<PhysAddr, Error> {
            let pa = self.next.next_multiple_of(size) + self.skew;
            if pa + size > self.end {
                return Err(Error::OutOfMemory);
            }
            self.next = pa + size;
            self.live.insert(pa, size);
            Ok(PhysAddr(pa))
        }
        fn free(&mut self, pa: PhysAddr, size: u64) {
            assert_eq!(
                self.live.remove(&pa.0),
                Some(size),
                "freed {pa:?} twice or with the wrong size"
            );
        }
    }
}
