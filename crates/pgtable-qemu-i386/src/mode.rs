//! The library's paging mode of this image, chosen by cargo features, and
//! what follows from it alone (below `machine` and `bus`, which both use
//! it).

use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;

#[cfg(not(feature = "pae"))]
const BASE: X86_32 = X86_32::TWO_LEVEL;
#[cfg(all(feature = "pae", not(feature = "pae-unshared")))]
const BASE: X86_32 = X86_32::PAE;
#[cfg(feature = "pae-unshared")]
const BASE: X86_32 = X86_32::PAE_UNSHARED_PMD;

/// The library's mode for this image.
#[cfg(not(feature = "highpte"))]
pub const ARCH: X86_32 = BASE;
#[cfg(feature = "highpte")]
pub const ARCH: X86_32 = BASE.with_highpte();

/// The PMD-level leaf: 4 MiB without PAE, 2 MiB with.
pub const LEAF_SHIFT: u32 = if cfg!(feature = "pae") { 21 } else { 22 };
pub const LEAF_SIZE: u64 = 1 << LEAF_SHIFT;

/// Where the window onto high memory starts: the pkmap area
/// (`PKMAP_BASE`), mapping physical `[LOWMEM_END, LOWMEM_END +
/// HIGH_WINDOW)`.
pub fn high_window_va() -> u64 {
    ARCH.layout().get(RegionKind::Pkmap).map_or(0, |r| r.start)
}
