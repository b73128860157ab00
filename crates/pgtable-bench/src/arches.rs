//! Part 7: map/unmap against the peers of the other architectures, and the
//! modes no peer has (x86-64 5-level).
//!
//! Each pairing is the work of part 1 (map `map_bytes` of 4 KiB pages in one
//! call, unmap it; the same with 2 MiB leaves, mean of [`HUGE_REPS`]
//! cycles) on both sides, ours and the peer one after the other in each run,
//! the ratio taken run by run. Both sides' tables live in a host buffer at
//! the same fake physical address ([`TABLE_PHYS`]); each peer starts every
//! run from an empty root, as the `x86_64` peer does. The 2 MiB figures map
//! physical memory 2 MiB past a 1 GiB boundary, so that no side can use a
//! 1 GiB leaf (both peers pick the largest leaf that fits).

use crate::peer::{HostRegion, PeerTables};
use crate::peer_arm64::Arm64Peer;
use crate::peer_multiarch::{Arm64Shape, MultiPeer, Shape, Sv39Shape, Sv48Shape};
use crate::{Figure, Sizes, Stat};
use page_table_multiarch::x86_64::X64PagingMetaData;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{Arch, Level, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, X86_64};
use std::time::{Duration, Instant};

/// Fake physical address of the table memory (both sides).
const TABLE_PHYS: u64 = 1 << 32;
/// Physical addresses mapped (never dereferenced).
const DATA_PA: u64 = 0x40_0000_0000;
/// Map/unmap cycles averaged for each 2 MiB-leaf figure.
const HUGE_REPS: u32 = 64;

/// Our tables of one mode over `OffsetMemory`, with where they map.
struct Ours<A: Arch> {
    pt: PageTables<A, OffsetMemory>,
    va: u64,
}

impl<A: Arch> Ours<A> {
    fn new(arch: A, len: u64) -> Ours<A> {
        let vmalloc = arch
            .layout()
            .get(RegionKind::Vmalloc)
            .expect("a vmalloc area");
        let va = vmalloc.start.next_multiple_of(1 << 30);
        let mem = OffsetMemory::new_host(PhysAddr(TABLE_PHYS), len).expect("host memory");
        Ours {
            pt: PageTables::new(arch, mem).expect("kernel root"),
            va,
        }
    }

    fn edit(&self, f: impl FnOnce(&mut pgtable::KernelEdit<'_, '_, A, OffsetMemory>)) {
        let mut k = self.pt.kernel();
        let _ = k.edit(f);
    }
}

/// Ours as the reference of another mode of ours (5-level against 4-level).
impl<A: Arch> PeerTables for Ours<A> {
    const NAME: &'static str = "ours, 4-level";
    const RATIO_OF: &'static str = "4-level ÷ 5-level";
    const MAP: &'static str = "vmap_range";
    const UNMAP: &'static str = "vunmap_range";

    fn reset(&mut self) {}

    fn map(&mut self, _va: u64, pa: u64, bytes: u64, huge: bool) {
        let (va, shift) = (self.va, if huge { PageSize::Pmd } else { PageSize::Base });
        self.edit(|e| {
            e.vmap_range(VirtAddr(va), PhysAddr(pa), bytes, Prot::KERNEL, shift)
                .unwrap()
        });
    }

    fn unmap(&mut self, _va: u64, bytes: u64) {
        let va = self.va;
        // Ignored like the peers' flushes: no table here is loaded.
        self.edit(|e| e.vunmap_range(VirtAddr(va), bytes).unwrap().ignore());
    }

    #[cfg(test)]
    fn leaf(&self, va: u64) -> Option<(u64, u64)> {
        let m = self.pt.translate(self.pt.kernel_root(), VirtAddr(va))?;
        Some((m.translate(VirtAddr(va)).0, m.size))
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// What [`one_run`] asks a side to do.
enum Op {
    /// Map from this physical address, 2 MiB leaves if `true`.
    Map(u64, bool),
    Unmap,
    /// Start from an empty root (untimed): before each part, as the `x86_64`
    /// peer of part 1 is reset before its 2 MiB cycles (the peers cannot put
    /// a 2 MiB leaf where a table of 4 KiB entries is left). Ours needs none.
    Reset,
}

/// One run of the four figures on one side: 4 KiB map and unmap, then the
/// mean of `HUGE_REPS` 2 MiB map/unmap cycles.
fn one_run(mut op: impl FnMut(Op)) -> [Duration; 4] {
    let mut t = [Duration::ZERO; 4];
    op(Op::Reset);
    t[0] = time(|| op(Op::Map(DATA_PA, false)));
    t[1] = time(|| op(Op::Unmap));
    op(Op::Reset);
    for _ in 0..HUGE_REPS {
        t[2] += time(|| op(Op::Map(DATA_PA + (1 << 30) + (2 << 20), true)));
        t[3] += time(|| op(Op::Unmap));
    }
    t[2] /= HUGE_REPS;
    t[3] /= HUGE_REPS;
    t
}

/// Bytes of table memory for `bytes` of 4 KiB pages, with room to spare.
fn table_bytes(bytes: u64) -> u64 {
    let ptes = bytes / 4096;
    (ptes / 512 + ptes / (512 * 512) + 256) * 4096
}

/// Ours on `arch` against `peer`, interleaved run by run. `judged`: whether
/// the figures carry the targets (≥ 8× on 4 KiB `vmap_range`, ≥ 3×
/// on the rest).
fn compare<A: Arch, P: PeerTables>(
    arch: A,
    mode: &str,
    peer: &mut P,
    judged: bool,
    s: &Sizes,
    progress: &mut dyn FnMut(&str),
) -> Vec<Figure> {
    let bytes = s.map_bytes;
    let ours = Ours::new(arch, table_bytes(bytes));
    let va = ours.va;
    let mut r: [Vec<f64>; 8] = Default::default();
    // The store loop over as many entries as the 4 KiB map writes: what no
    // map can beat, so the peer's time over it is the most any map of 4 KiB
    // pages can be ahead of the peer.
    let mut words = vec![0u64; (bytes / 4096) as usize];
    let leaf = arch.encode_leaf(Level::Pte, PhysAddr(0), Prot::KERNEL);
    let mut stores = Vec::new();
    let mut one_leaf = Vec::new();
    for run in 0..=s.runs {
        // Run 0 warms caches and faults every page in; it is not counted.
        let o = one_run(|op| match op {
            Op::Map(pa, huge) => ours_map(&ours, pa, bytes, huge),
            Op::Unmap => ours.edit(|e| e.vunmap_range(VirtAddr(va), bytes).unwrap().ignore()),
            Op::Reset => {}
        });
        let p = one_run(|op| match op {
            Op::Map(pa, huge) => peer.map(va, pa, bytes, huge),
            Op::Unmap => peer.unmap(va, bytes),
            Op::Reset => peer.reset(),
        });
        let l = crate::sections::store_loop(&mut words, leaf);
        let one = one_leaf_unmap(&ours);
        if run > 0 {
            for (i, d) in o.iter().chain(&p).enumerate() {
                r[i].push(d.as_secs_f64() * 1e6);
            }
            stores.push(l.as_secs_f64() * 1e3);
            one_leaf.push(one.as_secs_f64() * 1e6);
            progress(&format!(
                "  {mode} run {run}: 4K map {:.2} ms ({} {:.2} ms), unmap {:.2} ms ({:.2} ms)",
                o[0].as_secs_f64() * 1e3,
                P::NAME,
                p[0].as_secs_f64() * 1e3,
                o[1].as_secs_f64() * 1e3,
                p[1].as_secs_f64() * 1e3
            ));
        }
    }
    let sz = crate::sections::size_name(bytes);
    let ms = |v: &[f64]| v.iter().map(|x| x / 1e3).collect::<Vec<_>>();
    let what = [
        (format!("map {sz}, 4 KiB"), "vmap_range", P::MAP, 8.0),
        (format!("unmap {sz}, 4 KiB"), "vunmap_range", P::UNMAP, 3.0),
        (format!("map {sz}, 2 MiB"), "vmap_range", P::MAP, 3.0),
        (format!("unmap {sz}, 2 MiB"), "vunmap_range", P::UNMAP, 3.0),
    ];
    let mut figs = Vec::new();
    for (i, (work, our_call, peer_call, target)) in what.into_iter().enumerate() {
        // The 4 KiB figures in ms, the 2 MiB ones in µs.
        let (ours, theirs, unit) = if i < 2 {
            (ms(&r[i]), ms(&r[i + 4]), "ms")
        } else {
            (r[i].clone(), r[i + 4].clone(), "µs")
        };
        let ratio = Stat::ratio(&theirs, &ours);
        let unmap = i % 2 == 1;
        let same_work = !unmap || P::UNMAP_CLEARS_ENTRIES;
        let judged = judged && same_work;
        let note = if same_work {
            ""
        } else {
            " (information: not the same work, it frees whole tables and leaves their entries)"
        };
        figs.push(Figure {
            section: "7",
            name: format!(
                "{mode}: {work}: {our_call} vs {} {peer_call}{note}",
                P::NAME
            ),
            ours: Stat::of(&ours),
            unit,
            reference: Some(Stat::of(&theirs)),
            ratio_of: P::RATIO_OF,
            ratio: Some(ratio),
            target: judged.then(|| format!("≥ {target}×")),
            holds: judged.then_some(ratio.median >= target),
        });
        if i == 0 {
            figs.push(Figure {
                section: "7",
                name: format!(
                    "  (information) one 8-byte store per entry vs {} {peer_call}: the \
                     most any map of 4 KiB pages can be ahead of it",
                    P::NAME
                ),
                ours: Stat::of(&stores),
                unit,
                reference: Some(Stat::of(&theirs)),
                ratio_of: "peer ÷ store loop",
                ratio: Some(Stat::ratio(&theirs, &stores)),
                target: None,
                holds: None,
            });
        }
    }
    // Ours alone: what an unmap call costs besides its leaves.
    figs.push(Figure {
        section: "7",
        name: format!(
            "  (information) {mode}: vunmap_range of one 2 MiB leaf vs of {}: the \
             call's cost besides its leaves",
            bytes >> 21
        ),
        ours: Stat::of(&one_leaf),
        unit: "µs",
        reference: Some(Stat::of(&r[3])),
        ratio_of: "one ÷ all",
        ratio: Some(Stat::ratio(&one_leaf, &r[3])),
        target: None,
        holds: None,
    });
    figs
}

/// Ours mapping two 2 MiB leaves and unmapping the first, `HUGE_REPS`
/// times: the mean time of that unmap, the part of every unmap call that
/// does not grow with its leaves (two walks from the root, the edit and its
/// flush; the vmap area's bookkeeping is left to the next call, the map). The second leaf keeps the table
/// from being freed (a scan of its 512 entries finds it at once), and is
/// unmapped untimed.
fn one_leaf_unmap<A: Arch>(ours: &Ours<A>) -> Duration {
    const M2: u64 = 2 << 20;
    let mut t = Duration::ZERO;
    for _ in 0..HUGE_REPS {
        ours_map(ours, DATA_PA + (1 << 30) + M2, 2 * M2, true);
        t += time(|| ours.edit(|e| e.vunmap_range(VirtAddr(ours.va), M2).unwrap().ignore()));
        ours.edit(|e| e.vunmap_range(VirtAddr(ours.va + M2), M2).unwrap().ignore());
    }
    t / HUGE_REPS
}

fn ours_map<A: Arch>(ours: &Ours<A>, pa: u64, bytes: u64, huge: bool) {
    let (va, shift) = (ours.va, if huge { PageSize::Pmd } else { PageSize::Base });
    ours.edit(|e| {
        e.vmap_range(VirtAddr(va), PhysAddr(pa), bytes, Prot::KERNEL, shift)
            .unwrap()
    });
}

fn multiarch<A: Arch, M: Shape>(
    arch: A,
    mode: &str,
    s: &Sizes,
    progress: &mut dyn FnMut(&str),
) -> Vec<Figure> {
    let region = HostRegion::new(TABLE_PHYS, table_bytes(s.map_bytes));
    let mut peer = MultiPeer::<M>::new(&region);
    compare(arch, mode, &mut peer, true, s, progress)
}

/// Part 7: every pairing, one after the other.
pub fn other_peers(s: &Sizes, progress: &mut dyn FnMut(&str)) -> Vec<Figure> {
    let mut figs = Vec::new();
    let arm64 = Arm64::VA_48;
    {
        let region = HostRegion::new(TABLE_PHYS, table_bytes(s.map_bytes));
        let mut peer = Arm64Peer::new(&region);
        figs.extend(compare(arm64, "arm64 48-bit", &mut peer, true, s, progress));
    }
    figs.extend(multiarch::<_, Arm64Shape>(
        arm64,
        "arm64 48-bit",
        s,
        progress,
    ));
    figs.extend(multiarch::<_, X64PagingMetaData>(
        X86_64::FOUR_LEVEL,
        "x86-64 4-level",
        s,
        progress,
    ));
    figs.extend(multiarch::<_, Sv39Shape>(
        Riscv64::SV39,
        "Sv39",
        s,
        progress,
    ));
    figs.extend(multiarch::<_, Sv48Shape>(
        Riscv64::SV48,
        "Sv48",
        s,
        progress,
    ));
    // No peer has 5-level tables (the `x86_64` crate maps 4 levels, and
    // `PageTable64` 3 or 4): ours against ours on 4 levels, for the cost of
    // the fifth.
    let mut four = Ours::new(X86_64::FOUR_LEVEL, table_bytes(s.map_bytes));
    figs.extend(compare(
        X86_64::FIVE_LEVEL,
        "x86-64 5-level",
        &mut four,
        false,
        s,
        progress,
    ));
    figs
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// Each side maps 4 KiB pages, then 2 MiB leaves (never 1 GiB ones) at
    /// the addresses the figures use, and unmaps them.
    fn does_the_timed_work<P: PeerTables>(p: &mut P, va: u64) {
        let bytes = 8 * MIB;
        p.reset();
        p.map(va, DATA_PA, bytes, false);
        for off in [0, 4096, 5 * MIB + 4096, bytes - 4096] {
            assert_eq!(p.leaf(va + off), Some((DATA_PA + off, 4096)), "{}", P::NAME);
        }
        p.unmap(va, bytes);
        assert_eq!(p.leaf(va), None, "{}", P::NAME);
        assert_eq!(p.leaf(va + bytes - 4096), None, "{}", P::NAME);
        p.reset();
        let pa = DATA_PA + (1 << 30) + 2 * MIB;
        p.map(va, pa, bytes, true);
        for off in [0, 2 * MIB + 4096, bytes - 4096] {
            let leaf = (pa + off, 2 * MIB);
            assert_eq!(p.leaf(va + off), Some(leaf), "{}", P::NAME);
        }
        p.unmap(va, bytes);
        assert_eq!(p.leaf(va + 2 * MIB), None, "{}", P::NAME);
    }

    /// `aarch64-paging` unmaps a range covering whole 2 MiB chunks by
    /// dropping their tables of 4 KiB entries, entries left as they were;
    /// the other sides clear entry by entry.
    #[test]
    fn aarch64_paging_unmap_frees_tables_whole() {
        let region = HostRegion::new(TABLE_PHYS, table_bytes(8 * MIB));
        let mut p = Arm64Peer::new(&region);
        let va = va_of(Arm64::VA_48);
        p.map(va, DATA_PA, 8 * MIB, false);
        assert!(p.freed_tables().is_empty());
        p.unmap(va, 8 * MIB);
        let freed = p.freed_tables();
        assert_eq!(freed.len(), 4, "one table per 2 MiB");
        for table in freed {
            let first = ((table - region.phys_base()) / 8) as usize;
            assert_ne!(region.words()[first], 0, "entries left in place");
        }
    }

    fn va_of<A: Arch>(arch: A) -> u64 {
        Ours::new(arch, 1 << 20).va
    }

    #[test]
    fn every_peer_does_the_timed_work() {
        let region = HostRegion::new(TABLE_PHYS, table_bytes(8 * MIB));
        let va = va_of(Arm64::VA_48);
        does_the_timed_work(&mut Arm64Peer::new(&region), va);
        does_the_timed_work(&mut MultiPeer::<Arm64Shape>::new(&region), va);
        let va = va_of(X86_64::FOUR_LEVEL);
        does_the_timed_work(&mut MultiPeer::<X64PagingMetaData>::new(&region), va);
        let va = va_of(Riscv64::SV39);
        does_the_timed_work(&mut MultiPeer::<Sv39Shape>::new(&region), va);
        let va = va_of(Riscv64::SV48);
        does_the_timed_work(&mut MultiPeer::<Sv48Shape>::new(&region), va);
        let mut ours = Ours::new(X86_64::FIVE_LEVEL, table_bytes(8 * MIB));
        let va = ours.va;
        does_the_timed_work(&mut ours, va);
    }
}
