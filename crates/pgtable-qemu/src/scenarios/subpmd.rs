//! 8d400913c231: `vmemmap_populate_hugepages()` maps a PMD-sized vmemmap
//! block for a sub-section hot-add and fills the part the new struct pages
//! do not use with `PAGE_UNUSED` before `sync_global_pgds()` runs at the end
//! of `vmemmap_populate()`. On a CPU running another process's root the
//! memset itself faults.

use super::{boot, edit_kernel, late_sync, vmemmap_of, Late, Plan, Trace};
use crate::data::{self, BLOCK_2M};
use crate::probe;
use crate::space::{self, Machine};
use crate::touch::{self, Touch};
use alloc::format;
use alloc::string::String;
use pgtable::PhysAddr;

/// A 2 MiB sub-section hot-added at 64 GiB + 16 MiB: its 32 KiB of struct
/// pages use a sliver of one 2 MiB vmemmap block.
const SUB_PA: u64 = (64 << 30) + (16 << 20);
const SUB_LEN: u64 = 2 << 20;
const PAGE_UNUSED: u8 = 0xfd;
const UNUSED_WORD: u64 = u64::from_ne_bytes([PAGE_UNUSED; 8]);

pub fn run(plan: Plan) -> Result<Trace, String> {
    let (m, [a, b]) = boot()?;
    let pt = &m.pt;
    let start = vmemmap_of(pt, SUB_PA);
    let end = start + SUB_LEN / 4096 * 64;
    let blk = start & !(BLOCK_2M - 1);
    let blk_end = blk + BLOCK_2M;
    let block = data::block_2m()?;
    edit_kernel(pt, plan.code, |e| e.vmap_range(blk, block, BLOCK_2M, 21))?;
    // Before 5.13 the populate mapped whole PMD blocks with no memset and
    // synced before the memmap was used.
    if plan.late == Late::BeforeTouches {
        late_sync(pt, blk, blk_end - 1);
    }

    // vmemmap_use_new_sub_pmd(), on a CPU whose CR3 is process A's root.
    let mut tr = Trace::new(plan);
    let ra = a.root();
    let mut done = memset(&mut tr, &m, ra, blk, start - blk);
    done &= memset(&mut tr, &m, ra, end, blk_end - end);
    if plan.late == Late::AfterTouches {
        late_sync(pt, blk, blk_end - 1);
    }
    tr.mark_synced();
    if !done {
        // The old code after its late sync: now the memset goes through.
        memset(&mut tr, &m, ra, blk, start - blk);
        memset(&mut tr, &m, ra, end, blk_end - end);
    }
    // memmap_init() then writes the used struct pages, from any process.
    for root in [ra, b.root()] {
        tr.touch(&m, root, start, true);
        tr.touch(&m, root, end - 64, true);
    }
    // The block holds PAGE_UNUSED exactly outside the used sliver.
    let bad = (0..BLOCK_2M).step_by(8).find(|&off| {
        let used = (start - blk..end - blk).contains(&off);
        let want = if used { 0 } else { UNUSED_WORD };
        data::read_phys(block + off) != want
    });
    if let Some(off) = bad {
        tr.fail(format!(
            "block {:#x} word {off:#x} is {:#x} after the memset",
            block,
            data::read_phys(block + off)
        ));
    }
    m.retire([a, b]);
    Ok(tr)
}

/// memset(`va`, PAGE_UNUSED, `len`) with CR3 = `root`, one touch per page
/// (the software MMU asked first); stops at the first fault, as the kernel
/// would have. Returns whether it completed.
fn memset(tr: &mut Trace, m: &Machine, root: PhysAddr, va: u64, len: u64) -> bool {
    space::switch_to(root);
    let mut at = va;
    while at < va + len {
        let page_end = ((at | 0xfff) + 1).min(va + len);
        let soft = touch::soft(&m.mmu, root, at, true);
        let mut real = Ok(());
        let mut w = at;
        while w < page_end {
            // SAFETY: `w` is in the vmemmap block this scenario mapped to
            // its own RAM, or unmapped on this root (the fault is caught).
            if let Err(f) = unsafe { probe::write_u64(w, UNUSED_WORD) } {
                real = Err(f);
                break;
            }
            w += 8;
        }
        // Success: the page's first word; a fault: the word that faulted
        // (asked again if the fault was not at the page's first word).
        let (va, soft) = match real {
            Err(_) if w != at => (w, touch::soft(&m.mmu, root, w, true)),
            _ => (at, soft),
        };
        let t = Touch {
            root,
            va,
            write: true,
            real,
            soft,
        };
        tr.push(t);
        if t.faulted() {
            return false;
        }
        at = page_end;
    }
    true
}
