//! One scenario per other kernel user.

use super::{read_from_every_cpu, slot};
use crate::era::Era;
use crate::machine::Machine;
use crate::vocab::SimError;

/// vmalloc into the vmalloc area's first (empty) top-level slot.
pub(super) fn vmalloc_new_slot(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let mut k = m.kernel();
    let va = k.vmalloc(era, 4)?;
    read_from_every_cpu(&k, va + 4096, "vmalloc'd memory");
    Ok(vec![format!(
        "vmalloc(16 KiB) at {va:#x}, slot {}",
        slot(m, va)
    )])
}

/// ioremap of an HPET-like register block.
pub(super) fn ioremap(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let mut k = m.kernel();
    let va = k.ioremap(era, 0xfed0_0000, 0x400)?;
    read_from_every_cpu(&k, va + 0xf0, "device register through ioremap");
    Ok(vec![format!(
        "ioremap(0xfed00000, 1 KiB) at {va:#x}, slot {}",
        slot(m, va)
    )])
}

/// KASAN: the early shadow of boot memory (shared zero tables), then zero
/// shadow for device memory whose shadow lies in an empty top-level slot,
/// then real shadow for a vmalloc area; every CPU checks both shadows.
pub(super) fn kasan_shadow(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let l = m.layout;
    let mut k = m.kernel();
    k.kasan_zero_shadow(Era::V617, l.va(0), l.va(l.boot_ram))?;
    // The first physical address whose shadow starts a new top-level slot.
    let boundary = (l.shadow(l.va(0)) & !(l.top_slot - 1)).wrapping_add(l.top_slot);
    let pa = (boundary.wrapping_sub(l.kasan_offset) << 3)
        .wrapping_sub(l.page_offset)
        .next_multiple_of(1 << 30);
    let dev = l.va(pa);
    let slots = k.kasan_zero_shadow(era, dev, dev + (1 << 30))?;
    read_from_every_cpu(
        &k,
        l.shadow(dev),
        "KASAN check of device memory (zero shadow)",
    );
    let vm = k.vmalloc(Era::V617, 4)?;
    k.kasan_populate_shadow(era, vm, vm + 4 * 4096)?;
    read_from_every_cpu(
        &k,
        l.shadow(vm),
        "KASAN check of vmalloc'd memory (real shadow)",
    );
    let zero_page = m
        .kstate
        .kasan_zero
        .borrow()
        .as_ref()
        .map_or(0, |z| z.page().0);
    Ok(vec![
        format!(
            "early shadow of boot memory in slot {}, every page mapping kasan_early_shadow_page {zero_page:#x}",
            slot(m, l.shadow(l.va(0)))
        ),
        format!(
            "zero shadow of device memory at {pa:#x}: {slots} new slot(s), slot {}",
            slot(m, l.shadow(dev))
        ),
        format!(
            "real shadow of vmalloc {vm:#x} in slot {}",
            slot(m, l.shadow(vm))
        ),
    ])
}

/// The percpu first chunk, 8 pages per CPU, in an empty slot of the vmalloc
/// area; each CPU reads its own unit (`this_cpu_read()`).
pub(super) fn percpu(m: &Machine, era: Era) -> Result<Vec<String>, SimError> {
    let (start, end) = m.layout.vmalloc;
    let unit = m.layout.sync_slot;
    // An empty slot past the first vmalloc allocations; in small vmalloc
    // areas (32-bit, or a 1 GiB PAE slot) the middle of the area.
    let base = if end.wrapping_sub(start) > 3 * unit {
        start + 2 * unit
    } else {
        (start + end.wrapping_sub(start) / 2) & !(unit.min(4 << 20) - 1)
    };
    let mut k = m.kernel();
    let unit = k.percpu_first_chunk(era, base, 8)?;
    for cpu in 0..m.cpu_count() {
        let _ = k.access(
            cpu,
            base + cpu as u64 * unit + 0x100,
            pgtable_mmu::Access::Read,
            "this_cpu_read()",
        );
    }
    Ok(vec![format!(
        "first chunk at {base:#x}, {} units of {} KiB, slot {}",
        m.cpu_count(),
        unit >> 10,
        slot(m, base)
    )])
}
