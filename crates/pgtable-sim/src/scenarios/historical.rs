//! The three historical bugs.

use super::{read_from_every_cpu, slot};
use crate::era::Era;
use crate::layout::{HOTPLUG_BASE, SECTION_SIZE};
use crate::machine::Machine;
use crate::vocab::SimError;
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

/// Offset of `_refcount` in a 64-byte `struct page`: the field
/// `__init_single_page()` wrote when 4917f55b4ef9's oops hit.
const REFCOUNT_OFFSET: u64 = 0x34;

/// 4917f55b4ef9: 1 GiB of device memory in 2 MiB compound pages at the
/// layout's device address; its vmemmap, whose tail pages share one page per
/// compound page, goes into a new top-level slot through
/// `vmemmap_populate_compound_pages()`, which never synced before 6.17.
/// Then `memmap_init_zone_device()` runs on CPU 0 (process 0's root):
/// `__init_single_page()` of the first head writes its `_refcount`, the
/// store of the report's oops (`ffffe70000000034` on the reported 4-level
/// machine); then every CPU reads a tail page.
pub(super) fn compound_devmap(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let (pa, size) = (m.layout.device, 1 << 30);
    let mut k = m.kernel();
    let pages = k.vmemmap_populate_compound(era, pa, size, 9)?;
    let frames = m.frames_of(m.layout.page(pa)).map_or(0, |f| f.len());
    let _ = k.access(
        0,
        m.layout.page(pa) + REFCOUNT_OFFSET,
        Access::Write,
        "__init_single_page() sets the first compound head's _refcount",
    );
    read_from_every_cpu(
        &k,
        m.layout.page(pa + 5 * 4096),
        "tail struct page of a compound device page",
    );
    Ok(vec![format!(
        "{pages} vmemmap pages for {} compound pages at {pa:#x} backed by {frames} frames, slot {}",
        size >> 21,
        slot(m, m.layout.page(pa))
    )])
}

/// 8d400913c231: one 128 MiB section of device memory at the layout's
/// device address, with a `struct page` larger than 64 bytes (80 on the
/// reported machine), so the section's memmap (2.5 MiB) is not a multiple
/// of 2 MiB: `vmemmap_populate_hugepages()` maps a whole PMD block, then a
/// second one only partly used, and `vmemmap_use_new_sub_pmd()` memsets
/// the first `struct page` of that part on CPU 0 (process 0's root) before
/// `vmemmap_populate()` reaches `sync_global_pgds()`: the report's oops
/// (`ffffeb3ff1200000` on the reported 4-level machine).
pub(super) fn subpmd_clear(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let pa = m.layout.device;
    let mut k = m.kernel();
    k.vmemmap_populate(era, pa, SECTION_SIZE, 0)?;
    let (start, end) = (m.layout.page(pa), m.layout.page(pa + SECTION_SIZE));
    read_from_every_cpu(&k, start, "struct page of the device section");
    Ok(vec![format!(
        "memmap {start:#x}..{end:#x} ({} KiB of {}-byte struct pages) for the section at {pa:#x}, slot {}",
        (end - start) >> 10,
        m.layout.struct_page,
        slot(m, start)
    )])
}
