//! Sparse vmemmap (`mm/sparse-vmemmap.c`, x86's `vmemmap_populate()`):
//! the `struct page` array, in base pages, in PMD-sized blocks (with the
//! sub-PMD case), and for compound-page device memory.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::machine::SimError;
use pgtable::{PhysAddr, Prot};

const PMD_SIZE: u64 = 2 << 20;

/// How the `struct page`s are backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memmap {
    /// One 4 KiB frame per vmemmap page (`vmemmap_populate_basepages()`).
    Base,
    /// 2 MiB blocks mapped by PMD leaves (`vmemmap_populate_hugepages()`).
    Huge,
}

impl Kernel<'_> {
    /// `vmemmap_populate()` for the memory `pa..pa+size`, run on `cpu`, as
    /// `era` does it: plain or tracked populate ([`Era::populate`]); in
    /// 5.13+ the sub-PMD clear of 8d400913c231 ([`Era::subpmd_memset`]);
    /// then, on x86-64 from 9b861528a801 on, `sync_global_pgds()`
    /// ([`Era::late_sync`]), which comes after that clear.
    pub fn vmemmap_populate(
        &mut self,
        era: impl Into<Era>,
        pa: u64,
        size: u64,
        how: Memmap,
        cpu: usize,
    ) -> Result<(), SimError> {
        let era = era.into();
        let (start, end) = (self.m.layout.page(pa), self.m.layout.page(pa + size));
        let edit = self.how(era, User::Vmemmap);
        match how {
            Memmap::Base => self.vmemmap_basepages(edit, start, end)?,
            Memmap::Huge => self.vmemmap_hugepages(edit, start, end, era.subpmd_memset(), cpu)?,
        }
        if era.late_sync(User::Vmemmap, self.m.arch) {
            self.sync_global_pgds(start, end - 1)?;
        }
        Ok(())
    }

    fn vmemmap_basepages(&mut self, v: Populate, start: u64, end: u64) -> Result<(), SimError> {
        let (s, e) = (start & !0xfff, (end + 0xfff) & !0xfff);
        let frames = (s..e)
            .step_by(4096)
            .map(|_| self.m.frames.borrow_mut().alloc())
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(v, |ed| ed.vmap_pages(s, &frames, Prot::KERNEL))?;
        self.m.vm_frames.borrow_mut().insert(s, frames);
        self.m.note_mapped(s, e - s, "vmemmap");
        Ok(())
    }

    /// Map each missing 2 MiB block; where the range covers only part of a
    /// new block, clear the rest (x86 `vmemmap_use_new_sub_pmd()` writes
    /// `PAGE_UNUSED` there) when `clear` (5.13+). A plain populate clears
    /// before any sync, on the CPU that runs the hotplug; a tracked one
    /// only once its edit has synced.
    fn vmemmap_hugepages(
        &mut self,
        v: Populate,
        start: u64,
        end: u64,
        clear: bool,
        cpu: usize,
    ) -> Result<(), SimError> {
        let mut unused = Vec::new();
        let mut partial = Vec::new();
        let mut new_blocks = Vec::new();
        let first = start & !(PMD_SIZE - 1);
        let frames = &self.m.frames;
        let blocks = &self.m.vmemmap_blocks;
        let r = self.edit(v, |ed| -> Result<(), SimError> {
            for block in (first..end).step_by(PMD_SIZE as usize) {
                if blocks.borrow().contains_key(&block) {
                    continue; // vmemmap_use_sub_pmd(): another section's block
                }
                let frame = frames.borrow_mut().alloc_2m()?;
                if let Err(e) = ed.vmap_range(block, frame, PMD_SIZE, Prot::KERNEL, 21) {
                    frames.borrow_mut().free_2m(frame);
                    return Err(e.into());
                }
                blocks.borrow_mut().insert(block, frame);
                new_blocks.push(block);
                if block < start || block + PMD_SIZE > end {
                    partial.push((block.max(start), block));
                }
                if block < start {
                    unused.push((block, start));
                }
                if block + PMD_SIZE > end {
                    unused.push((end, block + PMD_SIZE));
                }
            }
            Ok(())
        });
        for b in new_blocks {
            self.m.note_mapped(b, PMD_SIZE, "vmemmap");
        }
        r?;
        // vmemmap_use_new_sub_pmd(): first the used part's first struct
        // page is zeroed (__vmemmap_use_sub_pmd()), then the unused parts
        // are marked. A fault stops it, as the oops did.
        if clear {
            if let Some(&(first_used, _)) = partial.first() {
                let size = self.m.layout.struct_page;
                if self
                    .memset(cpu, first_used, first_used + size, "__vmemmap_use_sub_pmd(): memset of the first struct page of a new, partly used PMD block")
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        for (s, e) in unused.into_iter().filter(|_| clear) {
            // A fault here is what the old code oopsed on; it is recorded and
            // the clear stops, as the machine would have.
            let _ = self.memset(
                cpu,
                s,
                e,
                "memset of the unused part of a vmemmap PMD block",
            );
        }
        Ok(())
    }

    /// `vmemmap_populate_compound_pages()`: device memory in compound pages
    /// of `1 << order` base pages. Only the first two vmemmap pages of each
    /// compound page are backed; the rest of its tail `struct page`s reuse
    /// the second. Before 6.17 this path never synced (4917f55b4ef9).
    pub fn vmemmap_populate_compound(
        &mut self,
        era: impl Into<Era>,
        pa: u64,
        size: u64,
        order: u32,
    ) -> Result<u64, SimError> {
        let per_compound = ((1u64 << order) * self.m.layout.struct_page / 4096).max(1) as usize;
        let start = self.m.layout.page(pa);
        let end = self.m.layout.page(pa + size);
        let mut frames = Vec::new();
        let mut distinct = Vec::new();
        while (start + frames.len() as u64 * 4096) < end {
            let head = self.m.frames.borrow_mut().alloc()?;
            let tail = if per_compound > 1 {
                self.m.frames.borrow_mut().alloc()?
            } else {
                head
            };
            distinct.push(head);
            if per_compound > 1 {
                distinct.push(tail);
            }
            frames.push(head);
            frames.extend(std::iter::repeat_n(tail, per_compound - 1));
        }
        let v = self.how(era.into(), User::VmemmapCompound);
        self.edit(v, |ed| ed.vmap_pages(start, &frames, Prot::KERNEL))?;
        self.m.vm_frames.borrow_mut().insert(start, distinct);
        self.m
            .note_mapped(start, frames.len() as u64 * 4096, "vmemmap (compound)");
        Ok(frames.len() as u64)
    }

    /// `vmemmap_free()` of the memory `pa..pa+size`.
    pub(crate) fn vmemmap_free(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        let (start, end) = (self.m.layout.page(pa), self.m.layout.page(pa + size));
        let blocks: Vec<(u64, PhysAddr)> = self
            .m
            .vmemmap_blocks
            .borrow()
            .range(start..end)
            .map(|(&b, &f)| (b, f))
            .collect();
        for (block, frame) in blocks {
            let flush = self.edit(Populate::Tracked, |ed| ed.vunmap_range(block, PMD_SIZE))?;
            self.m.flush_tlb(flush);
            self.m.vmemmap_blocks.borrow_mut().remove(&block);
            self.m.frames.borrow_mut().free_2m(frame);
            self.m.note_unmapped(block);
        }
        Ok(())
    }
}
