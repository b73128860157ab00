//! The machine's accessors: its parts, its registered roots, its counters
//! and the tables handed out unlinked.

use super::{forget_in, AddressSpace, KernelSpace, PageTables, SyncPolicy, SyncStats, Unlinked};
use crate::addr::PhysAddr;
use crate::arch::{Arch, Level};
use crate::error::Result;
use crate::memory::TableMemory;
use crate::sync::LockGuard;
use crate::walk::shared::SharedSet;
use crate::walk::tables::Tables;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use lock_api::RawMutex;

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// The register values that make a CPU run in `space` (CR3 with its
    /// PCID, TTBR0/TTBR1 with the ASID, satp with mode and ASID): see
    /// [`Activation`](crate::Activation). Another machine's space is
    /// refused with [`Error::Foreign`](crate::Error::Foreign). The kernel's
    /// own context (init_mm) loads the kernel root, except with split
    /// roots, where its TTBR0 is an empty table of the kernel's own (Linux's
    /// `reserved_pg_dir`).
    pub fn activation(&self, space: &AddressSpace, asid: u16) -> Result<crate::Activation> {
        if space.owner() != self.id {
            return Err(crate::Error::Foreign);
        }
        self.arch.activation(space.root(), self.kernel_root, asid)
    }

    /// The paging mode.
    pub fn arch(&self) -> &A {
        &self.arch
    }

    /// The table memory.
    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// The sync policy.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// The kernel's root (`init_mm.pgd`, `swapper_pg_dir`).
    pub fn kernel_root(&self) -> PhysAddr {
        self.kernel_root
    }

    /// Lock and return the kernel space (init_mm). Spins while another
    /// thread holds it.
    pub fn kernel(&self) -> KernelSpace<'_, A, M, L> {
        KernelSpace::new(self, self.kernel.lock())
    }

    /// The roots of every registered address space (not the kernel's).
    pub fn roots(&self) -> Vec<PhysAddr> {
        self.roots.lock().list.clone()
    }

    /// Every registered root with its PTI user-mode root, if any.
    pub fn roots_with_user(&self) -> Vec<(PhysAddr, Option<PhysAddr>)> {
        let r = self.roots.lock();
        r.list
            .iter()
            .copied()
            .zip(r.users.iter().copied())
            .collect()
    }

    /// Number of registered address spaces.
    pub fn space_count(&self) -> usize {
        self.roots.lock().list.len()
    }

    /// Counters of the sync machinery.
    pub fn stats(&self) -> SyncStats {
        SyncStats {
            syncs: self.stats.syncs.load(Ordering::Relaxed),
            entries_copied: self.stats.entries_copied.load(Ordering::Relaxed),
            lazy_fixes: self.stats.lazy_fixes.load(Ordering::Relaxed),
            mismatches: self.stats.mismatches.load(Ordering::Relaxed),
        }
    }

    /// Temporary mappings of high-memory user PTE tables currently held
    /// (each [`PteMap`](super::PteMap) that needed one, until dropped).
    pub fn temporary_maps(&self) -> usize {
        self.kmaps.load(Ordering::Acquire)
    }

    /// The kernel top-level slots user-mode roots share, under PTI.
    pub fn pti_slots(&self) -> Option<core::ops::Range<usize>> {
        self.pti.clone()
    }

    pub(crate) fn tables(&self) -> Tables<'_, A, M> {
        Tables {
            arch: &self.arch,
            mem: &self.mem,
            frags: &self.frags,
            shared: &self.shared,
        }
    }

    /// This machine's identity, which its address spaces carry.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn shared(&self) -> &SharedSet {
        &self.shared
    }

    /// Note a kernel table handed out unlinked.
    pub(crate) fn add_unlinked(&self, table: PhysAddr, bytes: u64, level: Level) {
        self.unlinked.lock().push(Unlinked {
            table: table.0,
            bytes,
            level,
        });
    }

    /// The unlinked tables, locked.
    pub(crate) fn unlinked(&self) -> LockGuard<'_, L, Vec<Unlinked>> {
        self.unlinked.lock()
    }

    /// The table at `table` is linked or freed now: no longer unlinked.
    pub(crate) fn forget_unlinked(&self, table: PhysAddr) {
        forget_in(&mut self.unlinked.lock(), table);
    }
}
