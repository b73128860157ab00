//! Building a machine: the constructors, boot preallocation, and the
//! vmalloc area and page-table isolation chosen before any space exists.

use super::{
    registry::Registry, Counters, KernelEdit, KernelState, PageTables, SyncPolicy, NEXT_ID,
};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Level, RegionKind};
use crate::error::Result;
use crate::memory::{Fragments, TableMemory};
use crate::sync::{AtomicUsize, LockMutex};
use crate::vmalloc::VmapAreas;
use crate::walk::shared::SharedSet;
use crate::walk::tables::Tables;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use lock_api::RawMutex;

/// The constructors of a machine with the default lock ([`DefaultLock`](crate::DefaultLock)):
/// a type parameter's default takes no part in inference, so these are
/// where `PageTables::new(arch, mem)` finds its lock.
impl<A: Arch, M: TableMemory> PageTables<A, M> {
    /// Page tables with an empty kernel root, syncing eagerly.
    pub fn new(arch: A, mem: M) -> Result<Self> {
        Self::with_lock(arch, mem, SyncPolicy::Eager)
    }

    /// Page tables with a chosen [`SyncPolicy`]. The regions of
    /// [`KernelPolicy::boot_prealloc`](crate::KernelPolicy::boot_prealloc) get their tables below the root now, as the
    /// architecture's boot code does.
    pub fn with_policy(arch: A, mem: M, policy: SyncPolicy) -> Result<Self> {
        Self::with_lock(arch, mem, policy)
    }

    /// [`adopt_with_lock`](Self::adopt_with_lock) with the default lock.
    pub fn adopt(arch: A, mem: M, root: PhysAddr) -> Result<Self> {
        Self::adopt_with_lock(arch, mem, root)
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// Page tables whose locks (`init_mm`'s and `pgd_lock`) are `L`, any
    /// [`lock_api::RawMutex`]: a kernel passes one that keeps interrupts
    /// off while held, as Linux's `spin_lock_irqsave()` does, naming it in
    /// the type: `PageTables::<_, _, IrqLock>::with_lock(arch, mem, policy)`.
    /// Otherwise as [`with_policy`](PageTables::with_policy).
    pub fn with_lock(arch: A, mem: M, policy: SyncPolicy) -> Result<Self> {
        let frags = Fragments::default();
        let shared = SharedSet::default();
        let t = Tables {
            arch: &arch,
            mem: &mem,
            frags: &frags,
            shared: &shared,
        };
        let kernel_root = t.alloc(Level::Pgd)?;
        Self::assemble(arch, mem, policy, kernel_root, frags, shared)
    }

    /// The machine over a kernel root (new or adopted), with the boot-time
    /// tables of [`KernelPolicy::boot_prealloc`](crate::KernelPolicy::boot_prealloc) filled in where missing.
    pub(super) fn assemble(
        arch: A,
        mem: M,
        policy: SyncPolicy,
        kernel_root: PhysAddr,
        frags: Fragments,
        shared: SharedSet,
    ) -> Result<Self> {
        let vm = arch.layout().get(RegionKind::Vmalloc).map(|r| r.range());
        let vmalloc = vm.map_or_else(VmapAreas::default, |r| VmapAreas::new(r.start, r.end));
        let pt = PageTables {
            arch,
            mem,
            kernel_root,
            policy,
            kernel: LockMutex::new(KernelState { vmalloc }),
            roots: LockMutex::new(Registry::default()),
            stats: Counters::default(),
            pti: None,
            frags,
            kmaps: AtomicUsize::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            unlinked: LockMutex::new(Vec::new()),
            shared,
            #[cfg(loom)]
            loom_bug: None,
        };
        for kind in pt.arch.boot_prealloc() {
            if let Some(r) = pt.arch.layout().get(*kind) {
                let mut ks = pt.kernel();
                let mut edit: KernelEdit<'_, '_, A, M, L> = KernelEdit::new(&mut ks);
                let r = edit.preallocate(VirtAddr(r.start), VirtAddr(r.last));
                // No space exists yet: there is nobody to sync.
                edit.skip_sync_before_any_space();
                r?;
            }
        }
        Ok(pt)
    }

    /// Place the vmalloc area (where [`KernelEdit::vmap`] and
    /// [`KernelEdit::ioremap`] find free ranges) at `area` instead of the
    /// paging mode's default: the `vmalloc_base` that memory KASLR chose
    /// (`arch/x86/mm/kaslr.c` `kernel_randomize_memory()`). `area` must be
    /// a non-empty, page-aligned range of canonical kernel addresses; refused
    /// with [`Error::Busy`](crate::Error::Busy) once anything was allocated
    /// there.
    pub fn with_vmalloc_area(self, area: core::ops::Range<VirtAddr>) -> Result<Self> {
        if area.end <= area.start {
            return Err(crate::Error::EmptyRange);
        }
        crate::args::check_range(
            &self.arch,
            crate::args::Half::Kernel,
            area.start,
            area.end.0 - area.start.0,
        )?;
        {
            let mut k = self.kernel.lock();
            if k.vmalloc.busy_count() != 0 {
                return Err(crate::Error::Busy);
            }
            k.vmalloc = VmapAreas::new(area.start.0, area.end.0);
        }
        Ok(self)
    }

    /// Turn on page-table isolation (x86-64 PTI, `pti=on`): every address
    /// space created from now on gets a second, user-mode root holding its
    /// user half and, of the kernel half, only the top-level slots that
    /// cover `entry_area` (the entry trampoline, `cpu_entry_area`). Syncs
    /// keep those slots right in every user-mode root and never copy any
    /// other kernel slot there. Refused with [`Error::Busy`](crate::Error::Busy) once spaces
    /// exist, and with a range error unless `entry_area` is a non-empty
    /// range of canonical kernel addresses.
    pub fn with_pti(mut self, entry_area: core::ops::Range<VirtAddr>) -> Result<Self> {
        if self.space_count() != 0 {
            return Err(crate::Error::Busy);
        }
        // A kernel range, or the user-mode roots would share user slots.
        if entry_area.end <= entry_area.start {
            return Err(crate::Error::EmptyRange);
        }
        crate::args::check_kernel_span(
            &self.arch,
            entry_area.start,
            VirtAddr(entry_area.end.0 - 1),
        )?;
        // The root table is indexed as the PGD whatever is folded below it.
        let first = self.arch.index(Level::Pgd, entry_area.start.0) as usize;
        let last = self
            .arch
            .index(Level::Pgd, entry_area.end.0.wrapping_sub(1)) as usize;
        self.pti = Some(first..last + 1);
        Ok(self)
    }
}
