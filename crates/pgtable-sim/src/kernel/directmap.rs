//! The direct map and memory hotplug (`arch/x86/mm/init_64.c`:
//! `kernel_physical_mapping_init()`, `arch_add_memory()`,
//! `arch_remove_memory()`).

use super::{Kernel, Memmap};
use crate::era::{Era, Populate, User};
use crate::machine::SimError;
use pgtable::{PhysAddr, Prot};

impl Kernel<'_> {
    /// Map `pa..pa+size` in the direct map, with 1 GiB leaves where aligned;
    /// on x86-64 from 9b861528a801 on, `kernel_physical_mapping_init()`
    /// then calls `sync_global_pgds()` itself.
    pub fn map_direct(&mut self, era: impl Into<Era>, pa: u64, size: u64) -> Result<(), SimError> {
        let era = era.into();
        let va = self.m.layout.va(pa);
        self.edit(self.how(era, User::DirectMap), |e| {
            e.vmap_range(va, PhysAddr(pa), size, Prot::KERNEL, 30)
        })?;
        self.m.note_mapped(va, size, "direct map");
        if era.late_sync(User::DirectMap, self.m.arch) {
            self.sync_global_pgds(va, va + size - 1)?;
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
        let r = self.vmemmap_populate(era, pa, size, Memmap::Huge, cpu);
        if let Err(e) = r {
            self.unmap_direct(pa, size)?;
            return Err(e);
        }
        Ok(())
    }

    fn unmap_direct(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        let va = self.m.layout.va(pa);
        let flush = self.edit(Populate::Tracked, |e| e.vunmap_range(va, size))?;
        self.m.flush_tlb(flush);
        self.m.note_unmapped(va);
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
