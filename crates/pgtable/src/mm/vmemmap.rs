//! The sparse vmemmap (`mm/sparse-vmemmap.c`, x86's `vmemmap_populate()`
//! in `arch/x86/mm/init_64.c`): the virtually contiguous `struct page`
//! array, backed by base pages or by PMD-sized blocks, and given back when
//! memory is removed. Device memory in compound pages is in `compound.rs`.

use super::frames::alloc_aligned;
use super::leaves::{find, remove_leaves, Found, Removed};
use super::{kernel_range, populate_path, FrameSource, KernelEditor};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::tlb::FlushTlb;
use alloc::vec::Vec;

/// Where the `struct page` array lives and how large its parts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vmemmap {
    /// `VMEMMAP_START` (`vmemmap_base` under KASLR): the `struct page` of
    /// physical address 0.
    pub base: VirtAddr,
    /// `sizeof(struct page)`: 64, more with some debug options.
    pub struct_page: u64,
    /// Bytes of memory per section (`1 << SECTION_SIZE_BITS`: 128 MiB on
    /// x86-64).
    pub section_size: u64,
}

impl Vmemmap {
    /// `pfn_to_page()`: the address of the `struct page` of `pa`'s frame.
    pub fn page(&self, pa: PhysAddr) -> Result<VirtAddr> {
        (pa.0 / PAGE_SIZE)
            .checked_mul(self.struct_page)
            .and_then(|off| self.base.0.checked_add(off))
            .map(VirtAddr)
            .ok_or(Error::Wraps)
    }

    /// The `struct page`s of `pa..pa+size`: `start..end` of the memmap.
    pub fn memmap(&self, pa: PhysAddr, size: u64) -> Result<(VirtAddr, VirtAddr)> {
        if size == 0 {
            return Err(Error::EmptyRange);
        }
        let end = pa.0.checked_add(size).ok_or(Error::Wraps)?;
        Ok((self.page(pa)?, self.page(PhysAddr(end))?))
    }

    /// `PAGES_PER_SECTION * sizeof(struct page)`: one section's memmap.
    fn section_memmap(&self) -> u64 {
        (self.section_size / PAGE_SIZE).saturating_mul(self.struct_page)
    }
}

/// The parts of new PMD blocks that the populated memmap does not use,
/// which x86's `vmemmap_use_new_sub_pmd()` marks: the caller writes them
/// once the edit has synced (in Linux 5.13 to 6.16 the writes came before
/// `vmemmap_populate()`'s `sync_global_pgds()`, the oops of 8d400913c231).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubPmdUse {
    /// The first used byte of the first new block the memmap uses only in
    /// part: `__vmemmap_use_sub_pmd()` zeroes the `struct page` there.
    pub first_used: Option<VirtAddr>,
    /// `start..end` of the unused head of the first new block and of the
    /// unused tail of the last, in that order, which Linux fills with
    /// `PAGE_UNUSED`.
    pub unused: [Option<(VirtAddr, VirtAddr)>; 2],
}

/// Whether the paging mode can map a PMD-sized block with one leaf (x86's
/// `X86_FEATURE_PSE`).
fn pmd_blocks<A: Arch>(arch: &A) -> bool {
    !arch.is_folded(Level::Pmd) && arch.leaf_allowed(Level::Pmd)
}

/// `start..end` rounded out to whole pages, checked as a kernel range;
/// returns the first byte and the last.
pub(super) fn page_span<A: Arch>(arch: &A, start: VirtAddr, end: VirtAddr) -> Result<(u64, u64)> {
    if end.0 <= start.0 {
        return Err(Error::EmptyRange);
    }
    let s = start.0 & !(PAGE_SIZE - 1);
    let e = end.0.checked_add(PAGE_SIZE - 1).ok_or(Error::Wraps)? & !(PAGE_SIZE - 1);
    let last = kernel_range(arch, VirtAddr(s), e.wrapping_sub(s))?;
    Ok((s, last))
}

/// x86's `vmemmap_populate()`: the memmap `start..end` in base pages when
/// it is smaller than one section's memmap or the paging mode has no PMD
/// blocks, otherwise in PMD blocks. Returns what to mark unused in new,
/// partly used blocks (none for base pages).
///
/// In the tracked edit the new entries reach every root when the edit
/// ends; Linux's x86 (from 9b861528a801) called `sync_global_pgds()` after
/// populating, which a legacy edit leaves to its caller.
pub fn vmemmap_populate<'a, A, M, E, F>(
    e: &mut E,
    vmemmap: &Vmemmap,
    start: VirtAddr,
    end: VirtAddr,
    frames: &mut F,
) -> core::result::Result<SubPmdUse, F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    if end.0.saturating_sub(start.0) < vmemmap.section_memmap() || !pmd_blocks(e.arch()) {
        vmemmap_populate_basepages(e, start, end, frames)?;
        Ok(SubPmdUse::default())
    } else {
        vmemmap_populate_hugepages(e, start, end, frames)
    }
}

/// `vmemmap_populate_basepages()`: back every page of `start..end` (rounded
/// out to pages) that nothing maps yet with a new frame
/// (`vmemmap_pte_populate()`), populating the missing tables on the way;
/// pages already mapped, by a base page or a block, are kept. On an error
/// the pages this call mapped are unmapped and their frames given back.
pub fn vmemmap_populate_basepages<'a, A, M, E, F>(
    e: &mut E,
    start: VirtAddr,
    end: VirtAddr,
    frames: &mut F,
) -> core::result::Result<(), F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let (s, last) = page_span(e.arch(), start, end)?;
    let mut mine = Vec::new();
    let r = base_pages(e, s, last, frames, &mut mine);
    if r.is_err() {
        undo(e, &mine, frames);
    }
    r
}

/// Map a new frame at every unmapped page of `s..=last`, noting each in
/// `mine`.
fn base_pages<'a, A, M, E, F>(
    e: &mut E,
    s: u64,
    last: u64,
    frames: &mut F,
    mine: &mut Vec<(u64, PhysAddr, u64)>,
) -> core::result::Result<(), F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let mut va = s;
    loop {
        let next = match find(e, va) {
            // vmemmap_pte_populate() keeps a present PTE; a block maps the
            // whole of it.
            Found::Leaf { va: lva, size, .. } => lva.checked_add(size),
            Found::Shared => return Err(Error::SharedTable(VirtAddr(va)).into()),
            Found::Hole(_) => {
                let pte = populate_path(e, VirtAddr(va), Level::Pte)?;
                let frame = alloc_aligned(frames, PAGE_SIZE)?;
                if let Err(err) = e.set_leaf(Level::Pte, VirtAddr(va), pte, frame, Prot::KERNEL) {
                    frames.free(frame, PAGE_SIZE);
                    return Err(err.into());
                }
                mine.push((va, frame, PAGE_SIZE));
                va.checked_add(PAGE_SIZE)
            }
        };
        match next {
            Some(n) if n <= last && n > va => va = n,
            _ => return Ok(()),
        }
    }
}

/// Unmap what a failed call mapped and give its frames back.
fn undo<'a, A, M, E, F>(e: &mut E, mine: &[(u64, PhysAddr, u64)], frames: &mut F)
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    for &(va, pa, size) in mine.iter().rev() {
        if e.vunmap_range(VirtAddr(va), size).is_ok() {
            frames.free(pa, size);
        }
    }
}

/// `vmemmap_populate_hugepages()`: for each PMD block `start..end` touches,
/// populate the tables down to its PMD entry; a block already mapped by a
/// PMD leaf is kept (`vmemmap_check_pmd()`: another section's memmap
/// shares it), one already split into base pages gets base pages
/// ([`vmemmap_populate_basepages`]), and an empty one gets a new block
/// (`vmemmap_set_pmd()`). Returns the unused parts of the new blocks
/// ([`SubPmdUse`]). Unlike Linux, which falls back to base pages when no
/// block can be allocated, the allocator's error is returned; on any error
/// what this call mapped is unmapped and its frames given back. Without PMD
/// blocks in the paging mode, this is [`vmemmap_populate_basepages`].
pub fn vmemmap_populate_hugepages<'a, A, M, E, F>(
    e: &mut E,
    start: VirtAddr,
    end: VirtAddr,
    frames: &mut F,
) -> core::result::Result<SubPmdUse, F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let arch = *e.arch();
    page_span(&arch, start, end)?;
    if !pmd_blocks(&arch) {
        vmemmap_populate_basepages(e, start, end, frames)?;
        return Ok(SubPmdUse::default());
    }
    let mut mine = Vec::new();
    let r = blocks(e, &arch, start.0, end.0, frames, &mut mine);
    if r.is_err() {
        undo(e, &mine, frames);
    }
    r
}

fn blocks<'a, A, M, E, F>(
    e: &mut E,
    arch: &A,
    start: u64,
    end: u64,
    frames: &mut F,
    mine: &mut Vec<(u64, PhysAddr, u64)>,
) -> core::result::Result<SubPmdUse, F::Error>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let size = arch.level_size(Level::Pmd);
    let mut sub = SubPmdUse::default();
    let mut block = start & !(size - 1);
    while block < end {
        let next = block.checked_add(size).ok_or(Error::Wraps)?;
        let pmd = populate_path(e, VirtAddr(block), Level::Pmd)?;
        match e.entry(Level::Pmd, pmd) {
            Decoded::Leaf(..) => {}
            Decoded::Table(_) => {
                let (s, l) = (block.max(start), next.min(end) - 1);
                base_pages(e, s & !(PAGE_SIZE - 1), l, frames, mine)?;
            }
            Decoded::None => {
                let frame = alloc_aligned(frames, size)?;
                if let Err(err) = e.set_leaf(Level::Pmd, VirtAddr(block), pmd, frame, Prot::KERNEL)
                {
                    frames.free(frame, size);
                    return Err(err.into());
                }
                mine.push((block, frame, size));
                if (block < start || next > end) && sub.first_used.is_none() {
                    sub.first_used = Some(VirtAddr(block.max(start)));
                }
                if block < start {
                    sub.unused[0] = Some((VirtAddr(block), VirtAddr(start)));
                }
                if next > end {
                    sub.unused[1] = Some((VirtAddr(end), VirtAddr(next)));
                }
            }
        }
        block = next;
    }
    Ok(sub)
}

/// x86's `vmemmap_free()` (`remove_pagetable()` of the memmap): unmap every
/// page and block wholly inside `start..end` (rounded out to pages) and
/// give each frame back once (`free_pagetable()`,
/// `free_hugepage_table()`); tables left empty below the top level are
/// freed. A block the range covers only in part stays: Linux frees it only
/// once no section uses any of it (`vmemmap_pmd_is_unused()`), which the
/// caller knows, not the tables. Each unmap's TLB flush goes through `tlb`
/// before the frames it unmapped are given back.
pub fn vmemmap_free<'a, A, M, E, F>(
    e: &mut E,
    start: VirtAddr,
    end: VirtAddr,
    frames: &mut F,
    tlb: &mut dyn FlushTlb,
) -> Result<Removed>
where
    A: Arch,
    M: TableMemory,
    E: KernelEditor<'a, A, M> + ?Sized,
    F: FrameSource + ?Sized,
{
    let (s, last) = page_span(e.arch(), start, end)?;
    remove_leaves(e, s, last, &mut |pa, size| frames.free(pa, size), tlb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::{machine, Frames, VMEMMAP};

    const M2: u64 = 2 << 20;

    fn vm(struct_page: u64) -> Vmemmap {
        Vmemmap {
            base: VMEMMAP,
            struct_page,
            section_size: 128 << 20,
        }
    }

    #[test]
    fn pfn_to_page_and_its_limits() {
        let v = vm(64);
        assert_eq!(v.page(PhysAddr(0x1000)), Ok(VirtAddr(VMEMMAP.0 + 64)));
        assert_eq!(
            v.memmap(PhysAddr(0), 128 << 20),
            Ok((VMEMMAP, VirtAddr(VMEMMAP.0 + M2)))
        );
        assert_eq!(v.memmap(PhysAddr(0), 0), Err(Error::EmptyRange));
        assert_eq!(v.page(PhysAddr(u64::MAX)), Err(Error::Wraps));
    }

    /// 8d400913c231's machine: an 80-byte `struct page` makes a section's
    /// memmap 2.5 MiB, so the second block of the first section is new and
    /// partly used, and the next section starts inside it.
    #[test]
    fn blocks_shared_by_sections_are_reported_once_and_kept() {
        let pt = machine();
        let other = pt.create_space().unwrap();
        let v = vm(80);
        let mut frames = Frames::new(64 << 20);
        let (s, e) = v.memmap(PhysAddr(0), 128 << 20).unwrap();
        assert_eq!(e.0 - s.0, 5 << 19);
        let (r, report) = pt
            .kernel()
            .edit(|ed| vmemmap_populate(ed, &v, s, e, &mut frames));
        assert!(report.synced());
        assert_eq!(
            r,
            Ok(SubPmdUse {
                first_used: Some(VirtAddr(s.0 + M2)),
                unused: [None, Some((e, VirtAddr(s.0 + 2 * M2)))],
            })
        );
        assert_eq!(pt.translate(other.root(), e).map(|m| m.size), Some(M2));
        let (s2, e2) = v.memmap(PhysAddr(128 << 20), 128 << 20).unwrap();
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate(ed, &v, s2, e2, &mut frames));
        assert_eq!(
            r,
            Ok(SubPmdUse {
                first_used: Some(VirtAddr(s.0 + 2 * M2)),
                unused: [None, Some((e2, VirtAddr(s.0 + 3 * M2)))],
            })
        );
        assert_eq!(frames.live.len(), 3);
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_free(ed, s, e2, &mut frames, &mut |_: &crate::FlushRange| {}));
        // The last block reaches past the range: it stays.
        assert_eq!(r.map(|r| r.partial_leaves_kept), Ok(1));
        assert_eq!(frames.live.len(), 1);
        pt.destroy_space(other).unwrap().ignore();
    }

    #[test]
    fn base_pages_map_what_is_missing_and_keep_what_is_there() {
        let pt = machine();
        let v = vm(64);
        let mut frames = Frames::new(1 << 20);
        let before = pt.mem().tables_in_use();
        // Less than one section's memmap: base pages.
        let (s, e) = v.memmap(PhysAddr(0), 8 << 20).unwrap();
        let (r, report) = pt
            .kernel()
            .edit(|ed| vmemmap_populate(ed, &v, s, e, &mut frames));
        assert_eq!(r, Ok(SubPmdUse::default()));
        assert!(report.synced());
        assert_eq!(frames.live.len(), 32);
        assert_eq!(
            pt.translate(pt.kernel_root(), s).map(|m| m.size),
            Some(4096)
        );
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate_basepages(ed, s, VirtAddr(e.0 + 4096), &mut frames));
        assert_eq!(r, Ok(()));
        assert_eq!(frames.live.len(), 33);
        let (r, _) = pt.kernel().edit(|ed| {
            vmemmap_free(
                ed,
                s,
                VirtAddr(e.0 + 4096),
                &mut frames,
                &mut |_: &crate::FlushRange| {},
            )
        });
        assert_eq!(r.map(|r| r.unmapped), Ok(33 * 4096));
        assert!(frames.live.is_empty());
        // The PUD table under the new top-level entry stays.
        assert_eq!(pt.mem().tables_in_use(), before + 1);
    }

    /// The TLB forgets a run before its frames go back: a frame given back
    /// while a CPU could still reach it through a stale translation is the
    /// use after free the flush exists to prevent.
    #[test]
    fn every_frame_is_freed_after_the_flush_that_covers_it() {
        use core::cell::RefCell;
        let pt = machine();
        let mut frames = Frames::new(64 << 20);
        let (s, e) = (VMEMMAP, VirtAddr(VMEMMAP.0 + 40 * 4096));
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate_basepages(ed, s, e, &mut frames));
        assert_eq!(r, Ok(()));
        let flushed: RefCell<alloc::vec::Vec<(u64, u64)>> = RefCell::new(alloc::vec::Vec::new());
        struct Checked<'f> {
            inner: &'f mut Frames,
            flushed: &'f RefCell<alloc::vec::Vec<(u64, u64)>>,
            late: usize,
        }
        impl FrameSource for Checked<'_> {
            type Error = Error;
            fn alloc(&mut self, size: u64) -> Result<PhysAddr> {
                self.inner.alloc(size)
            }
            fn free(&mut self, pa: PhysAddr, size: u64) {
                let _ = (pa, size);
                if self.flushed.borrow().is_empty() {
                    self.late += 1;
                }
                self.inner.free(pa, size);
            }
        }
        let mut checked = Checked {
            inner: &mut frames,
            flushed: &flushed,
            late: 0,
        };
        let mut tlb = |r: &crate::FlushRange| flushed.borrow_mut().push((r.start.0, r.end.0));
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_free(ed, s, e, &mut checked, &mut tlb));
        assert_eq!(r.map(|r| r.unmapped), Ok(40 * 4096));
        assert_eq!(checked.late, 0, "frames given back before any flush");
        assert_eq!(flushed.borrow().as_slice(), [(s.0, e.0)]);
        assert!(frames.live.is_empty());
    }

    #[test]
    fn a_failed_populate_leaves_nothing_of_its_own() {
        let pt = machine();
        let v = vm(64);
        // Room for one block of the three.
        let mut frames = Frames::new(M2);
        let (s, e) = v.memmap(PhysAddr(0), 384 << 20).unwrap();
        let (r, report) = pt
            .kernel()
            .edit(|ed| vmemmap_populate(ed, &v, s, e, &mut frames));
        assert_eq!(r, Err(Error::OutOfMemory));
        assert!(frames.live.is_empty());
        assert!(pt.translate(pt.kernel_root(), s).is_none());
        // The tables it populated were synced all the same.
        assert!(report.synced());
        let mut frames = Frames::new(64 << 20);
        frames.skew = 4096;
        let (r, _) = pt
            .kernel()
            .edit(|ed| vmemmap_populate(ed, &v, s, e, &mut frames));
        assert_eq!(r, Err(Error::Misaligned((1 << 40) + 4096)));
        assert!(frames.live.is_empty());
    }
}
