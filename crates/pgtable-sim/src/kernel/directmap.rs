//! The direct map and memory hotplug (`arch/x86/mm/init_64.c`:
//! `kernel_physical_mapping_init()`, `arch_add_memory()`,
//! `arch_remove_memory()`).

use super::{Kernel, Memmap};
use crate::machine::SimError;
use crate::report::Variant;
use pgtable::{PhysAddr, Prot};

impl Kernel<'_> {
    /// Map `pa..pa+size` in the direct map, with 1 GiB leaves where aligned.
    pub fn map_direct(&mut self, v: Variant, pa: u64, size: u64) -> Result<(), SimError> {
        let va = self.m.layout.va(pa);
        self.edit(v, |e| {
            e.vmap_range(va, PhysAddr(pa), size, Prot::KERNEL, 30)
        })?;
        self.m.note_mapped(va, size, "direct map");
        Ok(())
    }

    /// `arch_add_memory()` + `sparse_add_section()`: the direct map and the
    /// `struct page`s of hot-added memory. `cpu` runs the hotplug (in
    /// whatever context it has). The old code is that before 9b861528a801:
    /// no sync at all.
    pub fn hotplug_add(
        &mut self,
        v: Variant,
        pa: u64,
        size: u64,
        cpu: usize,
    ) -> Result<(), SimError> {
        self.map_direct(v, pa, size)?;
        let r = match v {
            Variant::Old => self.vmemmap_populate_nosync(v, pa, size, Memmap::Huge, cpu),
            Variant::New => self.vmemmap_populate(v, pa, size, Memmap::Huge, cpu),
        };
        if let Err(e) = r {
            self.unmap_direct(pa, size)?;
            return Err(e);
        }
        Ok(())
    }

    fn unmap_direct(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        let va = self.m.layout.va(pa);
        self.edit(Variant::New, |e| e.vunmap_range(va, size))?;
        self.m.note_unmapped(va);
        Ok(())
    }

    /// `arch_remove_memory()`: unmap the direct map and free the `struct
    /// page`s of `pa..pa+size`, then flush every CPU's TLB.
    pub fn hotplug_remove(&mut self, pa: u64, size: u64) -> Result<(), SimError> {
        self.unmap_direct(pa, size)?;
        self.vmemmap_free(pa, size)?;
        self.m.flush_tlb_all();
        Ok(())
    }
}
