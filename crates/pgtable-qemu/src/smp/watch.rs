//! The APs' side of the concurrent kernel-change check (`changes.rs`):
//! what the BSP publishes, the AP loop that reads it, and each AP's record.

use super::ap;
use crate::cpu::MAX_CPUS;
use crate::probe::{self, Fault};
use core::sync::atomic::{AtomicU64, Ordering};

/// Addresses one change publishes.
pub(super) const MAX_ADDRS: usize = 4;

/// Nothing published / published, not synced / the late sync is running /
/// synced. A read that saw `PUBLISHED` before and after it happened wholly
/// before the late sync began (`SYNCING` is stored first); one that saw
/// `SYNCED` before it began after the sync ended; any other is a straddler.
pub(super) const UNPUBLISHED: u64 = 0;
pub(super) const PUBLISHED: u64 = 1;
pub(super) const SYNCING: u64 = 3;
pub(super) const SYNCED: u64 = 2;

pub(super) static STATE: AtomicU64 = AtomicU64::new(UNPUBLISHED);
pub(super) static N: AtomicU64 = AtomicU64::new(0);
pub(super) static ADDRS: [AtomicU64; MAX_ADDRS] = [const { AtomicU64::new(0) }; MAX_ADDRS];
pub(super) static EXPECT: [AtomicU64; MAX_ADDRS] = [const { AtomicU64::new(0) }; MAX_ADDRS];
pub(super) static STABLE: AtomicU64 = AtomicU64::new(0);
pub(super) static STABLE_EXPECT: AtomicU64 = AtomicU64::new(0);

const fn zero() -> AtomicU64 {
    AtomicU64::new(0)
}

/// One AP's record of one run.
pub(super) struct Record {
    /// Per address: reads that began and ended before the sync (ok,
    /// faulted), reads that began after it (ok, faulted).
    pub(super) before_ok: [AtomicU64; MAX_ADDRS],
    pub(super) before_fault: [AtomicU64; MAX_ADDRS],
    pub(super) after_ok: [AtomicU64; MAX_ADDRS],
    pub(super) after_fault: [AtomicU64; MAX_ADDRS],
    /// The first fault per address (CR2, error code + 1; 0 = none), and
    /// faults that differed from it.
    pub(super) first_addr: [AtomicU64; MAX_ADDRS],
    pub(super) first_err: [AtomicU64; MAX_ADDRS],
    pub(super) inconsistent: AtomicU64,
    /// Reads that straddled the sync (either outcome is right).
    pub(super) straddled: AtomicU64,
    /// Successful reads that returned another word than the tag.
    pub(super) wrong: AtomicU64,
    /// Faults or wrong words at the always-mapped address.
    pub(super) stable_bad: AtomicU64,
    pub(super) stable_reads: AtomicU64,
}

impl Record {
    const fn new() -> Self {
        Record {
            before_ok: [const { zero() }; MAX_ADDRS],
            before_fault: [const { zero() }; MAX_ADDRS],
            after_ok: [const { zero() }; MAX_ADDRS],
            after_fault: [const { zero() }; MAX_ADDRS],
            first_addr: [const { zero() }; MAX_ADDRS],
            first_err: [const { zero() }; MAX_ADDRS],
            inconsistent: zero(),
            straddled: zero(),
            wrong: zero(),
            stable_bad: zero(),
            stable_reads: zero(),
        }
    }

    pub(super) fn reset(&self) {
        for i in 0..MAX_ADDRS {
            for a in [
                &self.before_ok[i],
                &self.before_fault[i],
                &self.after_ok[i],
                &self.after_fault[i],
                &self.first_addr[i],
                &self.first_err[i],
            ] {
                a.store(0, Ordering::Relaxed);
            }
        }
        for a in [
            &self.inconsistent,
            &self.straddled,
            &self.wrong,
            &self.stable_bad,
            &self.stable_reads,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }

    fn fault(&self, i: usize, f: &Fault) {
        let first = &self.first_err[i];
        if first.load(Ordering::Relaxed) == 0 {
            self.first_addr[i].store(f.addr, Ordering::Relaxed);
            first.store(f.error_code + 1, Ordering::Relaxed);
        } else if self.first_addr[i].load(Ordering::Relaxed) != f.addr
            || first.load(Ordering::Relaxed) != f.error_code + 1
        {
            self.inconsistent.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn first_fault(&self, i: usize) -> Option<(u64, u64)> {
        match self.first_err[i].load(Ordering::Acquire) {
            0 => None,
            e => Some((self.first_addr[i].load(Ordering::Relaxed), e - 1)),
        }
    }
}

pub(super) static RECORDS: [Record; MAX_CPUS] = [const { Record::new() }; MAX_CPUS];

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// An AP's part: touch until the BSP posts the next command.
pub fn ap_loop(me: usize, seq: u64) {
    let rec = &RECORDS[me];
    let stable = STABLE.load(Ordering::Relaxed);
    let stable_expect = STABLE_EXPECT.load(Ordering::Relaxed);
    while ap::current(seq) {
        match probe::read_u64(stable) {
            Ok(v) if v == stable_expect => {}
            _ => bump(&rec.stable_bad),
        }
        bump(&rec.stable_reads);
        if STATE.load(Ordering::Acquire) == UNPUBLISHED {
            continue;
        }
        let n = N.load(Ordering::Relaxed) as usize;
        for i in 0..n.min(MAX_ADDRS) {
            let (va, want) = (
                ADDRS[i].load(Ordering::Relaxed),
                EXPECT[i].load(Ordering::Relaxed),
            );
            let s0 = STATE.load(Ordering::Acquire);
            let r = probe::read_u64(va);
            let s1 = STATE.load(Ordering::Acquire);
            match (s0, s1, r) {
                (SYNCED, _, Ok(v)) | (PUBLISHED, PUBLISHED, Ok(v)) => {
                    if v != want {
                        bump(&rec.wrong);
                    }
                    bump(if s0 == SYNCED {
                        &rec.after_ok[i]
                    } else {
                        &rec.before_ok[i]
                    });
                }
                (SYNCED, _, Err(f)) | (PUBLISHED, PUBLISHED, Err(f)) => {
                    rec.fault(i, &f);
                    bump(if s0 == SYNCED {
                        &rec.after_fault[i]
                    } else {
                        &rec.before_fault[i]
                    });
                }
                _ => bump(&rec.straddled),
            }
        }
    }
}
