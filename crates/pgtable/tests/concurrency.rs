//! Real threads on one `PageTables<X86_64, SparseMemory>` (it is `Sync`).
//!
//! Each round builds a fresh machine (so that every kernel edit of the
//! round fills a top-level slot that was empty and must be synced) and runs,
//! in a `std::thread::scope`:
//! - one kernel thread that takes `pt.kernel()` again and again and maps a
//!   range in a new top-level slot of the vmalloc area (`vmalloc_start + i *
//!   PGDIR_SIZE`: 512 GiB apart with 4 levels, 256 TiB with 5), checking that
//!   the edit synced, and unmaps some earlier ranges again;
//! - worker threads that create and destroy address spaces in a loop, map
//!   and unmap user pages in their own spaces through `pt.user(&mut space).unwrap()`,
//!   and keep a few spaces alive to the end of the round.
//!
//! Checked while the threads run, at points where the kernel lock is held
//! (so no kernel edit is between its populate and its sync): no registered
//! root is out of sync, and the space a worker just created translates every
//! live kernel mapping exactly as the kernel root does. Checked after the
//! round: the same for every surviving space, then, with everything
//! destroyed and unmapped, `harness::reachable_frames() == tables_in_use()`.
//!
//! Rounds per mode: `PGTABLE_CONCURRENCY_ROUNDS` (default 6).

mod common;

use common::{vmalloc_start, MODES};
use pgtable::PageSize;
use pgtable::PagingGeometry;
use pgtable::{
    AddressSpace, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr, PAGE_SIZE, X86_64,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

type Pt = PageTables<X86_64, SparseMemory>;

const WORKERS: usize = 3;
/// Kernel edits per round, each into a new top-level slot.
const SLOTS: u64 = 24;
/// Spaces each worker keeps alive to the end of the round.
const KEEP: usize = 2;

fn rounds() -> usize {
    std::env::var("PGTABLE_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// A live kernel mapping: (va, size).
type Live = Mutex<Vec<(u64, u64)>>;

/// `root` translates every live kernel mapping as the kernel root does.
/// Call with the kernel lock held.
fn check_kernel_half(pt: &Pt, root: PhysAddr, live: &[(u64, u64)]) -> Result<(), String> {
    for &(va, size) in live {
        for off in [0, size - PAGE_SIZE] {
            let va = VirtAddr(va + off);
            let want = pt.translate(pt.kernel_root(), va);
            let got = pt.translate(root, va);
            if want.is_none() || got != want {
                return Err(format!(
                    "{va:?}: root {root:?} sees {got:?}, kernel {want:?}"
                ));
            }
        }
    }
    Ok(())
}

fn kernel_thread(pt: &Pt, live: &Live, stop: &AtomicBool, checks: &AtomicUsize) {
    let arch = *pt.arch();
    let slot = arch.level_size(arch.top_level());
    let base = vmalloc_start(arch).0;
    for i in 0..SLOTS {
        let va = base + i * slot + (i % 4) * (1 << 30);
        let size = (1 + i % 3) * PAGE_SIZE;
        let mut k = pt.kernel();
        let report = {
            k.edit(|e| {
                e.vmap_range(
                    VirtAddr(va),
                    PhysAddr(0x100_0000 + i * 0x10_0000),
                    size,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap();
            })
            .1
        };
        assert!(
            report.synced(),
            "{}: slot {i} was empty: the edit must sync",
            arch.name()
        );
        let mut l = live.lock().unwrap();
        l.push((va, size));
        if i % 3 == 2 {
            // Unmap an older range: its top-level table stays.
            let (ova, osize) = l.remove(0);
            k.edit(|e| e.vunmap_range(VirtAddr(ova), osize))
                .0
                .unwrap()
                .ignore();
        }
        // Quiescent point for kernel edits: every root must be in sync.
        assert_eq!(
            pt.first_out_of_sync(),
            None,
            "{}: after edit {i}",
            arch.name()
        );
        checks.fetch_add(1, Ordering::Relaxed);
        drop(l);
        drop(k);
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Release);
}

fn worker(
    pt: &Pt,
    id: u64,
    live: &Live,
    stop: &AtomicBool,
    checks: &AtomicUsize,
) -> Vec<AddressSpace> {
    let mut kept = Vec::new();
    let mut n = 0u64;
    // At least a few iterations even if the kernel thread is quick.
    while n < 8 || !stop.load(Ordering::Acquire) {
        n += 1;
        let mut s = pt.create_space().unwrap();
        let uva = VirtAddr(0x40_0000 + (id << 32) + (n % 16) * (1 << 30));
        let upa = PhysAddr(0x8000_0000 + id * 0x100_0000);
        pt.user(&mut s)
            .unwrap()
            .map_range(uva, upa, 2 * PAGE_SIZE, Prot::USER_RW, PageSize::Base)
            .unwrap();
        assert_eq!(
            pt.translate(s.root(), VirtAddr(uva.0 + PAGE_SIZE))
                .map(|m| m.pa),
            Some(PhysAddr(upa.0 + PAGE_SIZE))
        );
        if n.is_multiple_of(2) {
            // Hold the kernel lock: no edit in flight, so the new space
            // must see every live kernel mapping.
            let k = pt.kernel();
            let l = live.lock().unwrap();
            if let Err(e) = check_kernel_half(pt, s.root(), &l) {
                panic!("{}: worker {id}, fresh space: {e}", pt.arch().name());
            }
            drop(l);
            drop(k);
            checks.fetch_add(1, Ordering::Relaxed);
        }
        if kept.len() < KEEP && n.is_multiple_of(5) {
            kept.push(s);
            continue;
        }
        pt.user(&mut s)
            .unwrap()
            .unmap(uva, 2 * PAGE_SIZE)
            .unwrap()
            .ignore();
        pt.destroy_space(s).expect("own space").ignore();
    }
    kept
}

fn round(arch: X86_64, checks: &AtomicUsize) -> usize {
    let pt = PageTables::new(
        arch,
        SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32)),
    )
    .unwrap();
    let live: Live = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let kept: Vec<AddressSpace> = std::thread::scope(|sc| {
        let workers: Vec<_> = (0..WORKERS as u64)
            .map(|id| {
                let (pt, live, stop) = (&pt, &live, &stop);
                sc.spawn(move || worker(pt, id, live, stop, checks))
            })
            .collect();
        sc.spawn(|| kernel_thread(&pt, &live, &stop, checks));
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let spaces = kept.len();
    assert_eq!(
        pt.first_out_of_sync(),
        None,
        "{}: after the round",
        arch.name()
    );
    let live = live.into_inner().unwrap();
    for s in &kept {
        check_kernel_half(&pt, s.root(), &live).unwrap();
    }
    // Spaces created now see the same.
    let late = pt.create_space().unwrap();
    check_kernel_half(&pt, late.root(), &live).unwrap();
    pt.destroy_space(late).expect("own space").ignore();
    for s in kept {
        pt.destroy_space(s).expect("own space").ignore();
    }
    {
        let mut k = pt.kernel();
        let _ = k.edit(|e| {
            for (va, size) in live {
                e.vunmap_range(VirtAddr(va), size).unwrap().ignore();
            }
        });
    }
    assert_eq!(pt.space_count(), 0);
    assert_eq!(
        common::harness::reachable_frames(&pt),
        pt.mem().tables_in_use(),
        "{}: frames leaked",
        arch.name()
    );
    spaces
}

#[test]
fn spaces_created_while_the_kernel_fills_new_slots_stay_in_sync() {
    let t0 = Instant::now();
    let checks = AtomicUsize::new(0);
    let mut kept = 0;
    for arch in MODES {
        for _ in 0..rounds() {
            kept += round(arch, &checks);
        }
    }
    println!(
        "{} rounds x 2 modes, {} in-flight sync checks, {kept} surviving spaces checked, {:?}",
        rounds(),
        checks.load(Ordering::Relaxed),
        t0.elapsed()
    );
}
