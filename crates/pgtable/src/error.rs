//! The one error type of the library.

use crate::addr::{PhysAddr, VirtAddr};
use core::fmt;

/// Why a page-table operation was refused or stopped.
///
/// Every public operation returns one of these instead of panicking. An
/// operation that fails part-way undoes the leaves it wrote, keeps the tables
/// it linked in (they stay reachable and accounted for) and still runs the
/// sync for what it populated, so no root is left half-synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An address or size is not a multiple of the page size, or of the leaf
    /// size the call needs (a 2 MiB leaf at a 4 KiB-aligned address).
    Misaligned(u64),
    /// A size of zero.
    EmptyRange,
    /// The range `start..start+size` passes the top of the address space.
    Wraps,
    /// The virtual address is not canonical for the paging mode.
    NonCanonical(VirtAddr),
    /// A user-half address given to a kernel mapping call.
    NotKernelAddress(VirtAddr),
    /// A kernel-half address given to a user mapping call.
    NotUserAddress(VirtAddr),
    /// A kernel mapping asked for user access, or a user mapping for global.
    BadProtection,
    /// A kernel mapping both writable and executable, without
    /// [`KernelEdit::allow_write_exec`](crate::KernelEdit::allow_write_exec).
    WriteAndExecute,
    /// The physical address is past what the architecture can encode.
    PhysTooLarge(PhysAddr),
    /// The entry handed to a raw walk helper is not the one of this
    /// address in these tables.
    ForeignEntry(VirtAddr),
    /// Something is already mapped at this address.
    AlreadyMapped(VirtAddr),
    /// Nothing is mapped at this address (unmap of a hole).
    NotMapped(VirtAddr),
    /// The range cuts through a huge leaf at this address.
    SplitsLeaf(VirtAddr),
    /// The table allocator has no frame left (`-ENOMEM`).
    OutOfMemory,
    /// No free virtual range of that size in the vmalloc area.
    NoVirtualSpace,
    /// The address space is still loaded somewhere or otherwise in use.
    Busy,
    /// The level is folded (or is the root) in this paging mode: it has no
    /// table of its own to allocate.
    FoldedLevel(crate::level::Level),
    /// An address space, table handle or shared table of another
    /// [`PageTables`](crate::PageTables): this one never touches it.
    Foreign,
    /// A table of entries of the first level was given where a table of the
    /// second is linked.
    WrongLevel {
        /// The level of the entries the table holds.
        table: crate::level::Level,
        /// The level of the entries the slot needs.
        needed: crate::level::Level,
    },
    /// The walk would write into, or free, a table that is linked under
    /// several entries ([`SharedTable`](crate::SharedTable)), here for this
    /// address.
    SharedTable(VirtAddr),
    /// The machine already has as many shared tables as it can track
    /// ([`MAX_SHARED_TABLES`](crate::MAX_SHARED_TABLES)).
    TooManySharedTables,
    /// A paging-mode parameter this library cannot build tables for.
    UnsupportedMode(&'static str),
    /// A sync found this many roots whose top-level kernel entry was
    /// present and different from the kernel's, and left them alone (the
    /// `BUG_ON()` of Linux's `sync_global_pgds()`).
    SyncMismatch(usize),
    /// [`PageTables::adopt`](crate::PageTables::adopt) met a table it cannot
    /// take over at this physical address: not a whole frame the memory
    /// holds, linked twice, with a leaf where the level allows none, or in
    /// the user half.
    BadTable(PhysAddr),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Misaligned(v) => write!(f, "{v:#x} is not aligned as this call requires"),
            Error::EmptyRange => f.write_str("empty range"),
            Error::Wraps => f.write_str("range wraps past the top of the address space"),
            Error::NonCanonical(va) => write!(f, "{va} is not canonical"),
            Error::NotKernelAddress(va) => write!(f, "{va} is not a kernel address"),
            Error::NotUserAddress(va) => write!(f, "{va} is not a user address"),
            Error::BadProtection => f.write_str("protection not allowed for this half"),
            Error::WriteAndExecute => {
                f.write_str("kernel mapping both writable and executable (W^X)")
            }
            Error::PhysTooLarge(pa) => write!(f, "{pa} is beyond the physical address limit"),
            Error::ForeignEntry(va) => write!(f, "the entry given is not the one of {va}"),
            Error::AlreadyMapped(va) => write!(f, "{va} is already mapped"),
            Error::NotMapped(va) => write!(f, "{va} is not mapped"),
            Error::SplitsLeaf(va) => write!(f, "range splits the huge leaf at {va}"),
            Error::OutOfMemory => f.write_str("out of page-table memory"),
            Error::NoVirtualSpace => f.write_str("no free virtual range"),
            Error::Busy => f.write_str("address space in use"),
            Error::BadTable(pa) => write!(f, "{pa} is not a table that can be adopted"),
            Error::FoldedLevel(l) => write!(f, "level {l} has no table of its own here"),
            Error::Foreign => f.write_str("belongs to another set of page tables"),
            Error::WrongLevel { table, needed } => write!(
                f,
                "a table of {table} entries cannot go where {needed} entries are needed"
            ),
            Error::SharedTable(va) => write!(f, "{va} lies in a shared table"),
            Error::TooManySharedTables => f.write_str("no room for another shared table"),
            Error::UnsupportedMode(why) => write!(f, "unsupported paging mode: {why}"),
            Error::SyncMismatch(n) => write!(
                f,
                "{n} top-level kernel entries differ from the kernel's and were left alone"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// A refused call that hands back the value it would have consumed (a
/// table handle, an address space), so the caller keeps it. Converts into
/// [`Error`] for `?`, dropping the value (a dropped table handle frees its
/// table).
#[derive(Debug)]
pub struct Refused<T> {
    /// Why.
    pub error: Error,
    /// What the call would have consumed.
    pub value: T,
}

impl<T> From<Refused<T>> for Error {
    fn from(r: Refused<T>) -> Error {
        r.error
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: fmt::Debug> core::error::Error for Refused<T> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, Error>;
