//! `pgtable bench`: the library's page-table walks measured side by side with
//! the `x86_64` crate, the memory-write limit, the sync at scale against a
//! store into each root, address space churn, a 1 TiB memory hotplug, the
//! software MMU, and the walks against `aarch64-paging` and
//! `page_table_multiarch` on arm64, x86-64, Sv39 and Sv48.
//!
//! [`run`] measures everything and returns a [`BenchReport`]; each figure
//! carries its median over [`BenchOptions::runs`] runs, a ratio against its
//! reference, its target and whether the target holds.

#![deny(clippy::undocumented_unsafe_blocks)]

mod arches;
mod first_touch;
mod peer;
mod peer_arm64;
mod peer_multiarch;
mod report;
mod sections;

pub use report::{BenchReport, Figure, Stat};

/// The peers as the benchmark drives them, for `examples/icount.rs`'s
/// instruction counts; not a stable interface.
#[doc(hidden)]
pub mod peers {
    pub use crate::peer::{HostRegion, Peer, PeerTables};
    pub use crate::peer_arm64::Arm64Peer;
    pub use crate::peer_multiarch::{Arm64Shape, MultiPeer, Shape, Sv39Shape};
    pub use page_table_multiarch::x86_64::X64PagingMetaData;
}

/// The cargo profile this benchmark was built with (its target directory's
/// name: `bench-fair`, `release`, `debug`, …).
pub const BUILD_PROFILE: &str = env!("PGTABLE_BENCH_PROFILE_DIR");

/// The profile whose build is fair to both sides: `[profile.bench-fair]` in
/// the workspace manifest (fat LTO, one codegen unit).
pub const FAIR_PROFILE: &str = "bench-fair";

/// Whether this build is the fair one.
pub fn fair_build() -> bool {
    BUILD_PROFILE == FAIR_PROFILE
}

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Small sizes and one run: finishes in seconds (CI).
    pub quick: bool,
    /// Runs per figure; the median is reported. Ignored (1) when `quick`.
    pub runs: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            quick: false,
            runs: 5,
        }
    }
}

/// The sizes one run measures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// Bytes mapped and unmapped against the peer.
    pub map_bytes: u64,
    /// Address-space counts of the sync figures.
    pub spaces: &'static [usize],
    /// Bytes of memory hot-added.
    pub hotplug_bytes: u64,
    /// Translations per MMU figure.
    pub translations: u64,
    pub runs: usize,
}

impl Sizes {
    fn of(opts: &BenchOptions) -> Sizes {
        if opts.quick {
            Sizes {
                map_bytes: 64 << 20,
                spaces: &[1, 100, 1_000, 10_000],
                hotplug_bytes: 64 << 30,
                translations: 200_000,
                runs: 1,
            }
        } else {
            Sizes {
                map_bytes: 1 << 30,
                spaces: &[1, 100, 10_000, 100_000],
                hotplug_bytes: 1 << 40,
                translations: 2_000_000,
                runs: opts.runs.max(1),
            }
        }
    }
}

/// Measure every figure. `progress` gets one line per step.
pub fn run(opts: &BenchOptions, progress: &mut dyn FnMut(&str)) -> BenchReport {
    let sizes = Sizes::of(opts);
    let mut figures = Vec::new();
    progress("map/unmap against x86_64::OffsetPageTable, and the plain write loop");
    figures.extend(sections::map_unmap(&sizes, progress));
    progress("sync at scale");
    figures.extend(sections::sync_at_scale(&sizes, progress));
    progress("SparseMemory's first touch and the first sync after many creates");
    figures.extend(first_touch::first_touch(&sizes, progress));
    progress("1 TiB hotplug");
    figures.extend(sections::hotplug(&sizes, progress));
    progress("software MMU");
    figures.extend(sections::mmu(&sizes, progress));
    progress("map/unmap against aarch64-paging and page_table_multiarch; x86-64 5-level");
    figures.extend(arches::other_peers(&sizes, progress));
    BenchReport {
        quick: opts.quick,
        runs: sizes.runs,
        profile: BUILD_PROFILE,
        fair: fair_build(),
        figures,
    }
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "median of no runs");
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
