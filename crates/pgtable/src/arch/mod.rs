//! Paging modes: what an architecture tells the rest of the library.
//!
//! Linux spreads this over `arch/*/include/asm/pgtable*.h`; here one value of
//! a type implementing [`Arch`] answers every question the walks, the
//! populate helpers and the sync ask. The value (not just the type) carries
//! the mode, so x86-64 can pick 4- or 5-level paging at run time as Linux
//! does with `pgtable_l5_enabled()`.
//!
//! The description comes in three parts, by role:
//!
//! - [`PagingGeometry`]: the levels, their widths and folding, the address
//!   widths and the canonical form (`PGDIR_SHIFT`, `PTRS_PER_*`,
//!   `pgtable-nop4d.h`);
//! - [`EntryFormat`]: how table and leaf entries are encoded and decoded
//!   (`pfn_pte()`, `pmd_populate()`, `pte_pgprot()`);
//! - [`KernelPolicy`]: the kernel's memory map, its sync rule
//!   (`ARCH_PAGE_TABLE_SYNC_MASK`), boot preallocation, and the register
//!   values that activate a set of tables.
//!
//! [`Arch`] is all three together; generic code asks for `A: Arch`.

pub mod arm32;
pub mod arm64;
mod entry;
mod geometry;
mod layout;
mod policy;
pub mod riscv64;
pub mod x86_32;
pub mod x86_64;

pub use crate::level::Level;
pub use entry::{Decoded, EntryFormat};
pub use geometry::{sign_extends, PagingGeometry};
pub use layout::{KernelLayout, Region, RegionKind};
pub use policy::{KernelPolicy, PtdumpFormat, SyncMethod};

/// A paging mode: its geometry, its entry format and the kernel's policy
/// for it. Implemented for every type that implements the three.
pub trait Arch:
    PagingGeometry + EntryFormat + KernelPolicy + Copy + Send + Sync + core::fmt::Debug + 'static
{
}

impl<T> Arch for T where
    T: PagingGeometry
        + EntryFormat
        + KernelPolicy
        + Copy
        + Send
        + Sync
        + core::fmt::Debug
        + 'static
{
}
