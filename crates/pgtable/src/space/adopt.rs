//! Taking over the tables a boot loader built (Linux's `swapper_pg_dir`
//! as `startup_64` / `__create_page_tables` left it, which the kernel keeps
//! using as `init_mm.pgd`).

use super::{PageTables, SyncPolicy};
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::{Fragments, TableMemory};
use crate::walk::shared::SharedSet;
use crate::walk::tables::{EntryPtr, Tables};
use hashbrown::HashSet;
use lock_api::RawMutex;

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// Page tables over the kernel root `root` that someone else built,
    /// syncing eagerly, with the lock `L` (see
    /// [`with_lock`](Self::with_lock); [`adopt`](PageTables::adopt) for the
    /// default): the boot loader's kernel half becomes the kernel's.
    ///
    /// Every table reachable from `root` must be a frame that `mem` holds
    /// ([`TableMemory::holds_table`]: hand it over first with
    /// [`DirectMap::adopt_table`](crate::DirectMap::adopt_table) or
    /// [`OffsetMemory::adopt_table`](crate::OffsetMemory::adopt_table)),
    /// linked once, below the physical limit, with leaves only at levels
    /// that allow them; the user half of `root` must be empty (a boot
    /// loader's identity map is removed before adopting, as Linux's
    /// `zap_identity_mappings()` does). Anything else is refused with
    /// [`Error::BadTable`] naming the table, before anything is written.
    /// Paging modes with tables smaller or larger than a page (PAE's PDPT,
    /// arm32's 16 KiB first level and 1 KiB second level, arm64 LPA2's
    /// 16-entry root) are refused with [`Error::UnsupportedMode`]. Where the
    /// mode preallocates kernel tables at boot ([`KernelPolicy::boot_prealloc`](crate::KernelPolicy::boot_prealloc)),
    /// the missing ones are allocated, as [`PageTables::new`] does.
    ///
    /// `mem` is consumed either way; adopt over `&memory` to keep it.
    pub fn adopt_with_lock(arch: A, mem: M, root: PhysAddr) -> Result<Self> {
        let (frags, shared) = (Fragments::default(), SharedSet::default());
        let t = Tables {
            arch: &arch,
            mem: &mem,
            frags: &frags,
            shared: &shared,
        };
        check_adoptable(&t, root)?;
        Self::assemble(arch, mem, SyncPolicy::Eager, root, frags, shared)
    }
}

/// Check the whole tree under `root` (see [`PageTables::adopt`]).
fn check_adoptable<A: Arch, M: TableMemory>(t: &Tables<'_, A, M>, root: PhysAddr) -> Result<()> {
    let arch = t.arch;
    let whole_pages = Level::ALL
        .into_iter()
        .filter(|l| !arch.is_folded(*l))
        .all(|l| arch.table_bytes(l) == PAGE_SIZE);
    if !whole_pages {
        return Err(Error::UnsupportedMode("tables that are not one page"));
    }
    let mut seen = HashSet::new();
    let top = arch.top_level();
    let entries = PAGE_SIZE / arch.entry_size();
    let user_slots = if arch.split_roots() {
        0
    } else {
        arch.index(Level::Pgd, arch.kernel_start())
    };
    check_table(t, &mut seen, root, Level::Pgd)?;
    for i in 0..entries {
        let e = EntryPtr(PhysAddr(root.0 + i * arch.entry_size()));
        if i < user_slots && t.read(e) != 0 {
            return Err(Error::BadTable(root));
        }
        check_entry(t, &mut seen, top, e)?;
    }
    Ok(())
}

/// `table` may be taken over, and has not been met before.
fn check_table<A: Arch, M: TableMemory>(
    t: &Tables<'_, A, M>,
    seen: &mut HashSet<u64>,
    table: PhysAddr,
    level: Level,
) -> Result<()> {
    let ok = table.is_aligned(t.arch.table_bytes(level))
        && table.0 < t.arch.phys_limit()
        && t.mem.holds_table(table)
        && seen.insert(table.0);
    if ok {
        Ok(())
    } else {
        Err(Error::BadTable(table))
    }
}

/// Check the entry `e` of `level` and everything under it.
fn check_entry<A: Arch, M: TableMemory>(
    t: &Tables<'_, A, M>,
    seen: &mut HashSet<u64>,
    level: Level,
    e: EntryPtr,
) -> Result<()> {
    let arch = t.arch;
    match t.decode(level, e) {
        Decoded::None => Ok(()),
        Decoded::Leaf(..) if arch.leaf_allowed(level) => Ok(()),
        Decoded::Leaf(..) => Err(Error::BadTable(PhysAddr(e.0 .0 & !(PAGE_SIZE - 1)))),
        Decoded::Table(table) => {
            let Some(child) = next_real(arch, level) else {
                return Err(Error::BadTable(table));
            };
            check_table(t, seen, table, child)?;
            for i in 0..PAGE_SIZE / arch.entry_size() {
                check_entry(
                    t,
                    seen,
                    child,
                    EntryPtr(PhysAddr(table.0 + i * arch.entry_size())),
                )?;
            }
            Ok(())
        }
    }
}

/// The level of the entries of the table an entry of `level` points at.
fn next_real<A: Arch>(arch: &A, level: Level) -> Option<Level> {
    let mut l = level.next()?;
    while arch.is_folded(l) {
        l = l.next()?;
    }
    Some(l)
}
