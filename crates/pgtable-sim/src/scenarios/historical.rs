//! The three historical bugs.

use super::{read_from_every_cpu, slot};
use crate::era::Era;
use crate::kernel::Memmap;
use crate::layout::{HOTPLUG_BASE, SUBSECTION_SIZE};
use crate::machine::{Machine, SimError};
use pgtable_mmu::Access;

/// 9b861528a801: memory hotplug of 1 GiB at 64 GiB; its direct map and its
/// struct pages each need a new top-level slot. CPU 0 runs the hotplug and
/// the memmap init from process 0; then every CPU touches a struct page and
/// the memory itself.
pub(super) fn hotplug_new_slot(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let (pa, size) = (HOTPLUG_BASE, 1 << 30);
    let mut k = m.kernel();
    k.hotplug_add(era, pa, size, 0)?;
    let (page, va) = (m.layout.page(pa), m.layout.va(pa));
    let _ = k.access(0, page, Access::Write, "memmap init of hot-added memory");
    read_from_every_cpu(&k, page + 64 * 100, "struct page of hot-added memory");
    read_from_every_cpu(&k, va, "hot-added memory through the direct map");
    Ok(vec![format!(
        "hot-added {} GiB at {:#x}: direct map in slot {}, struct pages in slot {}",
        size >> 30,
        pa,
        slot(m, va),
        slot(m, page)
    )])
}

/// 4917f55b4ef9: 1 GiB of device memory in 2 MiB compound pages; its
/// vmemmap, whose tail pages share one page per compound page, goes into a
/// new top-level slot through a path that never synced.
pub(super) fn compound_devmap(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let (pa, size) = (HOTPLUG_BASE, 1 << 30);
    let mut k = m.kernel();
    let pages = k.vmemmap_populate_compound(era, pa, size, 9)?;
    let frames = m
        .vm_frames
        .borrow()
        .get(&m.layout.page(pa))
        .map_or(0, Vec::len);
    read_from_every_cpu(
        &k,
        m.layout.page(pa + 5 * 4096),
        "tail struct page of a compound device page",
    );
    Ok(vec![format!(
        "{pages} vmemmap pages for {} compound pages backed by {frames} frames, slot {}",
        size >> 21,
        slot(m, m.layout.page(pa))
    )])
}

/// 8d400913c231: a 2 MiB device subsection whose struct pages (32 KiB) sit
/// inside a new PMD-sized vmemmap block in a new top-level slot. The rest
/// of the block is cleared right after the block is mapped, on CPU 0, which
/// runs process 0; the old code syncs only after that.
pub(super) fn subpmd_clear(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let pa = HOTPLUG_BASE + (16 << 20);
    let mut k = m.kernel();
    k.vmemmap_populate(era, pa, SUBSECTION_SIZE, Memmap::Huge, 0)?;
    read_from_every_cpu(
        &k,
        m.layout.page(pa),
        "struct page of the device subsection",
    );
    Ok(vec![format!(
        "struct pages {:#x}..{:#x} inside the PMD block at {:#x}, slot {}",
        m.layout.page(pa),
        m.layout.page(pa + SUBSECTION_SIZE),
        m.layout.page(pa) & !((2 << 20) - 1),
        slot(m, m.layout.page(pa))
    )])
}
