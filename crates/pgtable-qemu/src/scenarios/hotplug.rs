//! 9b861528a801: memory hot-add grows the direct map and the vmemmap into
//! top-level slots that were empty. Processes created before the hot-add
//! lack the new entries until the sync, so kernel code running on their
//! roots faults on the new memory.

use super::{
    boot, edit_kernel, late_sync, region_start, top_slot_size, vmemmap_of, Late, Plan, Trace,
};
use crate::data::{self, BLOCK_2M};
use crate::probe;
use alloc::format;
use alloc::string::String;
use pgtable::arch::RegionKind;
use pgtable::PhysAddr;

/// A memory section (Linux's 128 MiB on x86-64).
const SECTION: u64 = 128 << 20;
const MARK: u64 = 0x9b86_1528_a801;

pub fn run(plan: Plan) -> Result<Trace, String> {
    let (m, [a, b]) = boot()?;
    let pt = &m.pt;
    // The hot-added section sits one top-level slot above physical 0, so
    // its direct map is one slot past the boot RAM's, and its struct pages
    // start the (so far empty) vmemmap.
    let hot_pa = top_slot_size(pt);
    let dm_boot = region_start(pt, RegionKind::DirectMap);
    let dm = dm_boot + hot_pa;
    let vmm = vmemmap_of(pt, hot_pa);
    let vmm_len = SECTION / 4096 * 64;
    // Backing RAM: every 2 MiB of the new direct map and the vmemmap block
    // share one real 2 MiB block.
    let block = data::block_2m()?;
    edit_kernel(pt, plan.code, |e| {
        for off in (0..SECTION).step_by(BLOCK_2M as usize) {
            e.vmap_range(dm + off, block, BLOCK_2M, 21)?;
        }
        e.vmap_range(vmm, block, vmm_len, 21)
    })?;
    if plan.late == Late::BeforeTouches {
        late_sync(pt, dm, dm + SECTION - 1);
        late_sync(pt, vmm, vmm + vmm_len - 1);
    }

    let mut tr = Trace::new(plan);
    let (ra, rb) = (a.root(), b.root());
    // A process that ran before the hot-add: the boot direct map works,
    // then `online_pages()`-style code writes the new struct pages and
    // touches the new memory through the direct map.
    tr.touch(&m, ra, dm_boot + 0x10_0000, false);
    for root in [ra, rb] {
        tr.touch(&m, root, vmm, true);
        tr.touch(&m, root, vmm + vmm_len - 64, false);
        tr.touch(&m, root, dm, true);
        tr.touch(&m, root, dm + SECTION - 8, false);
    }
    // init_mm and a process created after the populate have the entries.
    let c = m.process()?;
    for root in [pt.kernel_root(), c.root()] {
        tr.touch(&m, root, dm, false);
        tr.touch(&m, root, vmm, true);
    }
    if plan.late == Late::AfterTouches {
        // What 9b861528a801 added: sync_global_pgds() over both ranges.
        late_sync(pt, dm, dm + SECTION - 1);
        late_sync(pt, vmm, vmm + vmm_len - 1);
    }
    tr.mark_synced();
    for root in [ra, rb] {
        tr.touch(&m, root, vmm, true);
        tr.touch(&m, root, dm + SECTION - 8, true);
    }
    // The write lands in the backing block, where the software MMU says
    // (through init_mm when nothing ever synced A).
    let rw = if plan.never_synced() {
        pt.kernel_root()
    } else {
        ra
    };
    let t = tr.touch(&m, rw, dm + 0x100, true);
    // SAFETY: `dm + 0x100` maps the scenario's own block (just checked).
    let wrote = unsafe { probe::write_u64(dm + 0x100, MARK) };
    let seen = data::read_phys(block + 0x100);
    match t.soft {
        Ok(s) if s.pa == block + 0x100 && wrote.is_ok() && seen == MARK => {}
        _ => tr.fail(format!(
            "write through {dm:#x}+0x100: {wrote:?}, block reads {seen:#x}, soft {:?}",
            t.soft.map(|s| PhysAddr(s.pa))
        )),
    }
    m.retire([a, b, c]);
    Ok(tr)
}
