//! Edit rounds with every CPU active, and the shootdown's negative control.
//!
//! A scenario machine; each AP on an address space of its own created
//! before a new top-level slot is populated (the hot-add slot one top-level
//! entry above the boot direct map). The BSP maps an anchor page there with
//! the library's edit (which syncs the new top-level entry into every
//! root); the APs keep reading it. Then, per round: the BSP writes a fresh
//! marker into a frame, maps it at a round address with `edit` (sync as
//! needed), publishes the round; every AP reads the address and must see
//! that marker, without a fault; the BSP waits for every AP's read, unmaps
//! with `vunmap_range` and discharges the returned `TlbFlush` with a hook
//! that IPIs every AP and waits for each acknowledgement; only then does it
//! reuse the frame (overwrites the marker). Even rounds use the page next
//! to the anchor (the page table survives: an `invlpg` flush), odd rounds a
//! page 1 GiB away (its page tables are freed: a full flush).
//!
//! Then the negative control (`control.rs`).

use super::ap::{self, Kind};
use super::flush_hook::IpiFlush;
use crate::cpu::{self, MAX_CPUS};
use crate::data;
use crate::frame;
use crate::probe;
use crate::report::Checks;
use crate::scenarios::{boot, region_start, top_slot_size};
use crate::shootdown;
use crate::space::{self, Machine};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use pgtable::arch::RegionKind;
use pgtable::{FlushRange, PhysAddr, Prot, VirtAddr, X86_64};

/// Rounds with the shootdown (the issue asks for at least 10,000).
pub const ROUNDS: u64 = 10_000;
/// Reads of the round address per AP per round.
const READS_PER_ROUND: u64 = 2;
/// Reads of the anchor per AP after each wake-up (while the BSP unmaps,
/// shoots down and maps the next round).
const ANCHOR_READS: u64 = 32;
/// Frames the rounds cycle through.
const POOL: usize = 4;
pub(super) const MARKER: u64 = 0x5350_0000_0000_0000;
pub(super) const REUSED: u64 = 0xdead_0000_0000_0000;
const ANCHOR: u64 = 0xa0c4_0000_0000_0001;

/// The published round: number + 1 (0 = none), address, marker.
static ROUND: AtomicU64 = AtomicU64::new(0);
static ROUND_VA: AtomicU64 = AtomicU64::new(0);
static ROUND_WANT: AtomicU64 = AtomicU64::new(0);
static ANCHOR_VA: AtomicU64 = AtomicU64::new(0);
/// `pgq.smp=stuck-ap`: the last AP hangs with interrupts off after
/// [`STUCK_AFTER`] rounds (the classic shootdown deadlock), to show that
/// the BSP reports it as a failed check instead of hanging.
pub static STUCK_AP: AtomicBool = AtomicBool::new(false);
const STUCK_AFTER: u64 = 100;

const fn zero() -> AtomicU64 {
    AtomicU64::new(0)
}

pub(super) struct Record {
    /// The last round (number + 1) this AP finished reading.
    read: AtomicU64,
    reads: AtomicU64,
    faults: AtomicU64,
    wrong: AtomicU64,
    /// The last wrong word read.
    pub(super) last_wrong: AtomicU64,
    anchor_reads: AtomicU64,
    anchor_bad: AtomicU64,
}

pub(super) static RECORDS: [Record; MAX_CPUS] = [const {
    Record {
        read: zero(),
        reads: zero(),
        faults: zero(),
        wrong: zero(),
        last_wrong: zero(),
        anchor_reads: zero(),
        anchor_bad: zero(),
    }
}; MAX_CPUS];

/// An AP's part: read each published round's address, keep reading the
/// anchor in between, until the BSP posts the next command.
pub fn ap_loop(me: usize, seq: u64) {
    let rec = &RECORDS[me];
    let anchor = ANCHOR_VA.load(Ordering::Relaxed);
    let mut seen = rec.read.load(Ordering::Relaxed);
    while ap::current(seq) {
        let round = ROUND.load(Ordering::Acquire);
        if round != seen {
            let (va, want) = (
                ROUND_VA.load(Ordering::Relaxed),
                ROUND_WANT.load(Ordering::Relaxed),
            );
            for _ in 0..READS_PER_ROUND {
                match probe::read_u64(va) {
                    Ok(v) if v == want => {}
                    Ok(v) => {
                        rec.wrong.fetch_add(1, Ordering::Relaxed);
                        rec.last_wrong.store(v, Ordering::Relaxed);
                    }
                    Err(_) => {
                        rec.faults.fetch_add(1, Ordering::Relaxed);
                    }
                }
                rec.reads.fetch_add(1, Ordering::Relaxed);
            }
            seen = round;
            rec.read.store(round, Ordering::Release);
            if round > STUCK_AFTER && me == MAX_CPUS - 1 && STUCK_AP.load(Ordering::Relaxed) {
                x86_64::instructions::interrupts::disable();
                loop {
                    core::hint::spin_loop();
                }
            }
        }
        for _ in 0..ANCHOR_READS {
            match probe::read_u64(anchor) {
                Ok(ANCHOR) => {}
                _ => {
                    rec.anchor_bad.fetch_add(1, Ordering::Relaxed);
                }
            }
            rec.anchor_reads.fetch_add(1, Ordering::Relaxed);
        }
        ap::sleep_until(|| ROUND.load(Ordering::Acquire) != seen || !ap::current(seq));
    }
}

/// Write `v` to the first word of frame `pa` (the marker the APs read).
pub(super) fn put(pa: PhysAddr, v: u64) {
    // SAFETY: `pa` is a frame of this module's pool or the anchor, taken
    // from the frame allocator by `setup` for this use only.
    unsafe { data::write_phys(pa.0, v) };
}

/// The rounds' machine and addresses.
pub(super) struct Bench {
    m: Machine,
    spaces: Vec<pgtable::AddressSpace>,
    pub pool: Vec<PhysAddr>,
    /// Round addresses: next to the anchor, and 1 GiB away.
    pub va: [u64; 2],
    syncs: u64,
}

fn setup(aps: &[usize]) -> Result<Bench, String> {
    let (m, [a, b]) = boot()?;
    let mut spaces = alloc::vec![a, b];
    for _ in aps {
        spaces.push(m.process()?);
    }
    let roots: Vec<PhysAddr> = spaces[2..].iter().map(|s| s.root()).collect();
    ap::switch(aps, &roots)?;
    let hot = region_start(&m.pt, RegionKind::DirectMap) + top_slot_size(&m.pt);
    let frames = data::frames(POOL + 1)?;
    let anchor_frame = frames[POOL];
    put(anchor_frame, ANCHOR);
    let (r, report) =
        m.pt.kernel()
            .edit(|e| e.vmap_pages(VirtAddr(hot), &[anchor_frame], Prot::KERNEL));
    r.map_err(|e| format!("anchor map: {e:?}"))?;
    if !report.synced() {
        return Err(format!(
            "the anchor's new top-level entry was not synced: {report:?}"
        ));
    }
    Ok(Bench {
        m,
        spaces,
        pool: frames[..POOL].to_vec(),
        va: [hot + 0x1000, hot + (1 << 30)],
        syncs: 1,
    })
}

impl Bench {
    /// Map `frame` at `va` with the library's edit (which syncs when a
    /// shared level changed).
    pub(super) fn map(&mut self, va: u64, frame: PhysAddr) -> Result<(), String> {
        let (r, report) = self
            .m
            .pt
            .kernel()
            .edit(|e| e.vmap_pages(VirtAddr(va), &[frame], Prot::KERNEL));
        r.map_err(|e| format!("map {va:#x}: {e:?}"))?;
        if report.synced() {
            self.syncs += 1;
        }
        Ok(())
    }

    /// Unmap the page at `va` and discharge the flush it owes with `hook`.
    pub(super) fn unmap(&mut self, va: u64, hook: &mut IpiFlush) -> Result<(), String> {
        let (r, _) = self
            .m
            .pt
            .kernel()
            .edit(|e| e.vunmap_range(VirtAddr(va), frame::PAGE_SIZE));
        let flush = r.map_err(|e| format!("unmap {va:#x}: {e:?}"))?;
        flush.flush(&mut |range: &FlushRange| hook.flush(range));
        hook.error.take().map_or(Ok(()), Err)
    }
}

/// Publish round `n` (every AP reads `want` at `va`) and wait until every
/// AP has read it.
pub(super) fn publish(aps: &[usize], n: u64, va: u64, want: u64) -> Result<(), String> {
    ROUND_VA.store(va, Ordering::Relaxed);
    ROUND_WANT.store(want, Ordering::Relaxed);
    ROUND.store(n + 1, Ordering::Release);
    ap::wake(aps);
    for &ap in aps {
        ap::wait(&format!("cpu {ap} reading round {n}"), || {
            RECORDS[ap].read.load(Ordering::Acquire) == n + 1
        })?;
    }
    Ok(())
}

/// One round at `va` with `frame`: map, publish, wait for the reads,
/// unmap, flush through `hook`, reuse the frame.
pub(super) fn round(
    b: &mut Bench,
    aps: &[usize],
    n: u64,
    va: u64,
    frame: PhysAddr,
    hook: &mut IpiFlush,
) -> Result<(), String> {
    put(frame, MARKER | n);
    b.map(va, frame).map_err(|e| format!("round {n}: {e}"))?;
    publish(aps, n, va, MARKER | n)?;
    b.unmap(va, hook).map_err(|e| format!("round {n}: {e}"))?;
    // The frame goes back to the allocator and to a new owner.
    put(frame, REUSED | n);
    Ok(())
}

pub(super) struct Totals {
    pub reads: u64,
    pub faults: u64,
    pub wrong: u64,
    pub anchor_reads: u64,
    pub anchor_bad: u64,
}

/// The APs' counters summed.
pub(super) fn totals(aps: &[usize]) -> Totals {
    let ld = |a: &AtomicU64| a.load(Ordering::Acquire);
    let mut t = Totals {
        reads: 0,
        faults: 0,
        wrong: 0,
        anchor_reads: 0,
        anchor_bad: 0,
    };
    for &ap in aps {
        let r = &RECORDS[ap];
        t.reads += ld(&r.reads);
        t.faults += ld(&r.faults);
        t.wrong += ld(&r.wrong);
        t.anchor_reads += ld(&r.anchor_reads);
        t.anchor_bad += ld(&r.anchor_bad);
    }
    t
}

/// What runs after the rounds, with the APs still in theirs (the negative
/// control, `control::run`).
pub type After = fn(&mut Checks, &mut Bench, &[usize], X86_64) -> Result<(), String>;

fn rounds(c: &mut Checks, b: &mut Bench, aps: &[usize], after: After) -> Result<(), String> {
    let arch = *b.m.pt.arch();
    let mut hook = IpiFlush::new(aps, arch, true);
    let t0 = cpu::rdtsc();
    for n in 0..ROUNDS {
        let va = b.va[(n % 2) as usize];
        let frame = b.pool[(n as usize) % POOL];
        round(b, aps, n, va, frame, &mut hook)?;
    }
    let cycles = cpu::rdtsc().wrapping_sub(t0);
    let t = totals(aps);
    let per_cpu: Vec<String> = aps
        .iter()
        .map(|&ap| {
            let (p, f) = shootdown::flushes(ap);
            format!(
                "cpu{ap}:reads={},faults={},invlpg={p},full={f}",
                RECORDS[ap].reads.load(Ordering::Relaxed),
                RECORDS[ap].faults.load(Ordering::Relaxed)
            )
        })
        .collect();
    let detail = format!(
        "rounds={ROUNDS} cpus={} reads={} faults={} wrong={} anchor_reads={} anchor_bad={} \
         shootdowns={} ipis={} invlpg_flushes={} full_flushes={} syncs={} deadlocks=0 mcycles={} {}",
        aps.len() + 1,
        t.reads,
        t.faults,
        t.wrong,
        t.anchor_reads,
        t.anchor_bad,
        hook.pages + hook.full,
        hook.ipis,
        hook.pages,
        hook.full,
        b.syncs,
        cycles / 1_000_000,
        per_cpu.join(" ")
    );
    let want_reads = ROUNDS * READS_PER_ROUND * aps.len() as u64;
    let r = if t.faults != 0 || t.wrong != 0 || t.anchor_bad != 0 || t.reads != want_reads {
        Err(format!(
            "{detail} (want faults=0 wrong=0 anchor_bad=0 reads={want_reads})"
        ))
    } else {
        Ok(detail)
    };
    c.record_detail("smp/shootdown-rounds", r);

    after(c, b, aps, arch)
}

pub fn run(c: &mut Checks, aps: &[usize], after: After) {
    let mut b = match setup(aps) {
        Ok(b) => b,
        Err(e) => {
            c.record("smp/shootdown-rounds", Err(e));
            return;
        }
    };
    ANCHOR_VA.store(b.va[0] - 0x1000, Ordering::Relaxed);
    for &ap in aps {
        RECORDS[ap].read.store(0, Ordering::Relaxed);
    }
    ROUND.store(0, Ordering::Relaxed);
    let seq = match ap::run(Kind::Rounds, aps) {
        Ok(s) => s,
        Err(e) => {
            c.record("smp/shootdown-rounds", Err(e));
            return;
        }
    };
    let r = rounds(c, &mut b, aps, after);
    let stopped = ap::run(Kind::Idle, aps).and_then(|_| ap::wait_done(seq, aps));
    if let Err(e) = r.and(stopped) {
        c.record("smp/shootdown-rounds", Err(e));
        return;
    }
    let home: Vec<PhysAddr> = aps.iter().map(|_| space::home_root()).collect();
    if let Err(e) = ap::switch(aps, &home) {
        c.record("smp/shootdown-rounds", Err(e));
        return;
    }
    b.m.retire(b.spaces);
}
