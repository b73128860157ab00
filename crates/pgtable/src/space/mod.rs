//! Address spaces: the kernel's (init_mm) and the users', the registry of
//! their roots, and the sync that keeps the kernel half of every root equal
//! to the kernel's.

mod adopt;
mod edit;
pub(crate) mod handle;
mod inspect;
mod kernel;
mod policy;
mod raw;
mod registry;
mod report;
mod user;
mod vmap;

pub use edit::{KernelEdit, LegacyEdit};
pub use handle::{KernelTable, SharedTable, UserPteTable, UserTable};
pub use inspect::Walked;
pub use policy::{EditPolicy, Legacy, Tracked};
pub use registry::SyncStats;
pub use report::{SyncOutcome, SyncReport};
pub use user::{AddressSpace, PteMap, UserSpace};

use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Level, RegionKind};
use crate::error::{Refused, Result};
use crate::memory::{Fragments, TableMemory};
use crate::sync::DefaultLock;
use crate::sync::{AtomicU64, AtomicUsize, LockGuard, LockMutex};
use crate::vmalloc::VmapAreas;
use crate::walk::shared::SharedSet;
use crate::walk::tables::{EntryPtr, Tables};
use crate::walk::visit::{Mapping, Visit};
use alloc::vec::Vec;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering;
use lock_api::RawMutex;
use registry::Registry;

/// When kernel entries reach the other roots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// At the end of every kernel edit whose mask meets the architecture's
    /// sync mask (Linux 6.17).
    #[default]
    Eager,
    /// Never by the edit; a root gets a missing top-level kernel entry when
    /// an access through it faults ([`PageTables::sync_on_fault`], x86's
    /// `vmalloc_fault()` before Linux 5.8). A baseline for comparison only.
    Lazy,
}

#[derive(Default)]
struct Counters {
    syncs: AtomicU64,
    entries_copied: AtomicU64,
    lazy_fixes: AtomicU64,
    mismatches: AtomicU64,
}

/// The kernel's address space, locked for one user at a time.
///
/// Reading it ([`translate`](Self::translate)) takes `&self`; changing it
/// takes an edit ([`edit`](Self::edit)), which borrows it mutably until the
/// edit has synced. So no code holding the kernel space can look at a
/// mapping between its populate and its sync: the ordering bug of Linux
/// commit 8d400913c231 does not compile.
pub struct KernelSpace<'a, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pub(crate) pt: &'a PageTables<A, M, L>,
    pub(crate) state: LockGuard<'a, L, KernelState>,
}

/// Kernel-side state behind init_mm's lock.
pub(crate) struct KernelState {
    pub vmalloc: VmapAreas,
}

/// All the page tables of one machine: the kernel space, every user address
/// space, and the memory they live in.
///
/// `PageTables` is `Sync`: address spaces may be created, edited and
/// destroyed from several threads while one thread at a time holds the
/// [`KernelSpace`].
pub struct PageTables<A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    arch: A,
    mem: M,
    kernel_root: PhysAddr,
    policy: SyncPolicy,
    /// init_mm's `page_table_lock` and the vmalloc state.
    kernel: LockMutex<L, KernelState>,
    /// `pgd_lock` and `pgd_list`.
    roots: LockMutex<L, Registry>,
    stats: Counters,
    /// Under page-table isolation, the kernel top-level slots a user-mode
    /// root shares with the kernel (the entry area).
    pti: Option<core::ops::Range<usize>>,
    /// Tables smaller than a page.
    frags: Fragments,
    /// Live temporary mappings of high-memory PTE tables.
    kmaps: AtomicUsize,
    /// Who this is: every address space and shared table names its
    /// machine, so another machine's is refused.
    id: u64,
    /// Kernel tables handed out by `alloc_table` and not linked yet
    /// (address, bytes): the raw helpers may write their entries. Writes
    /// into them and their release take this lock, so a handle dropped on
    /// another thread cannot free a table while an edit writes into it.
    unlinked: LockMutex<L, Vec<Unlinked>>,
    /// Tables linked under many entries (the KASAN early shadow).
    shared: SharedSet,
    /// The protocol mistake the loom model switched on, if any.
    #[cfg(loom)]
    loom_bug: Option<LoomBug>,
}

/// The next machine identity; 0 is never handed out.
///
/// `core`'s atomic even under loom: a static outlives loom's executions,
/// whose atomics are made inside one, and loom's have no `const`
/// constructor. Identities only have to differ, which one `fetch_add` gives
/// however threads interleave, so nothing is lost by not modelling it.
static NEXT_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

impl<A: Arch, M: TableMemory, L: RawMutex> core::fmt::Debug for PageTables<A, M, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageTables")
            .field("arch", &self.arch.name())
            .field("kernel_root", &self.kernel_root)
            .field("spaces", &self.space_count())
            .finish()
    }
}

/// The constructors of a machine with the default lock ([`DefaultLock`]):
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
    fn assemble(
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

    /// Temporary mappings of high-memory user PTE tables currently held
    /// (each [`PteMap`] that needed one, until dropped).
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

    /// `pgd_alloc()`: a new address space whose kernel half equals the
    /// kernel's, registered so that every later sync reaches it.
    pub fn create_space(&self) -> Result<AddressSpace> {
        let t = self.tables();
        let root = t.alloc(Level::Pgd)?;
        let user = match &self.pti {
            None => None,
            Some(_) => match t.alloc(Level::Pgd) {
                Ok(u) => Some(u),
                Err(e) => {
                    t.free(Level::Pgd, root);
                    return Err(e);
                }
            },
        };
        #[cfg(loom)]
        if let Some(bug) = self.loom_bug {
            if let Some(space) = self.create_space_broken(bug, root, user) {
                return space;
            }
        }
        let mut roots = self.roots.lock();
        if let Err(e) = self.clone_kernel_halves(root, user) {
            drop(roots);
            for r in [Some(root), user].into_iter().flatten() {
                self.free_kernel_copies(r);
                t.free(Level::Pgd, r);
            }
            return Err(e);
        }
        roots.insert(root, user);
        Ok(AddressSpace::new(root, user, self.id))
    }

    /// Copy the kernel half into the new `root` and, under PTI, the shared
    /// slots into its user-mode root `user`. Callers hold the registry lock.
    fn clone_kernel_halves(&self, root: PhysAddr, user: Option<PhysAddr>) -> Result<()> {
        self.clone_kernel_half(root, self.arch.kernel_top_slots())?;
        match (user, &self.pti) {
            (Some(u), Some(shared)) => self.clone_kernel_half(u, shared.clone()),
            _ => Ok(()),
        }
    }

    /// `pgd_free()`: unregister `space`, free its user tables and its root.
    /// Kernel tables are shared and never freed here. The user frames it
    /// mapped are the caller's, to reuse once the returned [`TlbFlush`](crate::TlbFlush)
    /// (the whole user half under the space's ASID, tables freed: the
    /// `fullmm` flush of `exit_mmap()`) is discharged. Another `PageTables`' space is refused with
    /// [`Error::Foreign`](crate::Error::Foreign) and handed back untouched,
    /// even when its root has the same address as one of ours.
    pub fn destroy_space(
        &self,
        space: AddressSpace,
    ) -> core::result::Result<crate::TlbFlush, Refused<AddressSpace>> {
        let root = space.root();
        // `exit_mmap()` ends in a full flush of the mm (`tlb->fullmm`):
        // its ASID/PCID must not be reused, nor its table pages, while a
        // CPU may still cache its translations.
        let flush = crate::TlbFlush::new(crate::FlushRange {
            scope: crate::FlushScope::User {
                root,
                asid: space.asid(),
            },
            start: VirtAddr(0),
            end: VirtAddr(self.arch.user_end()),
            stride: Level::Pte,
            freed_tables: true,
        });
        #[cfg(loom)]
        if space.owner() == self.id && self.loom_bug == Some(LoomBug::FreeBeforeUnregister) {
            self.free_space_tables(&space);
            self.roots.lock().remove(root);
            return Ok(flush);
        }
        if space.owner() != self.id || !self.roots.lock().remove(root) {
            return Err(Refused {
                error: crate::Error::Foreign,
                value: space,
            });
        }
        // Unlisted, so no sync reaches these tables any more.
        self.free_space_tables(&space);
        Ok(flush)
    }

    /// Free the user half, the kernel copies and the root(s) of `space`.
    fn free_space_tables(&self, space: &AddressSpace) {
        let root = space.root();
        user::free_user_half(self, root);
        self.free_kernel_copies(root);
        self.tables().free(Level::Pgd, root);
        if let Some(u) = space.user_root() {
            // Its user half pointed at the tables just freed with `root`.
            self.free_kernel_copies(u);
            self.tables().free(Level::Pgd, u);
        }
    }

    /// Edit the user half of `space`; another `PageTables`' space is
    /// refused with [`Error::Foreign`](crate::Error::Foreign).
    pub fn user<'s>(&'s self, space: &'s mut AddressSpace) -> Result<UserSpace<'s, A, M, L>> {
        if space.owner() != self.id {
            return Err(crate::Error::Foreign);
        }
        Ok(UserSpace::new(self, space))
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
    fn walk_root(&self, root: PhysAddr, va: u64) -> PhysAddr {
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
    fn is_root(&self, root: PhysAddr) -> bool {
        if root == self.kernel_root {
            return true;
        }
        let roots = self.roots.lock();
        roots.contains(root) || (self.pti.is_some() && roots.users.contains(&Some(root)))
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

    /// Under [`SyncPolicy::Lazy`]: copy the kernel's top-level entry for
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

/// A kernel table handed out by `alloc_table` and not linked yet.
pub(crate) struct Unlinked {
    /// Its address.
    pub table: u64,
    /// Its size.
    pub bytes: u64,
    /// The level of its entries: the raw helpers write only entries of
    /// that level into it, so no entry is ever read at another level.
    pub level: Level,
}

/// Remove `table` from a list of unlinked tables.
pub(crate) fn forget_in(list: &mut Vec<Unlinked>, table: PhysAddr) {
    if let Some(i) = list.iter().position(|u| u.table == table.0) {
        list.swap_remove(i);
    }
}

/// A mistake in the create/destroy-versus-sync protocol that the loom model
/// switches on in one [`PageTables`] to show that it finds the
/// interleaving that breaks the machine (`tests/loom_registry.rs`). Exists
/// only under `cfg(loom)`; the library's own paths never take these.
#[cfg(loom)]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoomBug {
    /// `create_space` copies the kernel half before taking the registry
    /// lock: a sync that runs in between misses the new root, and the copy
    /// missed the entry.
    CopyBeforeLock,
    /// `destroy_space` frees the tables before taking the root off the
    /// registry: a sync in between writes into freed frames.
    FreeBeforeUnregister,
}

#[cfg(loom)]
impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// Switch `bug` on for this machine (loom model only).
    #[doc(hidden)]
    pub fn with_loom_bug(mut self, bug: LoomBug) -> Self {
        self.loom_bug = Some(bug);
        self
    }

    /// `create_space` after allocating the roots, the wrong way round when
    /// `bug` concerns creation; `None` to go on the right way.
    fn create_space_broken(
        &self,
        bug: LoomBug,
        root: PhysAddr,
        user: Option<PhysAddr>,
    ) -> Option<Result<AddressSpace>> {
        match bug {
            LoomBug::CopyBeforeLock => Some((|| {
                // The failure cleanup is left out: this path exists to be
                // caught, and the model's memory never runs out.
                self.clone_kernel_halves(root, user)?;
                self.roots.lock().insert(root, user);
                Ok(AddressSpace::new(root, user, self.id))
            })()),
            LoomBug::FreeBeforeUnregister => None,
        }
    }
}
