//! The list of every root and the sync that copies kernel entries into them
//! (`pgd_list`, `pgd_lock`, `sync_global_pgds()`).

use super::PageTables;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Level, SyncMethod};
use crate::memory::TableMemory;
use crate::tables::{EntryPtr, Tables};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use hashbrown::HashMap;

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
}

impl<A: Arch, M: TableMemory> PageTables<A, M> {
    /// `arch_sync_kernel_mappings(start, last)`: copy the kernel's entries of
    /// the sync level covering `start..=last` into every registered root,
    /// under the registry lock so a root being created meanwhile either
    /// copied the new entries itself or is already listed here.
    pub(crate) fn sync_kernel_mappings(&self, start: VirtAddr, last: VirtAddr) {
        let SyncMethod::CopyEntries(level) = self.arch.sync_method() else {
            return;
        };
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
        let roots = self.roots.lock();
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        let mut copied = 0;
        for &root in &roots.list {
            copied += copy_entries(t, root, level, &wanted);
        }
        if let Some(shared) = &self.pti {
            // Under PTI a user-mode root shares only the entry-area slots.
            wanted.retain(|(va, _)| shared.contains(&(self.arch.index(Level::Pgd, *va) as usize)));
            for &user in roots.users.iter().flatten() {
                copied += copy_entries(t, user, level, &wanted);
            }
        }
        self.stats
            .entries_copied
            .fetch_add(copied, Ordering::Relaxed);
    }

    /// `pgd_ctor()`: copy the kernel half of the kernel root into `root`
    /// (only `slots` of it for a PTI user-mode root). Called with the
    /// registry lock held, so no sync can run in between.
    pub(crate) fn clone_kernel_half(&self, root: PhysAddr, slots: core::ops::Range<usize>) {
        let t = self.tables();
        let size = self.arch.entry_size();
        let mut copied = 0;
        for slot in slots {
            let off = slot as u64 * size;
            let raw = t.read(EntryPtr(PhysAddr(self.kernel_root.0 + off)));
            if raw != 0 {
                t.write(EntryPtr(PhysAddr(root.0 + off)), raw);
                copied += 1;
            }
        }
        self.stats
            .entries_copied
            .fetch_add(copied, Ordering::Relaxed);
    }
}

/// Copy the wanted entries of `level` into `root`; returns how many changed.
fn copy_entries<A: Arch, M: TableMemory + ?Sized>(
    t: Tables<'_, A, M>,
    root: PhysAddr,
    level: Level,
    wanted: &[(u64, u64)],
) -> u64 {
    let mut copied = 0;
    for &(va, raw) in wanted {
        if let Some(e) = t.entry_at(root, level, va) {
            if t.read(e) != raw {
                t.write(e, raw);
                copied += 1;
            }
        }
    }
    copied
}
