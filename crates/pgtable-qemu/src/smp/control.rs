//! The shootdown's negative control: an unmap whose flush reaches the BSP
//! only (a `flush_tlb_kernel_range()` that forgot the other CPUs).
//!
//! At the page next to the anchor (no table is freed, so the stale
//! translation is a plain PTE-level one): the APs read a marker there,
//! which caches the translation; the BSP unmaps with a local-only flush,
//! hands the frame to a new owner (overwrites it) and maps a new frame with
//! a new marker at the same address. The APs then read the old frame's new
//! contents: the stale-TLB use-after-free a shootdown prevents. A real
//! shootdown afterwards must cure it.

use super::flush_hook::IpiFlush;
use super::rounds::{publish, put, round, totals, Bench, MARKER, RECORDS, REUSED, ROUNDS};
use crate::report::Checks;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use pgtable::X86_64;

pub fn run(c: &mut Checks, b: &mut Bench, aps: &[usize], arch: X86_64) -> Result<(), String> {
    let va = b.va[0];
    let (old, new) = (b.pool[0], b.pool[1]);
    let n = ROUNDS;
    put(old, MARKER | n);
    b.map(va, old)?;
    publish(aps, n, va, MARKER | n)?;
    // Unmap with the local-only flush, reuse the frame, map a new one.
    let mut local = IpiFlush::new(aps, arch, false);
    b.unmap(va, &mut local)?;
    let stale = REUSED | n;
    put(old, stale);
    put(new, MARKER | (n + 1));
    b.map(va, new)?;
    let before = totals(aps);
    publish(aps, n + 1, va, MARKER | (n + 1))?;
    let after = totals(aps);
    let stale_cpus: Vec<usize> = aps
        .iter()
        .copied()
        .filter(|&ap| RECORDS[ap].last_wrong.load(Ordering::Acquire) == stale)
        .collect();
    // The cure: a real shootdown, after which every AP reads the new frame.
    let mut cure = IpiFlush::new(aps, arch, true);
    b.unmap(va, &mut cure)?;
    let healed = totals(aps);
    round(b, aps, n + 2, va, new, &mut cure)?;
    let healed_after = totals(aps);
    let detail = format!(
        "stale_reads={} of {} (cpus {stale_cpus:?} read the reused frame's {stale:#x} \
         instead of {:#x}); after a real shootdown: wrong={} faults={}",
        after.wrong - before.wrong,
        after.reads - before.reads,
        MARKER | (n + 1),
        healed_after.wrong - healed.wrong,
        healed_after.faults - healed.faults
    );
    let r = if stale_cpus.is_empty()
        || after.faults != before.faults
        || healed_after.wrong != healed.wrong
        || healed_after.faults != healed.faults
    {
        Err(format!(
            "{detail} (want stale reads without the shootdown, none with it)"
        ))
    } else {
        Ok(detail)
    };
    c.record_detail("smp/shootdown-negative-control", r);
    Ok(())
}
