//! Part 3, on the simulator's memory: what `SparseMemory` pays the first
//! time a page is touched, and what that does to the first sync after many
//! spaces were created (their roots' pages are first written there).

use crate::sections::{edit, slot_va, time, Evict};
use crate::{Figure, Sizes, Stat};
use pgtable::{PageSize, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr, X86_64};
use pgtable_sim::layout::TABLE_FRAMES;
use std::hint::black_box;

/// Pages first touched, and spaces created before the first sync.
const PAGES: u64 = 10_000;
/// Later syncs whose median is the first one's reference.
const LATER: u64 = 3;

/// One word stored into each of `PAGES` pages of a new memory's table
/// frames (`write_u64`, as the library writes an entry), then the same
/// again: ns per page, first and later.
fn touch_pages() -> (f64, f64) {
    let mem = SparseMemory::new(PhysAddr(TABLE_FRAMES.start)..PhysAddr(TABLE_FRAMES.end));
    let pa = |i: u64, word: u64| PhysAddr(TABLE_FRAMES.start + i * 4096 + word * 8);
    let first = time(|| (0..PAGES).for_each(|i| mem.write_u64(pa(i, 1), 1)));
    let later = time(|| (0..PAGES).for_each(|i| mem.write_u64(pa(i, 2), 1)));
    assert_eq!(mem.pages_backed(), PAGES as usize);
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / PAGES as f64;
    (per(first), per(later))
}

/// The host's own first touch: one store into each page of freshly
/// allocated zeroed memory (each a page fault), ns per page.
fn host_first_store() -> f64 {
    let mut buf = vec![0u64; PAGES as usize * 512];
    let t = time(|| {
        for page in buf.chunks_exact_mut(512) {
            page[0] = 1;
        }
        // The stores stay: the buffer is read after.
        black_box(&mut buf);
    });
    t.as_secs_f64() * 1e9 / PAGES as f64
}

/// `PAGES` spaces created in a new memory, then eager populates of empty
/// top-level slots, each after a cache sweep: ns per space, first and the
/// median of the `LATER` next.
fn first_and_later_sync(cold: &mut Evict) -> (f64, f64) {
    let mem = SparseMemory::new(PhysAddr(TABLE_FRAMES.start)..PhysAddr(TABLE_FRAMES.end));
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem).expect("kernel root");
    let spaces: Vec<_> = (0..PAGES).map(|_| pt.create_space().unwrap()).collect();
    let mut per_space = (257..=257 + LATER).map(|slot| {
        cold.sweep();
        let t = time(|| {
            edit(&pt, |e| {
                e.vmap_range(
                    VirtAddr(slot_va(slot)),
                    PhysAddr(0x40_0000_0000),
                    4096,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap();
            });
        });
        t.as_secs_f64() * 1e9 / PAGES as f64
    });
    let first = per_space.next().expect("a first sync");
    let later = crate::median(per_space.collect());
    assert!(pt.first_out_of_sync().is_none(), "every root synced");
    for sp in spaces {
        pt.destroy_space(sp).expect("own space").ignore();
    }
    (first, later)
}

/// The first-touch figures: per page, against the host's own first store
/// and a later touch; the first sync after `PAGES` creates against later
/// ones. Run 0 (not counted) warms the process as in the other parts.
/// A new memory's first touch costs at least the host's page fault for
/// that page, so the host's first store is the floor the target is read
/// against.
pub fn first_touch(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let (mut first, mut later, mut host) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sync_first, mut sync_later) = (Vec::new(), Vec::new());
    let mut cold = Evict::new();
    for run in 0..=s.runs {
        let (f, l) = touch_pages();
        let h = host_first_store();
        let (sf, sl) = first_and_later_sync(&mut cold);
        if run > 0 {
            first.push(f);
            later.push(l);
            host.push(h);
            sync_first.push(sf);
            sync_later.push(sl);
        }
    }
    let (fs, ss) = (Stat::of(&first), Stat::ratio(&sync_first, &sync_later));
    progress(&format!(
        "  first touch {:.0} ns per page (host's first store {:.0} ns), first sync {:.1} ns \
         per space, {:.2}× a later one",
        fs.median,
        crate::median(host.clone()),
        crate::median(sync_first.clone()),
        ss.median
    ));
    vec![
        Figure {
            section: "3",
            name: format!("SparseMemory first touch per page, {PAGES} pages: first vs later"),
            ours: fs,
            unit: "ns",
            reference: Some(Stat::of(&later)),
            ratio_of: "first ÷ later",
            ratio: Some(Stat::ratio(&first, &later)),
            target: Some("≤ 100 ns".into()),
            holds: Some(fs.median <= 100.0),
        },
        Figure {
            section: "3",
            name: "  (information) vs the host's first store into fresh memory".into(),
            ours: fs,
            unit: "ns",
            reference: Some(Stat::of(&host)),
            ratio_of: "ours ÷ host",
            ratio: Some(Stat::ratio(&first, &host)),
            target: None,
            holds: None,
        },
        Figure {
            section: "3",
            name: format!("  first sync after {PAGES} creates vs later ones (sparse), per space"),
            ours: Stat::of(&sync_first),
            unit: "ns",
            reference: Some(Stat::of(&sync_later)),
            ratio_of: "first ÷ later",
            ratio: Some(ss),
            target: Some("≤ 1.5×".into()),
            holds: Some(ss.median <= 1.5),
        },
    ]
}
