//! Memory hotplug's direct map (`arch/x86/mm/init_64.c`): hot-added memory
//! is mapped at `__va(pa)` with the largest leaves that fit, and unmapped
//! leaf by leaf when it is removed.

use super::leaves::{remove_leaves, Removed};
use super::vmemmap::{vmemmap_free, vmemmap_populate, SubPmdUse, Vmemmap};
use super::{kernel_range, FrameSource, KernelEditor};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::tlb::{FlushRange, FlushTlb};
use crate::PageSize;

/// The largest leaf the direct map may use in this paging mode: 1 GiB
/// (`PUD_SIZE`, x86's `direct_gbpages`) where the mode has it, else its
/// largest huge leaf; the same size `kernel_physical_mapping_init` asks
/// `vmap_range` for.
fn largest_leaf<A: Arch>(arch: &A) -> u64 {
    1 << PageSize::Pud.shift(arch)
}

/// `__va(pa)`: where the direct map starting at `page_offset`
/// (`PAGE_OFFSET`, `page_offset_base` under KASLR) maps `pa`. The offset
/// must be aligned to the largest leaf the direct map uses (KASLR moves it
/// in whole PUDs), so that `pa` and its address share their alignment and
/// the leaves can be large.
fn direct_va<A: Arch>(arch: &A, page_offset: VirtAddr, pa: PhysAddr) -> Result<VirtAddr> {
    if !page_offset.is_aligned(largest_leaf(arch)) {
        return Err(Error::Misaligned(page_offset.0));
    }
    page_offset
        .0
        .checked_add(pa.0)
        .map(VirtAddr)
        .ok_or(Error::Wraps)
}

/// x86's `kernel_physical_mapping_init()` for hot-added memory (reached
/// from `arch_add_memory()` through `init_memory_mapping()`): map
/// `pa..pa+size` at `page_offset + pa` with the largest leaves that fit,
/// 1 GiB where the paging mode allows a leaf there and the range is
/// aligned, then 2 MiB, then 4 KiB (`phys_pud_init()`, `phys_pmd_init()`,
/// `phys_pte_init()`). Returns the virtual address of `pa`.
///
/// In the tracked edit the new entries reach every root when the edit
/// ends; Linux's x86 called `sync_global_pgds()` here itself (from
/// 9b861528a801), which a legacy edit leaves to its caller.
pub fn kernel_physical_mapping_init<'a, A, M, E>(
    e: &mut E,
    page_offset: VirtAddr,
    pa: PhysAddr,
    size: u64,
) -> Result<VirtAddr>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let va = direct_va(e.arch(), page_offset, pa)?;
    e.vmap_range(va, pa, size, Prot::KERNEL, PageSize::Pud)?;
    Ok(va)
}

/// x86's `kernel_physical_mapping_remove()`: `remove_pagetable()` of the
/// direct map of `pa..pa+size`. Holes are skipped; every leaf wholly inside
/// the range is unmapped; a huge leaf the range covers only in part stays
/// mapped (Linux's `remove_pud_table()` and `remove_pmd_table()` clear a
/// leaf only when the range spans it); each table the removal empties below the top level is
/// freed and its entry cleared (`free_pte_table()`, `free_pmd_table()`,
/// `free_pud_table()`). Top-level entries stay, so no other root is left
/// pointing at a freed table. Each unmapped run's TLB flush is discharged
/// through `tlb` (Linux ends `remove_pagetable()` with `flush_tlb_all()`).
pub fn kernel_physical_mapping_remove<'a, A, M, E>(
    e: &mut E,
    page_offset: VirtAddr,
    pa: PhysAddr,
    size: u64,
    tlb: &mut dyn FlushTlb,
) -> Result<Removed>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
{
    let va = direct_va(e.arch(), page_offset, pa)?;
    let last = kernel_range(e.arch(), va, size)?;
    remove_leaves(e, va.0, last, &mut |_, _| {}, tlb)
}

/// `arch_add_memory()` (x86): the direct map of `pa..pa+size`
/// ([`kernel_physical_mapping_init`]), then its `struct page`s
/// (`add_pages()` → `sparse_add_section()` → [`vmemmap_populate`]). If the
/// vmemmap cannot be populated the direct map is removed again and the
/// error returned. Returns what the caller must mark unused in new,
/// partly used PMD blocks of the vmemmap ([`SubPmdUse`]).
pub fn arch_add_memory<'a, A, M, E, F>(
    e: &mut E,
    page_offset: VirtAddr,
    vmemmap: &Vmemmap,
    pa: PhysAddr,
    size: u64,
    frames: &mut F,
) -> core::result::Result<SubPmdUse, F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let (start, end) = vmemmap.memmap(pa, size)?;
    kernel_physical_mapping_init(e, page_offset, pa, size)?;
    match vmemmap_populate(e, vmemmap, start, end, frames) {
        Ok(sub) => Ok(sub),
        Err(err) => {
            // What this call mapped comes off again; the original error is
            // the one to report. No flush is owed: the memory being added
            // was never handed to anyone, and stays unused after the
            // failed add, so a translation a CPU cached of it reaches
            // nothing in use.
            let _ =
                kernel_physical_mapping_remove(e, page_offset, pa, size, &mut |_: &FlushRange| {});
            Err(err)
        }
    }
}

/// `arch_remove_memory()` (x86): free the `struct page`s of `pa..pa+size`
/// (`__remove_pages()` → [`vmemmap_free`]), then remove its direct map
/// ([`kernel_physical_mapping_remove`]). Returns what each removal did;
/// every unmap's TLB flush goes through `tlb`, before frames are freed.
pub fn arch_remove_memory<'a, A, M, E, F>(
    e: &mut E,
    page_offset: VirtAddr,
    vmemmap: &Vmemmap,
    pa: PhysAddr,
    size: u64,
    frames: &mut F,
    tlb: &mut dyn FlushTlb,
) -> Result<(Removed, Removed)>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let (start, end) = vmemmap.memmap(pa, size)?;
    let memmap = vmemmap_free(e, start, end, frames, tlb)?;
    let direct = kernel_physical_mapping_remove(e, page_offset, pa, size, tlb)?;
    Ok((memmap, direct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::{machine, Frames, PAGE_OFFSET, VMEMMAP};

    const G: u64 = 1 << 30;
    const M2: u64 = 2 << 20;

    fn leaf_size(
        pt: &crate::PageTables<crate::X86_64, crate::SparseMemory>,
        pa: u64,
    ) -> Option<u64> {
        pt.translate(pt.kernel_root(), VirtAddr(PAGE_OFFSET.0 + pa))
            .map(|m| m.size)
    }

    #[test]
    fn the_direct_map_uses_the_largest_leaves_that_fit() {
        let pt = machine();
        let (r, _) = pt
            .kernel()
            .edit(|e| kernel_physical_mapping_init(e, PAGE_OFFSET, PhysAddr(4 * G + 4096), 2 * G));
        assert_eq!(r, Ok(VirtAddr(PAGE_OFFSET.0 + 4 * G + 4096)));
        assert_eq!(leaf_size(&pt, 4 * G + 4096), Some(4096));
        assert_eq!(leaf_size(&pt, 4 * G + M2), Some(M2));
        assert_eq!(leaf_size(&pt, 5 * G), Some(G));
        assert_eq!(leaf_size(&pt, 5 * G + G - M2), Some(G));
        // The range ends one page past 6 GiB.
        assert_eq!(leaf_size(&pt, 6 * G), Some(4096));
        assert_eq!(leaf_size(&pt, 6 * G + 4096), None);
        assert_eq!(leaf_size(&pt, 4 * G), None);
    }

    #[test]
    fn add_reaches_every_root_and_remove_gives_back_every_table_below_the_top() {
        let pt = machine();
        let other = pt.create_space().unwrap();
        let before = pt.mem().tables_in_use();
        let (pa, size) = (PhysAddr(64 * G + 128 * (1 << 20)), 128 << 20);
        let (r, report) = pt
            .kernel()
            .edit(|e| kernel_physical_mapping_init(e, PAGE_OFFSET, pa, size));
        let va = r.unwrap();
        assert!(report.synced(), "{report:?}");
        assert_eq!(pt.translate(other.root(), va).map(|m| m.size), Some(M2));
        // A new top-level entry, a PUD-level table under it, a PMD table.
        assert_eq!(pt.mem().tables_in_use(), before + 2);
        let (r, _) = pt.kernel().edit(|e| {
            kernel_physical_mapping_remove(
                e,
                PAGE_OFFSET,
                pa,
                size,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(
            r,
            Ok(Removed {
                unmapped: size,
                partial_leaves_kept: 0
            })
        );
        assert!(pt.translate(pt.kernel_root(), va).is_none());
        assert!(pt.translate(other.root(), va).is_none());
        // The PMD table is freed; the table under the top-level entry stays,
        // since the entry is never cleared.
        assert_eq!(pt.mem().tables_in_use(), before + 1);
        let again = pt.mem().tables_in_use();
        let _ = pt
            .kernel()
            .edit(|e| kernel_physical_mapping_init(e, PAGE_OFFSET, pa, size));
        let _ = pt.kernel().edit(|e| {
            kernel_physical_mapping_remove(
                e,
                PAGE_OFFSET,
                pa,
                size,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(pt.mem().tables_in_use(), again);
        pt.destroy_space(other).unwrap().ignore();
    }

    #[test]
    fn removal_splits_no_leaf_and_skips_holes() {
        let pt = machine();
        let mut ks = pt.kernel();
        let _ = ks.edit(|e| {
            kernel_physical_mapping_init(e, PAGE_OFFSET, PhysAddr(4 * G), G).unwrap();
            kernel_physical_mapping_init(e, PAGE_OFFSET, PhysAddr(5 * G + M2), M2).unwrap();
        });
        // Part of the 1 GiB leaf, a hole, then the 2 MiB leaf.
        let (r, _) = ks.edit(|e| {
            kernel_physical_mapping_remove(
                e,
                PAGE_OFFSET,
                PhysAddr(4 * G + M2),
                G + M2,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(
            r,
            Ok(Removed {
                unmapped: M2,
                partial_leaves_kept: 1
            })
        );
        assert_eq!(leaf_size(&pt, 4 * G + M2), Some(G));
        assert_eq!(leaf_size(&pt, 5 * G + M2), None);
    }

    #[test]
    fn removal_refuses_what_is_not_a_kernel_range() {
        let pt = machine();
        let (r, _) = pt.kernel().edit(|e| {
            kernel_physical_mapping_remove(
                e,
                PAGE_OFFSET,
                PhysAddr(4096),
                100,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(r, Err(Error::Misaligned(100)));
        let (r, _) = pt.kernel().edit(|e| {
            kernel_physical_mapping_remove(
                e,
                VirtAddr(0),
                PhysAddr(0),
                4096,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(r, Err(Error::NotKernelAddress(VirtAddr(0))));
        let (r, _) = pt
            .kernel()
            .edit(|e| kernel_physical_mapping_init(e, PAGE_OFFSET, PhysAddr(!0xfff), 4096));
        assert_eq!(r, Err(Error::Wraps));
        // An offset that would put `pa` and its address out of step.
        let off = VirtAddr(PAGE_OFFSET.0 + (2 << 20));
        let (r, _) = pt
            .kernel()
            .edit(|e| kernel_physical_mapping_init(e, off, PhysAddr(0), G));
        assert_eq!(r, Err(Error::Misaligned(off.0)));
        let (r, _) = pt.kernel().edit(|e| {
            kernel_physical_mapping_remove(e, off, PhysAddr(0), G, &mut |_: &crate::FlushRange| {})
        });
        assert_eq!(r, Err(Error::Misaligned(off.0)));
    }

    #[test]
    fn arch_add_and_remove_memory_map_and_free_the_memmap_too() {
        let pt = machine();
        let other = pt.create_space().unwrap();
        let vm = Vmemmap {
            base: VMEMMAP,
            struct_page: 64,
            section_size: 128 << 20,
        };
        let mut frames = Frames::new(64 << 20);
        let before = pt.mem().tables_in_use();
        let (pa, size) = (PhysAddr(64 * G), 128 << 20);
        let (r, report) = pt
            .kernel()
            .edit(|e| arch_add_memory(e, PAGE_OFFSET, &vm, pa, size, &mut frames));
        assert_eq!(r, Ok(SubPmdUse::default()));
        assert!(report.synced());
        let page = vm.page(pa).unwrap();
        assert_eq!(pt.translate(other.root(), page).map(|m| m.size), Some(M2));
        assert!(pt
            .translate(other.root(), VirtAddr(PAGE_OFFSET.0 + pa.0))
            .is_some());
        assert_eq!(frames.live.len(), 1);
        let (r, _) = pt.kernel().edit(|e| {
            arch_remove_memory(
                e,
                PAGE_OFFSET,
                &vm,
                pa,
                size,
                &mut frames,
                &mut |_: &crate::FlushRange| {},
            )
        });
        let (memmap, direct) = r.unwrap();
        assert_eq!((memmap.unmapped, direct.unmapped), (M2, size));
        assert!(frames.live.is_empty());
        assert!(pt.translate(other.root(), page).is_none());
        // Two top-level entries were filled (direct map and vmemmap), and
        // each keeps the table under it.
        assert_eq!(pt.mem().tables_in_use(), before + 2);
        pt.destroy_space(other).unwrap().ignore();
    }

    #[test]
    fn arch_add_memory_takes_the_direct_map_back_when_the_memmap_fails() {
        let pt = machine();
        let vm = Vmemmap {
            base: VMEMMAP,
            struct_page: 64,
            section_size: 128 << 20,
        };
        let mut frames = Frames::new(0);
        let pa = PhysAddr(64 * G);
        let (r, _) = pt
            .kernel()
            .edit(|e| arch_add_memory(e, PAGE_OFFSET, &vm, pa, 128 << 20, &mut frames));
        assert_eq!(r, Err(Error::OutOfMemory));
        assert!(pt
            .translate(pt.kernel_root(), VirtAddr(PAGE_OFFSET.0 + pa.0))
            .is_none());
    }
}
