//! TLB shootdown: the request one CPU posts, the IPI handler the others
//! run, and their acknowledgements.
//!
//! The shape of Linux's `flush_tlb_kernel_range()` (arch/x86/mm/tlb.c):
//! `on_each_cpu(..., wait = 1)` of `do_kernel_range_flush()` (`invlpg` per
//! page), or of `do_flush_tlb_all()` when the range exceeds
//! `tlb_single_page_flush_ceiling` (33 pages): the initiator publishes the
//! range, flushes itself, interrupts every other CPU and waits until each
//! has flushed. This kernel also flushes everything when the unmap freed
//! page-table pages, as the library's `FlushRange::freed_tables` asks
//! ("on x86 a full flush of the range"; a whole flush covers it).
//!
//! It also owns the wake-up IPI, which only ends an AP's `hlt`.
//!
//! A bottom module: the trap code (`interrupts.rs`) calls [`handle`], the
//! SMP code (`smp/`) posts requests; neither imports the other.

use crate::cpu::{self, MAX_CPUS};
use crate::{apic, frame};
use core::sync::atomic::{AtomicU64, Ordering};

/// The shootdown IPI's vector.
pub const VECTOR_SHOOTDOWN: u8 = 0xf0;
/// The wake-up IPI: an AP halted waiting for work resumes (nothing else).
pub const VECTOR_WAKE: u8 = 0xf1;
/// The APIC's spurious-interrupt vector (no EOI for it).
pub const VECTOR_SPURIOUS: u8 = 0xff;
/// Above this many pages a flush is a full one (Linux's
/// `tlb_single_page_flush_ceiling`).
pub const SINGLE_PAGE_FLUSH_CEILING: u64 = 33;

/// The posted request: its sequence number (0 = none yet), range, stride
/// (bytes) and whether a full flush is asked for.
static SEQ: AtomicU64 = AtomicU64::new(0);
static START: AtomicU64 = AtomicU64::new(0);
static END: AtomicU64 = AtomicU64::new(0);
static STRIDE: AtomicU64 = AtomicU64::new(frame::PAGE_SIZE);
static FULL: AtomicU64 = AtomicU64::new(0);

/// Per CPU: the last request flushed, and how (counts of `invlpg`-loop
/// flushes and full flushes).
static ACKED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static PAGE_FLUSHES: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static FULL_FLUSHES: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Whether a flush of `start..end` with `stride` is a full one.
pub fn is_full(start: u64, end: u64, stride: u64, freed_tables: bool) -> bool {
    freed_tables || end.saturating_sub(start) / stride.max(1) > SINGLE_PAGE_FLUSH_CEILING
}

/// Flush this CPU's TLB for `start..end` (`flush_tlb_one_kernel()` per
/// page, or everything).
pub fn flush_local(start: u64, end: u64, stride: u64, full: bool) {
    if full {
        cpu::flush_tlb_all();
    } else {
        let mut va = start;
        while va < end {
            cpu::invlpg(va);
            va = va.saturating_add(stride.max(1));
        }
    }
}

/// Post a request; returns its sequence number. Only one CPU posts (the
/// SMP test's BSP), and it waits for every acknowledgement before the next.
pub fn post(start: u64, end: u64, stride: u64, full: bool) -> u64 {
    START.store(start, Ordering::Relaxed);
    END.store(end, Ordering::Relaxed);
    STRIDE.store(stride, Ordering::Relaxed);
    FULL.store(u64::from(full), Ordering::Relaxed);
    // Release: a CPU that sees the new number sees the range above.
    SEQ.fetch_add(1, Ordering::Release) + 1
}

/// The last request `cpu` flushed.
pub fn acked(cpu: usize) -> u64 {
    ACKED[cpu].load(Ordering::Acquire)
}

/// (`invlpg`-loop flushes, full flushes) `cpu` has run for requests.
pub fn flushes(cpu: usize) -> (u64, u64) {
    (
        PAGE_FLUSHES[cpu].load(Ordering::Relaxed),
        FULL_FLUSHES[cpu].load(Ordering::Relaxed),
    )
}

/// Called by the trap code for every vector from 32 up; `true` if it was
/// one of this module's.
pub fn handle(vector: u64) -> bool {
    if vector == u64::from(VECTOR_SPURIOUS) {
        return true;
    }
    if vector == u64::from(VECTOR_WAKE) {
        apic::eoi();
        return true;
    }
    if vector != u64::from(VECTOR_SHOOTDOWN) {
        return false;
    }
    let seq = SEQ.load(Ordering::Acquire);
    let (start, end) = (START.load(Ordering::Relaxed), END.load(Ordering::Relaxed));
    let stride = STRIDE.load(Ordering::Relaxed);
    let full = FULL.load(Ordering::Relaxed) != 0;
    flush_local(start, end, stride, full);
    let me = cpu::cpu_index();
    if full {
        FULL_FLUSHES[me].fetch_add(1, Ordering::Relaxed);
    } else {
        PAGE_FLUSHES[me].fetch_add(1, Ordering::Relaxed);
    }
    // Release: the flush above is done before the initiator reuses frames.
    ACKED[me].store(seq, Ordering::Release);
    apic::eoi();
    true
}
