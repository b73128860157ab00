//! The six parts of the benchmark.

use crate::peer::{HostRegion, Peer, FLAGS};
use crate::{median, Figure, Sizes, Stat};
use pgtable::PageSize;
use pgtable::{
    Arch, Level, OffsetMemory, PageTables, PhysAddr, Prot, SparseMemory, TableMemory, VirtAddr,
    X86_64,
};
use pgtable::{EntryFormat, PagingGeometry};
use pgtable_mmu::x86_64::{Cpu, X86Mmu};
use pgtable_mmu::{Access, Mode};
use pgtable_sim::layout::{SimLayout, BOOT_RAM, HOTPLUG_BASE, STRUCT_PAGE_SIZE, TABLE_FRAMES};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Fake physical address of the table memory (both sides).
const TABLE_PHYS: u64 = 1 << 32;
/// Where the map/unmap figures map: the 4-level vmalloc area.
const VA: u64 = 0xffff_c900_0000_0000;
/// Physical addresses mapped (never dereferenced).
const DATA_PA: u64 = 0x40_0000_0000;

/// Map/unmap cycles averaged for each 2 MiB-leaf figure.
const HUGE_REPS: u32 = 64;

pub(crate) fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

pub(crate) fn size_name(bytes: u64) -> String {
    if bytes >= 1 << 40 {
        format!("{} TiB", bytes >> 40)
    } else if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

fn us(v: &[Duration]) -> Vec<f64> {
    v.iter().map(|d| d.as_secs_f64() * 1e6).collect()
}

fn ms(v: &[Duration]) -> Vec<f64> {
    v.iter().map(|d| d.as_secs_f64() * 1e3).collect()
}

/// A figure comparing our time with a reference time where higher ratio
/// (reference ÷ ours) is better, against issue 17's target: ≥ 8× for
/// `vmap_range` of 4 KiB pages, ≥ 3× for every other map and unmap.
fn speedup(name: String, ours: Vec<f64>, peer: Vec<f64>, unit: &'static str) -> Figure {
    speedup_at_least(name, ours, peer, unit, 3.0)
}

/// [`speedup`] with its own target ratio.
fn speedup_at_least(
    name: String,
    ours: Vec<f64>,
    peer: Vec<f64>,
    unit: &'static str,
    target: f64,
) -> Figure {
    // Both sides ran in each run, one after the other: the ratio is taken
    // run by run.
    let ratio = Stat::ratio(&peer, &ours);
    Figure {
        section: "1",
        name,
        ours: Stat::of(&ours),
        unit,
        reference: Some(Stat::of(&peer)),
        ratio_of: "x86_64 ÷ ours",
        ratio: Some(ratio),
        target: Some(format!("≥ {target}×")),
        holds: Some(ratio.median >= target),
    }
}

/// Our memory: an `OffsetMemory` over a host buffer of `len` bytes.
fn offset_tables(len: u64) -> PageTables<X86_64, OffsetMemory> {
    let mem = OffsetMemory::new_host(PhysAddr(TABLE_PHYS), len).expect("host memory");
    PageTables::new(X86_64::FOUR_LEVEL, mem).expect("kernel root")
}

pub(crate) fn edit<A: Arch, M: TableMemory>(
    pt: &PageTables<A, M>,
    f: impl FnOnce(&mut pgtable::KernelEdit<'_, '_, A, M>),
) {
    let mut k = pt.kernel();
    let _ = k.edit(f);
}

/// Parts 1 and 2: map and unmap against `x86_64::OffsetPageTable`, and the
/// plain write loop.
pub fn map_unmap(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let bytes = s.map_bytes;
    let n4k = bytes / 4096;
    let n2m = bytes >> 21;
    // Tables for the 4 KiB mapping, with room to spare; the same for both.
    let len = (n4k / 512 + n4k / (512 * 512) + 64) * 4096;
    let pt = offset_tables(len);
    let region = HostRegion::new(TABLE_PHYS, len);
    let mut peer = Peer::new(&region);
    let frames: Vec<PhysAddr> = (0..n4k).map(|i| PhysAddr(DATA_PA + i * 4096)).collect();
    let leaf = X86_64::FOUR_LEVEL.encode_leaf(Level::Pte, PhysAddr(0), Prot::KERNEL);
    assert_eq!(leaf & 0xfff, FLAGS.bits() & 0xfff | (1 << 5) | (1 << 6));

    let mut r: [Vec<Duration>; 11] = Default::default();
    for run in 0..=s.runs {
        // Run 0 warms caches and faults every page in; it is not counted.
        let mut t = [Duration::ZERO; 11];
        t[0] = time(|| {
            edit(&pt, |e| {
                e.vmap_range(
                    VirtAddr(VA),
                    PhysAddr(DATA_PA),
                    bytes,
                    Prot::KERNEL,
                    PageSize::Base,
                )
                .unwrap()
            })
        });
        t[1] = time(|| {
            edit(&pt, |e| {
                e.vunmap_range(VirtAddr(VA), bytes).unwrap().ignore()
            })
        });
        t[2] = time(|| {
            edit(&pt, |e| {
                e.vmap_pages(VirtAddr(VA), &frames, Prot::KERNEL).unwrap()
            })
        });
        edit(&pt, |e| {
            e.vunmap_range(VirtAddr(VA), bytes).unwrap().ignore()
        });
        peer.reset();
        t[3] = time(|| peer.map_4k(VA, DATA_PA, n4k));
        t[4] = time(|| peer.unmap_4k(VA, n4k));
        // With 2 MiB leaves one call takes microseconds, too short to time
        // once: each figure is the mean of HUGE_REPS map/unmap cycles.
        for _ in 0..HUGE_REPS {
            t[5] += time(|| {
                edit(&pt, |e| {
                    e.vmap_range(
                        VirtAddr(VA),
                        PhysAddr(DATA_PA),
                        bytes,
                        Prot::KERNEL,
                        PageSize::Pmd,
                    )
                    .unwrap()
                })
            });
            t[6] += time(|| {
                edit(&pt, |e| {
                    e.vunmap_range(VirtAddr(VA), bytes).unwrap().ignore()
                })
            });
        }
        peer.reset();
        for _ in 0..HUGE_REPS {
            t[7] += time(|| peer.map_2m(VA, DATA_PA, n2m));
            t[8] += time(|| peer.unmap_2m(VA, n2m));
        }
        for d in &mut t[5..=8] {
            *d /= HUGE_REPS;
        }
        let words = &mut region.words()[..n4k as usize];
        t[9] = store_loop(words, leaf);
        // For information: the same loop as the compiler vectorizes it.
        t[10] = time(|| {
            for (i, w) in words.iter_mut().enumerate() {
                *w = (DATA_PA + ((i as u64) << 12)) | leaf;
            }
            black_box(&mut *words);
        });
        words.fill(0);
        if run > 0 {
            for (acc, v) in r.iter_mut().zip(t) {
                acc.push(v);
            }
            progress(&format!(
                "  run {run}: 4K map {:.1} ms (x86_64 {:.1} ms), unmap {:.1} ms (x86_64 {:.1} ms)",
                t[0].as_secs_f64() * 1e3,
                t[3].as_secs_f64() * 1e3,
                t[1].as_secs_f64() * 1e3,
                t[4].as_secs_f64() * 1e3
            ));
        }
    }
    let sz = size_name(bytes);
    let per_pte = |v: &[Duration]| -> Vec<f64> {
        v.iter()
            .map(|d| d.as_secs_f64() * 1e9 / n4k as f64)
            .collect()
    };
    let (ours_pte, loop_pte, simd_pte) = (per_pte(&r[0]), per_pte(&r[9]), per_pte(&r[10]));
    let limit = Stat::ratio(&ours_pte, &loop_pte);
    vec![
        speedup_at_least(
            format!("map {sz}, 4 KiB: vmap_range vs map_to"),
            ms(&r[0]),
            ms(&r[3]),
            "ms",
            8.0,
        ),
        speedup(
            format!("map {sz}, 4 KiB: vmap_pages vs map_to"),
            ms(&r[2]),
            ms(&r[3]),
            "ms",
        ),
        speedup(
            format!("unmap {sz}, 4 KiB: vunmap_range vs unmap"),
            ms(&r[1]),
            ms(&r[4]),
            "ms",
        ),
        speedup(
            format!("map {sz}, 2 MiB: vmap_range vs map_to"),
            us(&r[5]),
            us(&r[7]),
            "µs",
        ),
        speedup(
            format!("unmap {sz}, 2 MiB: vunmap_range vs unmap"),
            us(&r[6]),
            us(&r[8]),
            "µs",
        ),
        Figure {
            section: "2",
            name: "per 4 KiB PTE: vmap_range vs plain loop of 8-byte stores".into(),
            ours: Stat::of(&ours_pte),
            unit: "ns",
            reference: Some(Stat::of(&loop_pte)),
            ratio_of: "ours ÷ loop",
            ratio: Some(limit),
            target: Some("≤ 2×".into()),
            holds: Some(limit.median <= 2.0),
        },
        Figure {
            section: "2",
            name: "  (information) vs the loop vectorized to 32-byte stores".into(),
            ours: Stat::of(&ours_pte),
            unit: "ns",
            reference: Some(Stat::of(&simd_pte)),
            ratio_of: "ours ÷ loop",
            ratio: Some(Stat::ratio(&ours_pte, &simd_pte)),
            target: None,
            holds: None,
        },
    ]
}

/// The limit of any map of 4 KiB pages: one 8-byte store per entry into
/// `words`, as `WRITE_ONCE()`/`set_pte()` writes an entry (an entry is never
/// written in pieces), leaf `i` mapping `DATA_PA + i * 4 KiB` with the bits
/// `leaf`. Timed, then `words` zeroed again.
pub(crate) fn store_loop(words: &mut [u64], leaf: u64) -> Duration {
    let t = time(|| {
        for (i, w) in words.iter_mut().enumerate() {
            // SAFETY: `w` is a valid, aligned `u64` of the slice.
            unsafe { std::ptr::write_volatile(w, (DATA_PA + ((i as u64) << 12)) | leaf) };
        }
    });
    words.fill(0);
    t
}

/// A buffer twice the size of this machine's last-level cache (32 MiB),
/// written line by line before each timed part of the sync figures: each
/// part starts with the roots' lines out of the caches, so the sync and its
/// store-loop reference both pay the memory's price, and neither inherits
/// the lines the other just brought in.
pub(crate) struct Evict(Vec<u64>);

impl Evict {
    pub(crate) fn new() -> Evict {
        Evict(vec![0; (64 << 20) / 8])
    }

    pub(crate) fn sweep(&mut self) {
        for w in self.0.iter_mut().step_by(8) {
            *w = w.wrapping_add(1);
        }
        black_box(&mut self.0);
    }
}

/// Address of top-level kernel slot `slot` (4-level).
pub(crate) fn slot_va(slot: u64) -> u64 {
    0xffff_0000_0000_0000 | (slot << 39)
}

/// Parts 3 and 4: populate a new top-level slot with N registered spaces,
/// eager against preallocated; create and destroy the spaces.
pub fn sync_at_scale(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let max = *s.spaces.last().expect("space counts");
    // A root per space, and the tables of the maps below.
    let pt = offset_tables((max as u64 + 2048) * 4096);
    // Slots 384..512 are preallocated; 257..384 are left for eager populates.
    edit(&pt, |e| {
        e.preallocate(VirtAddr(slot_va(384)), VirtAddr(u64::MAX))
            .unwrap();
    });
    let mut eager_slot = 257;
    let mut prealloc_slot = 384;
    let mut spaces = Vec::with_capacity(max);
    let mut create_first = Duration::ZERO;
    let mut figs = Vec::new();
    let mut per_space = Vec::new();
    let mut cold = Evict::new();
    let mut vs_ref_by_size = Vec::new();
    for &n in s.spaces {
        create_first += time(|| {
            while spaces.len() < n {
                spaces.push(pt.create_space().unwrap());
            }
        });
        let (mut eager, mut pre, mut reference) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..=s.runs {
            let va = slot_va(eager_slot);
            // The reference: one 8-byte store into the slot this populate
            // is about to sync, in each registered root's page (the words
            // the sync writes). It stores the zero already there, so the
            // tables are unchanged; a kernel writes an entry with one store
            // (`WRITE_ONCE()`), and the library's memory with a release
            // store, as here.
            let slot_words: Vec<&AtomicU64> = spaces
                .iter()
                .map(|sp| {
                    let words = pt.mem().table_words(sp.root()).expect("root in memory");
                    &words[eager_slot as usize]
                })
                .collect();
            eager_slot += 1;
            // Storing zero leaves the tables unchanged only where zero is.
            assert!(slot_words.iter().all(|w| w.load(Ordering::Acquire) == 0));
            cold.sweep();
            let tr = time(|| {
                for w in &slot_words {
                    w.store(0, Ordering::Release);
                }
            });
            cold.sweep();
            let te = time(|| {
                edit(&pt, |e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(DATA_PA),
                        4096,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                    .unwrap();
                });
            });
            // The words the reference stored into are the ones the sync
            // just wrote.
            assert!(
                slot_words.iter().all(|w| w.load(Ordering::Acquire) != 0),
                "the reference's slot is the synced one"
            );
            drop(slot_words);
            let va = slot_va(prealloc_slot);
            prealloc_slot += 1;
            cold.sweep();
            let tp = time(|| {
                edit(&pt, |e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(DATA_PA),
                        4096,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                    .unwrap();
                });
            });
            if run > 0 {
                eager.push(te.as_secs_f64() * 1e6);
                pre.push(tp.as_secs_f64() * 1e6);
                reference.push(tr.as_secs_f64() * 1e9 / n as f64);
            }
        }
        assert!(pt.first_out_of_sync().is_none(), "every root synced");
        let (e, p) = (median(eager.clone()), median(pre.clone()));
        let per_run = eager
            .iter()
            .zip(&pre)
            .map(|(e, p)| ((e - p) * 1e3 / n as f64).max(0.0))
            .collect::<Vec<_>>();
        let per_stat = Stat::of(&per_run);
        let per = per_stat.median;
        per_space.push((n, per));
        let vs_ref = Stat::ratio(&per_run, &reference);
        vs_ref_by_size.push((n, vs_ref.median));
        progress(&format!(
            "  {n} spaces: eager {e:.1} µs, preallocated {p:.1} µs, {per:.1} ns per space \
             (store loop {:.1} ns per space)",
            median(reference.clone())
        ));
        figs.push(Figure {
            section: "3",
            name: format!("new top-level slot, {n} spaces: eager vs preallocated"),
            ours: Stat::of(&eager),
            unit: "µs",
            reference: Some(Stat::of(&pre)),
            ratio_of: "eager ÷ prealloc",
            ratio: Some(Stat::ratio(&eager, &pre)),
            target: None,
            holds: None,
        });
        let big = n >= 10_000;
        figs.push(Figure {
            section: "3",
            name: format!("  sync cost per space, {n} spaces"),
            ours: per_stat,
            unit: "ns",
            reference: None,
            ratio_of: "",
            ratio: None,
            target: big.then(|| "< 50 ns".into()),
            holds: big.then_some(per < 50.0),
        });
        figs.push(Figure {
            section: "3",
            name: format!("  sync per space vs one store per root, {n} spaces"),
            ours: per_stat,
            unit: "ns",
            reference: Some(Stat::of(&reference)),
            ratio_of: "sync ÷ store loop",
            ratio: Some(vs_ref),
            target: big.then(|| "≤ 1.5×".into()),
            holds: big.then_some(vs_ref.median <= 1.5),
        });
    }
    if let [.., (n1, p1), (n2, p2)] = per_space[..] {
        let lin = p2 / p1;
        figs.push(Figure {
            section: "3",
            name: format!("  linearity: per-space cost at {n2} ÷ at {n1}"),
            ours: Stat::exact(lin),
            unit: "×",
            reference: None,
            ratio_of: "",
            ratio: Some(Stat::exact(lin)),
            target: Some("≤ 1.5× (linear)".into()),
            holds: Some(lin <= 1.5),
        });
    }
    // The same against the memory: the store loop slows down with N as the
    // roots outgrow the caches and the TLB, and the sync may with it.
    if let [.., (n1, r1), (n2, r2)] = vs_ref_by_size[..] {
        let lin = r2 / r1;
        figs.push(Figure {
            section: "3",
            name: format!("  linearity against the store loop: (sync ÷ loop) at {n2} ÷ at {n1}"),
            ours: Stat::exact(lin),
            unit: "×",
            reference: None,
            ratio_of: "",
            ratio: Some(Stat::exact(lin)),
            target: Some("≤ 1.5× (linear)".into()),
            holds: Some(lin <= 1.5),
        });
    }

    // Part 4: destroy and create every space again, `runs` times.
    let (mut creates, mut destroys) = (Vec::new(), Vec::new());
    let _ = create_first;
    // The memory's part of a create: every new root is a 4 KiB page zeroed
    // (and then partly written). Zeroing as many pages as there are spaces,
    // interleaved with the creates, is the rate no create can pass.
    let mut pages = vec![1u64; max * 512];
    let mut zeroings = Vec::new();
    for _ in 0..s.runs {
        zeroings.push(time(|| {
            for page in pages.chunks_exact_mut(512) {
                page.fill(0);
            }
            black_box(&mut pages);
        }));
        destroys.push(time(|| {
            for sp in spaces.drain(..) {
                pt.destroy_space(sp).expect("own space").ignore();
            }
        }));
        creates.push(time(|| {
            for _ in 0..max {
                spaces.push(pt.create_space().unwrap());
            }
        }));
    }
    assert!(pt.first_out_of_sync().is_none());
    for sp in spaces.drain(..) {
        pt.destroy_space(sp).expect("own space").ignore();
    }
    let rate = |v: &[Duration]| -> Vec<f64> {
        v.iter()
            .map(|d| max as f64 / d.as_secs_f64() / 1e6)
            .collect()
    };
    let (cs, ds) = (Stat::of(&rate(&creates)), Stat::of(&rate(&destroys)));
    let (c, d) = (cs.median, ds.median);
    progress(&format!("  create {c:.2} M/s, destroy {d:.2} M/s"));
    figs.push(Figure {
        section: "4",
        name: format!("create address space (clone kernel half), {max} spaces"),
        ours: cs,
        unit: "M/s",
        reference: None,
        ratio_of: "",
        ratio: None,
        target: Some("≥ 2 M/s".into()),
        holds: Some(c >= 2.0),
    });
    let zs = Stat::of(&rate(&zeroings));
    figs.push(Figure {
        section: "4",
        name: format!("  (information) vs zeroing one 4 KiB page per space, {max} pages"),
        ours: cs,
        unit: "M/s",
        reference: Some(zs),
        ratio_of: "create ÷ zeroing",
        ratio: Some(Stat::ratio(&rate(&creates), &rate(&zeroings))),
        target: None,
        holds: None,
    });
    figs.push(Figure {
        section: "4",
        name: format!("destroy address space, {max} spaces"),
        ours: ds,
        unit: "M/s",
        reference: None,
        ratio_of: "",
        ratio: None,
        target: None,
        holds: None,
    });
    figs
}

/// Fewest table pages that map `start..end` with leaves of `leaf` level, in
/// top-level slots that hold nothing yet.
fn min_tables(arch: &X86_64, start: u64, end: u64, leaf: Level) -> u64 {
    let top = arch.top_level();
    let mut n = 0;
    let mut level = top;
    while level != leaf {
        let parent_shift = arch.level_shift(level);
        level = level.next().expect("leaf below the top");
        if !arch.is_folded(level) {
            n += ((end - 1) >> parent_shift) - (start >> parent_shift) + 1;
        }
    }
    n
}

/// Part 5: hot-add memory (direct map in 1 GiB leaves, vmemmap in 2 MiB
/// blocks backed from the added memory) on the sparse backend.
pub fn hotplug(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let arch = X86_64::FOUR_LEVEL;
    let layout = SimLayout::new(arch);
    let size = s.hotplug_bytes;
    const PMD: u64 = 2 << 20;
    let (mut times, mut used) = (Vec::new(), 0);
    let (dm_s, dm_e) = (layout.va(HOTPLUG_BASE), layout.va(HOTPLUG_BASE + size));
    let (vm_s, vm_e) = (layout.page(HOTPLUG_BASE), layout.page(HOTPLUG_BASE + size));
    let minimum =
        min_tables(&arch, dm_s, dm_e, Level::Pud) + min_tables(&arch, vm_s, vm_e, Level::Pmd);
    for run in 0..=s.runs {
        let mem = SparseMemory::new(PhysAddr(TABLE_FRAMES.start)..PhysAddr(TABLE_FRAMES.end));
        let pt = PageTables::new(arch, mem).unwrap();
        // Boot memory and a few processes, as on the simulated machine.
        edit(&pt, |e| {
            e.vmap_range(
                VirtAddr(layout.va(0)),
                PhysAddr(0),
                BOOT_RAM,
                Prot::KERNEL,
                PageSize::Pud,
            )
            .unwrap();
            let n = BOOT_RAM / 4096 * STRUCT_PAGE_SIZE;
            e.vmap_range(
                VirtAddr(layout.page(0)),
                PhysAddr(BOOT_RAM - n),
                n,
                Prot::KERNEL,
                PageSize::Pmd,
            )
            .unwrap();
        });
        let spaces: Vec<_> = (0..100).map(|_| pt.create_space().unwrap()).collect();
        let before = pt.mem().tables_in_use();
        let t = time(|| {
            edit(&pt, |e| {
                e.vmap_range(
                    VirtAddr(dm_s),
                    PhysAddr(HOTPLUG_BASE),
                    size,
                    Prot::KERNEL,
                    PageSize::Pud,
                )
                .unwrap();
            });
            edit(&pt, |e| {
                // vmemmap_populate_hugepages(): one 2 MiB block at a time,
                // backed by the start of the added memory (an altmap).
                for (i, block) in (vm_s..vm_e).step_by(PMD as usize).enumerate() {
                    let frame = PhysAddr(HOTPLUG_BASE + i as u64 * PMD);
                    e.vmap_range(VirtAddr(block), frame, PMD, Prot::KERNEL, PageSize::Pmd)
                        .unwrap();
                }
            });
        });
        used = pt.mem().tables_in_use() - before;
        assert!(pt.first_out_of_sync().is_none());
        assert!(pt.translate(spaces[0].root(), VirtAddr(dm_e - 1)).is_some());
        for sp in spaces {
            pt.destroy_space(sp).expect("own space").ignore();
        }
        if run > 0 {
            times.push(t.as_secs_f64() * 1e3);
        }
    }
    let ts = Stat::of(&times);
    let t = ts.median;
    let over = used as f64 / minimum as f64;
    progress(&format!(
        "  {} in {t:.2} ms, {used} table pages (minimum {minimum})",
        size_name(size)
    ));
    vec![
        Figure {
            section: "5",
            name: format!("hotplug {}: direct map + vmemmap (sparse)", size_name(size)),
            ours: ts,
            unit: "ms",
            reference: None,
            ratio_of: "",
            ratio: None,
            target: Some("< 1000 ms".into()),
            holds: Some(t < 1000.0),
        },
        Figure {
            section: "5",
            name: format!("  table pages used (minimum {minimum})"),
            ours: Stat::exact(used as f64),
            unit: "pages",
            reference: Some(Stat::exact(minimum as f64)),
            ratio_of: "used ÷ minimum",
            ratio: Some(Stat::exact(over)),
            target: Some("≤ 1.01×".into()),
            holds: Some(over <= 1.01),
        },
    ]
}

/// Part 6: software-MMU translations per second, with and without the TLB.
pub fn mmu(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let arch = X86_64::FOUR_LEVEL;
    let mem = SparseMemory::new(PhysAddr(TABLE_FRAMES.start)..PhysAddr(TABLE_FRAMES.end));
    let pt = PageTables::new(arch, mem).unwrap();
    const PAGES: u64 = 4096;
    edit(&pt, |e| {
        e.vmap_range(
            VirtAddr(VA),
            PhysAddr(DATA_PA),
            PAGES * 4096,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap();
    });
    let bus = pgtable_sim::Bus(pt.mem());
    let root = pt.kernel_root().0;
    let mmu = X86Mmu::new();
    // A fixed pseudo-random page order (an odd stride modulo a power of two).
    let va = |i: u64| VA + ((i * 2_654_435_761) % PAGES) * 4096 + (i & 0xff8);
    let n = s.translations;
    let (mut walk, mut tlb) = (Vec::new(), Vec::new());
    let mut cpu = Cpu::new(mmu, root);
    for run in 0..=s.runs {
        let tw = time(|| {
            for i in 0..n {
                black_box(mmu.translate(&bus, root, va(i), Access::Read, Mode::Supervisor))
                    .unwrap();
            }
        });
        let tt = time(|| {
            for i in 0..n {
                black_box(cpu.access(&bus, va(i), Access::Read, Mode::Supervisor)).unwrap();
            }
        });
        if run > 0 {
            walk.push(n as f64 / tw.as_secs_f64() / 1e6);
            tlb.push(n as f64 / tt.as_secs_f64() / 1e6);
        }
    }
    let (w, t) = (median(walk.clone()), median(tlb.clone()));
    progress(&format!("  {w:.2} M/s walking, {t:.2} M/s through the TLB"));
    vec![Figure {
        section: "6",
        name: format!("software MMU translations, {PAGES} pages: with TLB vs walk only"),
        ours: Stat::of(&tlb),
        unit: "M/s",
        reference: Some(Stat::of(&walk)),
        ratio_of: "TLB ÷ walk",
        ratio: Some(Stat::ratio(&tlb, &walk)),
        target: None,
        holds: None,
    }]
}
