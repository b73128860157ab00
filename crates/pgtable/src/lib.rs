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

mod activate;
pub mod addr;
pub mod arch;
mod error;
mod handle;
mod mask;
pub mod memory;
pub mod mm;
mod page_size;
mod pgalloc;
mod prot;
pub mod ptdump;
mod space;
mod sync;
mod tables;
mod tlb;
mod vmalloc;
mod walk;

pub use activate::Activation;
pub use addr::{PhysAddr, VirtAddr, PAGE_SIZE};
pub use arch::{x86_64::X86_64, Arch, Decoded, Level};
pub use error::{Error, Refused, Result};
pub use handle::{KernelTable, SharedTable, UserPteTable, UserTable, MAX_SHARED_TABLES};
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
    AddressSpace, KernelEdit, KernelSpace, LegacyEdit, PageTables, PteMap, SyncOutcome, SyncPolicy,
    SyncReport, SyncStats, UserSpace, Walked,
};
pub use sync::DefaultLock;
pub use tables::EntryPtr;
pub use tlb::{FlushRange, FlushScope, FlushTlb, TlbFlush};
pub use vmalloc::VmapAreas;
pub use walk::Mapping;
