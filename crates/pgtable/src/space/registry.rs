//! The list of every root and the sync that copies kernel entries into them
//! (`pgd_list`, `pgd_lock`, `sync_global_pgds()`).

use super::root_fill::RootFill;
use super::PageTables;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level, SyncMethod};
use crate::error::Result;
use crate::memory::TableMemory;
use crate::walk::tables::{entry_level, EntryPtr, Tables};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use hashbrown::HashMap;
use lock_api::RawMutex;

/// Registered roots, dense for a fast sync loop, with an index for O(1)
/// removal.
#[derive(Default)]
pub(crate) struct Registry {
    pub list: Vec<PhysAddr>,
    /// The user-mode root of each listed root, under page-table isolation.
    pub users: Vec<Option<PhysAddr>>,
    pos: HashMap<u64, usize>,
}

impl Registry {
    pub fn insert(&mut self, root: PhysAddr, user: Option<PhysAddr>) {
        self.pos.insert(root.0, self.list.len());
        self.list.push(root);
        self.users.push(user);
    }

    pub fn contains(&self, root: PhysAddr) -> bool {
        self.pos.contains_key(&root.0)
    }

    pub fn remove(&mut self, root: PhysAddr) -> bool {
        let Some(i) = self.pos.remove(&root.0) else {
            return false;
        };
        self.list.swap_remove(i);
        self.users.swap_remove(i);
        if let Some(moved) = self.list.get(i) {
            self.pos.insert(moved.0, i);
        }
        true
    }
}

/// Counters of the sync machinery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Calls of the sync (`arch_sync_kernel_mappings()`).
    pub syncs: u64,
    /// Entries copied into roots by syncs and by root creation.
    pub entries_copied: u64,
    /// Entries copied on a fault under [`SyncPolicy::Lazy`](super::SyncPolicy).
    pub lazy_fixes: u64,
    /// Top-level entries a sync found present in a root and different from
    /// the kernel's, and left alone (where Linux's `sync_global_pgds()`
    /// `BUG()`s).
    pub mismatches: u64,
}

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// `arch_sync_kernel_mappings(start, last)`: copy the kernel's entries of
    /// the sync level covering `start..=last` into every registered root,
    /// under the registry lock so a root being created meanwhile either
    /// copied the new entries itself or is already listed here.
    pub(crate) fn sync_kernel_mappings(&self, start: VirtAddr, last: VirtAddr) {
        if let SyncMethod::CopyEntries(level) = self.arch.sync_method() {
            let _ = self.sync_level(level, start, last);
        }
    }

    /// Copy the kernel's entries of `level` covering `start..=last` into
    /// every registered root (the body of
    /// [`sync_kernel_mappings`](Self::sync_kernel_mappings), also used for
    /// the top level of architectures that otherwise never sync).
    ///
    /// At the top level it does what `sync_global_pgds()` does: an empty
    /// kernel entry is skipped (never copied as a clear, so a slot a space
    /// holds on purpose, like the LDT remap under PTI, is not wiped), an
    /// empty entry of a root is filled, and a present one that differs is
    /// left as it is and counted as a mismatch (Linux `BUG()`s there).
    /// Below the top level (x86-32 PAE's per-space kernel PMDs) every
    /// difference is copied, clears included: the library frees emptied
    /// kernel page tables, and a space's copy must not keep pointing at one.
    /// Returns the mismatches.
    pub(crate) fn sync_level(&self, level: Level, start: VirtAddr, last: VirtAddr) -> usize {
        let t = self.tables();
        let step = self.arch.level_size(level);
        let mut wanted = Vec::new();
        let mut va = start.0 & !(step - 1);
        loop {
            if let Some(e) = t.entry_at(self.kernel_root, level, va) {
                wanted.push((va, t.read(e)));
            }
            match va.checked_add(step) {
                Some(n) if n <= last.0 => va = n,
                _ => break,
            }
        }
        let top = level == self.arch.top_level();
        let roots = self.roots.lock();
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        let mut n = Copied::default();
        for &root in &roots.list {
            copy_entries(t, root, level, &wanted, top, &mut n);
        }
        if let Some(shared) = &self.pti {
            // Under PTI a user-mode root shares only the entry-area slots.
            wanted.retain(|(va, _)| shared.contains(&(self.arch.index(Level::Pgd, *va) as usize)));
            for &user in roots.users.iter().flatten() {
                copy_entries(t, user, level, &wanted, top, &mut n);
            }
        }
        self.stats
            .entries_copied
            .fetch_add(n.copied, Ordering::Relaxed);
        self.stats
            .mismatches
            .fetch_add(n.mismatches as u64, Ordering::Relaxed);
        n.mismatches
    }

    /// `pgd_ctor()`: copy the kernel half of the kernel root into `root`
    /// (only `slots` of it for a PTI user-mode root). Called with the
    /// registry lock held, so no sync can run in between. A root from
    /// [`alloc_root`](Self::alloc_root) with [`RootFill::Overwrite`] gets
    /// every word of `slots` written, empty ones included. Where the sync
    /// level lies below the root's entries (x86-32 PAE with an unshared
    /// kernel PMD, `pgd_prepopulate_pmd()`), the tables above it are copied
    /// for this space; on failure, what was copied is left linked in `root`
    /// for [`free_kernel_copies`](Self::free_kernel_copies).
    pub(crate) fn clone_kernel_half(
        &self,
        root: PhysAddr,
        slots: core::ops::Range<usize>,
        fill: RootFill,
    ) -> Result<()> {
        if fill == RootFill::Overwrite {
            let copied = self.overwrite_root(root, &slots);
            self.stats
                .entries_copied
                .fetch_add(copied, Ordering::Relaxed);
            return Ok(());
        }
        let t = self.tables();
        let size = self.arch.entry_size();
        let top = self.arch.top_level();
        let mut copied = 0;
        let mut r = Ok(());
        for slot in slots {
            let off = slot as u64 * size;
            let raw = t.read(EntryPtr(PhysAddr(self.kernel_root.0 + off)));
            if raw == 0 {
                continue;
            }
            match self.copy_kernel_entry(top, raw, &mut copied) {
                Ok(own) => t.write(EntryPtr(PhysAddr(root.0 + off)), own),
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
            copied += 1;
        }
        self.stats
            .entries_copied
            .fetch_add(copied, Ordering::Relaxed);
        r
    }

    /// Whether the entries of `level` are copied into every space as they
    /// are: at or below the sync level (or everywhere when nothing syncs).
    pub(super) fn shared_at(&self, level: Level) -> bool {
        match self.arch.sync_method() {
            SyncMethod::CopyEntries(sync) => level >= sync,
            SyncMethod::None => true,
        }
    }

    /// A space's own version of the kernel entry `raw` of `level`: `raw`
    /// itself where entries are shared, else a new table holding copies of
    /// the kernel table's entries.
    fn copy_kernel_entry(&self, level: Level, raw: u64, copied: &mut u64) -> Result<u64> {
        let t = self.tables();
        let (Decoded::Table(kernel), false) = (self.arch.decode(level, raw), self.shared_at(level))
        else {
            return Ok(raw);
        };
        let child = level.next().unwrap_or(Level::Pte);
        let own = t.alloc(child)?;
        let linked = self.arch.encode_table(level, own, false);
        let below = entry_level(&self.arch, child);
        for i in 0..1u64 << self.arch.level_bits(child) {
            let off = i * self.arch.entry_size();
            let k = t.read(EntryPtr(PhysAddr(kernel.0 + off)));
            if k == 0 {
                continue;
            }
            match self.copy_kernel_entry(below, k, copied) {
                Ok(e) => t.write(EntryPtr(PhysAddr(own.0 + off)), e),
                Err(err) => {
                    // Linked so the caller's cleanup finds and frees it.
                    self.free_copy(level, linked);
                    return Err(err);
                }
            }
            *copied += 1;
        }
        Ok(linked)
    }

    /// Whether a space's kernel entry `have` of `level` is in sync with the
    /// kernel's `kernel`.
    pub(crate) fn same_kernel_entry(&self, level: Level, kernel: u64, have: u64) -> bool {
        if kernel == have {
            return true;
        }
        let t = self.tables();
        let (Decoded::Table(k), Decoded::Table(h), false) = (
            self.arch.decode(level, kernel),
            self.arch.decode(level, have),
            self.shared_at(level),
        ) else {
            return false;
        };
        let child = level.next().unwrap_or(Level::Pte);
        let below = entry_level(&self.arch, child);
        (0..1u64 << self.arch.level_bits(child)).all(|i| {
            let off = i * self.arch.entry_size();
            self.same_kernel_entry(
                below,
                t.read(EntryPtr(PhysAddr(k.0 + off))),
                t.read(EntryPtr(PhysAddr(h.0 + off))),
            )
        })
    }

    /// Free the tables `root` has of its own in the kernel half (the copies
    /// [`clone_kernel_half`](Self::clone_kernel_half) made); the kernel's
    /// tables are never freed.
    pub(crate) fn free_kernel_copies(&self, root: PhysAddr) {
        let t = self.tables();
        let top = self.arch.top_level();
        if self.shared_at(top) {
            // The root's kernel entries are the kernel's own: no copy to
            // free, and every word of the root is written again (zeroed or
            // copied) before it is handed out.
            return;
        }
        for slot in self.arch.kernel_top_slots() {
            let e = EntryPtr(PhysAddr(root.0 + slot as u64 * self.arch.entry_size()));
            let raw = t.read(e);
            let kernel = t.read(EntryPtr(PhysAddr(
                self.kernel_root.0 + slot as u64 * self.arch.entry_size(),
            )));
            if raw != 0 && raw != kernel {
                self.free_copy(top, raw);
                t.write(e, 0);
            }
        }
    }

    /// Free a copied table entry of `level` and the copies below it.
    fn free_copy(&self, level: Level, raw: u64) {
        let t = self.tables();
        let (Decoded::Table(own), false) = (self.arch.decode(level, raw), self.shared_at(level))
        else {
            return;
        };
        let child = level.next().unwrap_or(Level::Pte);
        let below = entry_level(&self.arch, child);
        if !self.shared_at(below) {
            for i in 0..1u64 << self.arch.level_bits(child) {
                let e = t.read(EntryPtr(PhysAddr(own.0 + i * self.arch.entry_size())));
                if e != 0 {
                    self.free_copy(below, e);
                }
            }
        }
        t.free(child, own);
    }
}

/// What a sync did to the roots.
#[derive(Default)]
struct Copied {
    copied: u64,
    mismatches: usize,
}

/// Copy the wanted entries of `level` into `root`. At the top level only
/// into empty entries, counting present ones that differ as mismatches.
fn copy_entries<A: Arch, M: TableMemory + ?Sized>(
    t: Tables<'_, A, M>,
    root: PhysAddr,
    level: Level,
    wanted: &[(u64, u64)],
    top: bool,
    n: &mut Copied,
) {
    for &(va, raw) in wanted {
        let Some(e) = t.entry_at(root, level, va) else {
            continue;
        };
        let have = t.read(e);
        if have == raw {
            continue;
        }
        if top && raw == 0 {
            // An empty kernel entry never clears a root's table pointer (a
            // per-space slot, or one the sync must not race with). But a
            // top-level *leaf* (x86-32 2-level's 4 MiB page, arm32's 1 MiB
            // section) the edit unmapped goes from every root, or they keep
            // translating it. Linux's x86-32 vmalloc_sync_one()
            // (arch/x86/mm/fault.c) does the same: it copies the kernel's
            // PMD entry whenever its present bit differs, clearing too.
            if matches!(t.arch.decode(level, have), Decoded::Leaf(..)) {
                t.write(e, 0);
                n.copied += 1;
            }
            continue;
        }
        if top && have != 0 {
            n.mismatches += 1;
            continue;
        }
        t.write(e, raw);
        n.copied += 1;
    }
}
