#![no_std]
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;
// loom's locks and atomics, which `sync` swaps in for the loom model, need
// std; every other build is `no_std`.
#[cfg(loom)]
extern crate std;

// Layers, each using only those above it in this list: the bottom types
// (addr, prot, mask, error, page_size), the paging modes (arch, activate),
// table memory, the walk engine, TLB flushes, the vmalloc layer, the
// address spaces, and the users of all of it (mm, ptdump).
mod activate;
pub mod addr;
pub mod arch;
mod args;
mod error;
mod level;
mod mask;
pub mod memory;
pub mod mm;
mod page_size;
mod prot;
pub mod ptdump;
mod space;
mod sync;
mod tlb;
mod vmalloc;
mod walk;

pub use activate::Activation;
pub use addr::{PhysAddr, VirtAddr, PAGE_SIZE};
pub use arch::{
    arm32::Arm32,
    arm64::Arm64,
    riscv64::{Riscv64, SvMode},
    x86_32::X86_32,
    x86_64::X86_64,
    Arch, Decoded, EntryFormat, KernelPolicy, Level, PagingGeometry,
};
pub use error::{Error, Refused, Result};
pub use mask::SyncMask;
pub use memory::{
    DirectMap, FaultInjector, FrameAllocator, MemoryError, OffsetMemory, RawAccess, SparseMemory,
    TableMemory,
};
pub use mm::{FrameSource, KernelEditor};
pub use page_size::PageSize;
pub use prot::{Access, CacheMode, Prot};
#[cfg(loom)]
#[doc(hidden)]
pub use space::LoomBug;
pub use space::{
    AddressSpace, EditPolicy, KernelEdit, KernelSpace, Legacy, LegacyEdit, PageTables, PteMap,
    SyncOutcome, SyncPolicy, SyncReport, SyncStats, Tracked, UserSpace, Walked,
};
pub use space::{KernelTable, SharedTable, UserPteTable, UserTable};
pub use sync::DefaultLock;
pub use tlb::{FlushRange, FlushScope, FlushTlb, TlbFlush};
pub use vmalloc::VmapAreas;
pub use walk::{EntryPtr, Mapping, MAX_SHARED_TABLES};
