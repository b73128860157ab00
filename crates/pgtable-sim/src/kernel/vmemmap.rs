//! Sparse vmemmap (`mm/sparse-vmemmap.c`, x86's `vmemmap_populate()`),
//! through the library's `pgtable::mm::vmemmap`: the era decides the edit,
//! whether the sub-PMD clear runs and whether x86's late
//! `sync_global_pgds()` follows; the machine keeps which ranges are mapped
//! and which frames back them.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::frames::Lent;
use crate::vocab::SimError;
use pgtable::mm::{vmemmap_free, vmemmap_populate, vmemmap_populate_compound_pages};
use pgtable::{FlushRange, PhysAddr, VirtAddr};

const PMD_SIZE: u64 = 2 << 20;

impl Kernel<'_> {
    /// Whether a PMD leaf maps the vmemmap block at `block`.
    fn is_block(&self, block: u64) -> bool {
        self.ks
            .translate(VirtAddr(block))
            .is_some_and(|m| m.size == PMD_SIZE)
    }

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
        cpu: usize,
    ) -> Result<(), SimError> {
        let era = era.into();
        let vm = self.vmemmap();
        let (start, end) = vm.memmap(PhysAddr(pa), size)?;
        let how = self.how(era, User::Vmemmap);
        let blocks = ((start.0 & !(PMD_SIZE - 1))..end.0).step_by(PMD_SIZE as usize);
        let before: Vec<bool> = blocks.clone().map(|b| self.is_block(b)).collect();
        let mut frames = Lent::new(&self.state().frames);
        let r = self.edit(how, |e| vmemmap_populate(e, &vm, start, end, &mut frames));
        for (b, was) in blocks.zip(before) {
            if !was && self.is_block(b) {
                self.state().note_mapped(b, PMD_SIZE, "vmemmap");
            }
        }
        let sub = r?;
        // vmemmap_use_new_sub_pmd(): first the used part's first struct
        // page is zeroed (__vmemmap_use_sub_pmd()), then the unused parts
        // are marked. A plain populate does it before any sync, on the CPU
        // that runs the hotplug; a tracked one only once its edit has
        // synced. A fault stops it, as the oops did.
        if era.subpmd_memset() {
            let cleared = match sub.first_used {
                Some(used) => {
                    let page = self.m.layout.struct_page;
                    self.memset(cpu, used.0, used.0 + page, "__vmemmap_use_sub_pmd(): memset of the first struct page of a new, partly used PMD block").is_ok()
                }
                None => true,
            };
            if cleared {
                for (s, e) in sub.unused.into_iter().flatten() {
                    // A fault here is what the old code oopsed on; it is
                    // recorded and the clear stops, as the machine would
                    // have.
                    let _ = self.memset(
                        cpu,
                        s.0,
                        e.0,
                        "memset of the unused part of a vmemmap PMD block",
                    );
                }
            }
        }
        if era.late_sync(User::Vmemmap, self.m.arch) {
            self.sync_global_pgds(start.0, end.0 - 1)?;
        }
        Ok(())
    }

    /// `vmemmap_populate_compound_pages()`: device memory in compound pages
    /// of `1 << order` base pages. Before 6.17 this path never synced
    /// (4917f55b4ef9). Returns the vmemmap pages mapped.
    pub fn vmemmap_populate_compound(
        &mut self,
        era: impl Into<Era>,
        pa: u64,
        size: u64,
        order: u32,
    ) -> Result<u64, SimError> {
        let vm = self.vmemmap();
        let (start, end) = vm.memmap(PhysAddr(pa), size)?;
        let per_compound = (1u64 << order) * vm.struct_page;
        let v = self.how(era.into(), User::VmemmapCompound);
        let mut frames = Lent::new(&self.state().frames);
        let pages = self.edit(v, |ed| {
            vmemmap_populate_compound_pages(ed, start, end, per_compound, &mut frames)
        })?;
        self.state()
            .vm_frames
            .borrow_mut()
            .insert(start.0, frames.handed);
        self.state()
            .note_mapped(start.0, pages * 4096, "vmemmap (compound)");
        Ok(pages)
    }

    /// `vmemmap_free()` of the memory `pa..pa+size`.
    pub(crate) fn vmemmap_free(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        let (start, end) = self.vmemmap().memmap(PhysAddr(pa), size)?;
        let mut frames = Lent::new(&self.state().frames);
        let m = self.m;
        // Before each run's frames go back, every simulated CPU drops its
        // whole TLB (a superset of the range).
        let mut tlb = |_: &FlushRange| m.flush_tlb_all();
        self.edit(Populate::Tracked, |ed| {
            vmemmap_free(ed, start, end, &mut frames, &mut tlb)
        })?;
        let gone: Vec<u64> = self
            .state()
            .mapped
            .borrow()
            .range(start.0..end.0)
            .map(|(&s, _)| s)
            .filter(|&s| self.ks.translate(VirtAddr(s)).is_none())
            .collect();
        for s in gone {
            self.state().note_unmapped(s);
        }
        Ok(())
    }
}
