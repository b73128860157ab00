//! 4917f55b4ef9: the vmemmap of compound device pages (ZONE_DEVICE with a
//! 2 MiB geometry) maps every tail vmemmap page of a compound page to one
//! shared page, through `vmemmap_populate_compound_pages()`, a path that
//! populated top-level entries and never synced them.

use super::{boot, edit_kernel, late_sync, vmemmap_of, Late, Plan, Trace};
use crate::touch;
use crate::{data, probe};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Device memory (pmem) at 64 GiB, as compound pages of 2 MiB.
const DEV_PA: u64 = 64 << 30;
const COMPOUNDS: u64 = 4;
/// `struct page`s of one compound page: 512 * 64 bytes = 8 vmemmap pages.
const VMEMMAP_PER_COMPOUND: u64 = 512 * 64;
const MARK: u64 = 0x4917_f55b_4ef9;

pub fn run(plan: Plan) -> Result<Trace, String> {
    let (m, [a, b]) = boot()?;
    let pt = &m.pt;
    let vmm = vmemmap_of(pt, DEV_PA);
    let len = COMPOUNDS * VMEMMAP_PER_COMPOUND;
    // Head vmemmap page of each compound page, then its first tail page
    // reused for all the others.
    let heads = data::frames(COMPOUNDS as usize)?;
    let tails = data::frames(COMPOUNDS as usize)?;
    let mut frames = Vec::new();
    for i in 0..COMPOUNDS as usize {
        frames.push(heads[i]);
        frames.extend(core::iter::repeat_n(tails[i], 7));
    }
    edit_kernel(pt, plan.code, |e| e.vmap_pages(vmm, &frames))?;
    if plan.late == Late::BeforeTouches {
        late_sync(pt, vmm, vmm + len - 1);
    }

    // The struct page of page `n` of compound page `i`.
    let page = |i: u64, n: u64| vmm + i * VMEMMAP_PER_COMPOUND + n * 64;
    let mut tr = Trace::new(plan);
    let (ra, rb) = (a.root(), b.root());
    for root in [ra, rb] {
        tr.touch(&m, root, page(0, 0), false);
        tr.touch(&m, root, page(2, 300), true);
    }
    let c = m.process()?;
    for root in [pt.kernel_root(), c.root()] {
        tr.touch(&m, root, page(2, 300), true);
    }
    if plan.late == Late::AfterTouches {
        late_sync(pt, vmm, vmm + len - 1);
    }
    tr.mark_synced();
    for root in [ra, rb] {
        tr.touch(&m, root, page(1, 511), true);
    }
    // Tail pages share one vmemmap page: a word written through the struct
    // page of page 128 reads back through that of page 320 (vmemmap pages 2
    // and 5 of compound page 1), and the head's vmemmap page is its own.
    let (va1, va2) = (page(1, 128) + 8, page(1, 320) + 8);
    // (Through init_mm when nothing ever synced A.)
    let rw = if plan.never_synced() {
        pt.kernel_root()
    } else {
        ra
    };
    let soft1 = touch::soft(&m.mmu, rw, va1, true).map(|t| t.pa);
    let soft2 = touch::soft(&m.mmu, rw, va2, false).map(|t| t.pa);
    let head = touch::soft(&m.mmu, rw, page(1, 0), false).map(|t| t.pa);
    let tail_pa = tails[1].0 + 8;
    tr.touch(&m, rw, va1, true);
    // SAFETY: `va1` maps the scenario's own tail frame (just touched).
    let wrote = unsafe { probe::write_u64(va1, MARK) };
    let through2 = probe::read_u64(va2);
    let shared = soft1 == Ok(tail_pa)
        && soft2 == Ok(tail_pa)
        && head == Ok(heads[1].0)
        && wrote.is_ok()
        && through2 == Ok(MARK)
        && data::read_phys(tail_pa) == MARK;
    if !shared {
        tr.fail(format!(
            "tails not shared: soft {soft1:x?} {soft2:x?} head {head:x?}, \
             write {wrote:?}, read {through2:x?}"
        ));
    }
    m.retire([a, b, c]);
    Ok(tr)
}
