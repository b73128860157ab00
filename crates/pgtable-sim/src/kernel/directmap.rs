//! The direct map and memory hotplug (`arch/x86/mm/init_64.c`), through the
//! library's `pgtable::mm::hotplug`: the era decides the edit and whether
//! x86's late `sync_global_pgds()` follows.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::vocab::SimError;
use pgtable::mm::{kernel_physical_mapping_init, kernel_physical_mapping_remove};
use pgtable::{FlushRange, PhysAddr, VirtAddr};

impl Kernel<'_> {
    /// `kernel_physical_mapping_init()` of `pa..pa+size`; on x86-64 from
    /// 9b861528a801 on, followed by its own `sync_global_pgds()`.
    pub fn map_direct(&mut self, era: impl Into<Era>, pa: u64, size: u64) -> Result<(), SimError> {
        let era = era.into();
        let offset = VirtAddr(self.m.layout.page_offset);
        let va = self.edit(self.how(era, User::DirectMap), |e| {
            kernel_physical_mapping_init(e, offset, PhysAddr(pa), size)
        })?;
        self.state().note_mapped(va.0, size, "direct map");
        if era.late_sync(User::DirectMap, self.m.arch) {
            self.sync_global_pgds(va.0, va.0 + size - 1)?;
        }
        Ok(())
    }

    /// `arch_add_memory()` + `sparse_add_section()`: the direct map and the
    /// `struct page`s of hot-added memory, as `era` does them. `cpu` runs
    /// the hotplug (in whatever context it has).
    pub fn hotplug_add(
        &mut self,
        era: impl Into<Era>,
        pa: u64,
        size: u64,
        cpu: usize,
    ) -> Result<(), SimError> {
        let era = era.into();
        self.map_direct(era, pa, size)?;
        let r = self.vmemmap_populate(era, pa, size, cpu);
        if let Err(e) = r {
            self.unmap_direct(pa, size)?;
            return Err(e);
        }
        Ok(())
    }

    fn unmap_direct(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        let offset = VirtAddr(self.m.layout.page_offset);
        let m = self.m;
        // Every simulated CPU drops its whole TLB (a superset of each range).
        let mut tlb = |_: &FlushRange| m.flush_tlb_all();
        self.edit(Populate::Tracked, |e| {
            kernel_physical_mapping_remove(e, offset, PhysAddr(pa), size, &mut tlb)
        })?;
        self.state().note_unmapped(self.m.layout.va(pa));
        Ok(())
    }

    /// `arch_remove_memory()`: unmap the direct map and free the `struct
    /// page`s of `pa..pa+size`, each unmap flushing every CPU's TLB before
    /// its frames are freed.
    pub fn hotplug_remove(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        self.unmap_direct(pa, size)?;
        self.vmemmap_free(pa, size)?;
        Ok(())
    }
}
