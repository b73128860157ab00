//! Reading through the roots: translation, the sync check, the lazy
//! fault fix (`vmalloc_fault()`) and the count of reachable tables.

use super::PageTables;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Level};
use crate::memory::TableMemory;
use crate::walk::tables::EntryPtr;
use crate::walk::visit::{Mapping, Visit};
use alloc::vec::Vec;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering;
use lock_api::RawMutex;

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// The leaf mapping `va` through `root`, as the library reads the
    /// tables. `root` must be the kernel's or a registered space's (or its
    /// PTI user-mode root); anything else translates nothing.
    /// On split-root architectures a kernel address is walked from the
    /// kernel root whatever `root` is, as the MMU does with TTBR1, and a user
    /// address through the kernel root translates nothing (its TTBR0 is an
    /// empty table).
    pub fn translate(&self, root: PhysAddr, va: VirtAddr) -> Option<Mapping> {
        if !self.arch.is_canonical(va) || !self.is_root(root) {
            return None;
        }
        // With split roots the kernel's own context has no user half: Linux
        // loads the empty `reserved_pg_dir` into TTBR0 for init_mm, never
        // `swapper_pg_dir`, whose entries are indexed for the upper half.
        if self.arch.split_roots() && root == self.kernel_root && va.0 < self.arch.kernel_start() {
            return None;
        }
        let root = self.walk_root(root, va.0);
        self.tables().translate(root, va.0)
    }

    /// The root the MMU walks for `va` when `root` is loaded.
    pub(super) fn walk_root(&self, root: PhysAddr, va: u64) -> PhysAddr {
        if self.arch.split_roots() && va >= self.arch.kernel_start() {
            self.kernel_root
        } else {
            root
        }
    }

    /// Whether `pa` can be a root table (aligned to its size, within the
    /// physical address width), so walking from it cannot overflow.
    fn is_table_frame(&self, pa: PhysAddr) -> bool {
        pa.is_aligned(self.arch.table_bytes(Level::Pgd)) && pa.0 < self.arch.phys_limit()
    }

    /// Whether `root` is the kernel root or a registered root of this
    /// machine (PTI user-mode roots included).
    pub(super) fn is_root(&self, root: PhysAddr) -> bool {
        if root == self.kernel_root {
            return true;
        }
        let roots = self.roots.lock();
        roots.contains(root) || (self.pti.is_some() && roots.users.contains(&Some(root)))
    }

    /// The first registered root whose kernel top-level slot differs from
    /// the kernel's, with the slot. A PTI user-mode root must equal the
    /// kernel in the shared slots and be empty in every other kernel slot.
    ///
    /// Where each space has its own copy of the kernel tables above the sync
    /// level (x86-32 PAE without a shared kernel PMD), the copies are
    /// compared entry by entry down to that level.
    pub fn first_out_of_sync(&self) -> Option<(PhysAddr, usize)> {
        let t = self.tables();
        let size = self.arch.entry_size();
        let roots = self.roots.lock();
        let shared = self.pti.clone().unwrap_or(0..0);
        let users = roots.users.iter().flatten().map(|u| (*u, true));
        let top = self.arch.top_level();
        for (root, user) in roots.list.iter().map(|r| (*r, false)).chain(users) {
            for slot in self.arch.kernel_top_slots() {
                let off = slot as u64 * size;
                let kernel = t.read(EntryPtr(PhysAddr(self.kernel_root.0 + off)));
                let have = t.read(EntryPtr(PhysAddr(root.0 + off)));
                let same = if user && !shared.contains(&slot) {
                    have == 0
                } else {
                    self.same_kernel_entry(top, kernel, have)
                };
                if !same {
                    return Some((root, slot));
                }
            }
        }
        None
    }

    /// Under [`SyncPolicy::Lazy`](super::SyncPolicy::Lazy): copy the kernel's top-level entry for
    /// `va` into `root` if it is missing there (x86 `vmalloc_fault()`).
    /// Returns whether an entry was copied, i.e. whether the faulting access
    /// may be retried; a root that is not registered is never written.
    pub fn sync_on_fault(&self, root: PhysAddr, va: VirtAddr) -> bool {
        let crate::arch::SyncMethod::CopyEntries(level) = self.arch.sync_method() else {
            return false;
        };
        if va.0 < self.arch.kernel_start()
            || !self.arch.is_canonical(va)
            || !self.is_table_frame(root)
        {
            return false;
        }
        let t = self.tables();
        let roots = self.roots.lock();
        // Nothing of a root that is not registered here is read, let alone
        // written.
        if !roots.contains(root) {
            return false;
        }
        let (Some(want), Some(have)) = (
            t.entry_at(self.kernel_root, level, va.0),
            t.entry_at(root, level, va.0),
        ) else {
            return false;
        };
        let raw = t.read(want);
        // Like `vmalloc_fault()`: fill an empty entry, never replace one.
        if raw == 0 || t.read(have) != 0 {
            return false;
        }
        t.write(have, raw);
        self.stats.lazy_fixes.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Page-table frames reachable from the kernel root and every registered
    /// root, each counted once (roots included; a frame holding several
    /// small tables once, a table of several frames for each). Equals
    /// [`TableMemory::tables_in_use`] when nothing leaked.
    pub fn reachable_tables(&self) -> usize {
        let mut seen = hashbrown::HashSet::new();
        let t = self.tables();
        let mut count = |root: PhysAddr, start: u64, end: u64| {
            let _ = t.visit(root, start, end, &mut |v| {
                if let Visit::Table(level, table) = v {
                    seen.extend(t.frames_of(level, table));
                }
                ControlFlow::Continue(())
            });
        };
        // The kernel half once, from the kernel root.
        let kernel = (self.arch.kernel_start(), self.arch.kernel_end());
        count(self.kernel_root, kernel.0, kernel.1);
        // Every other root: its user half, and only those kernel slots that
        // are its own (per-space copies); a slot equal to the kernel's
        // leads to the tables just counted.
        let slots = self.arch.kernel_top_slots();
        let slot_size = 1u64 << self.arch.level_shift(Level::Pgd);
        let size = self.arch.entry_size();
        let roots: Vec<PhysAddr> = self
            .roots_with_user()
            .into_iter()
            .flat_map(|(r, u)| [Some(r), u])
            .flatten()
            .collect();
        for &root in &roots {
            count(root, 0, self.arch.user_end());
            for slot in slots.clone() {
                let off = slot as u64 * size;
                let own = t.read(EntryPtr(PhysAddr(root.0 + off)));
                if own != 0 && own != t.read(EntryPtr(PhysAddr(self.kernel_root.0 + off))) {
                    let start = kernel.0 + (slot - slots.start) as u64 * slot_size;
                    count(root, start, start.wrapping_add(slot_size));
                }
            }
        }
        seen.extend(t.frames_of(Level::Pgd, self.kernel_root));
        for root in roots {
            seen.extend(t.frames_of(Level::Pgd, root));
        }
        seen.len()
    }
}
