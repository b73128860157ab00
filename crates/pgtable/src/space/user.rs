//! User address spaces.

use super::handle::UserTable;
use super::PageTables;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::{check_phys, check_prot, check_range, Half};
use crate::error::Refused;
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::sync::DefaultLock;
use crate::tlb::{FlushRange, FlushScope, TlbFlush};
use crate::walk::map::{map_range, MapCtx, Source};
use crate::walk::pgalloc::{Populate, Side, Tracker};
use crate::walk::tables::EntryPtr;
use crate::walk::unmap::{clear_range, unmap_range, Pass};
use crate::walk::visit::Mapping;
use lock_api::RawMutex;

/// A user address space (an `mm_struct`): owns its root and its user-half
/// tables. Not `Clone`: [`PageTables::destroy_space`] consumes it, so a
/// destroyed root cannot be used again.
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "an address space that is dropped without destroy_space leaks its tables"]
pub struct AddressSpace {
    root: PhysAddr,
    user_root: Option<PhysAddr>,
    /// The identity of the `PageTables` that made it.
    owner: u64,
    /// The ASID/PCID the caller runs it under, named in its flushes.
    asid: Option<u16>,
}

impl AddressSpace {
    pub(crate) fn new(root: PhysAddr, user_root: Option<PhysAddr>, owner: u64) -> Self {
        AddressSpace {
            root,
            user_root,
            owner,
            asid: None,
        }
    }

    /// Record the ASID (arm64, riscv) or PCID (x86-64) this space runs
    /// under (`mm->context.id`), so the [`TlbFlush`]es of its unmaps name
    /// it. The library does not allocate ASIDs; the kernel does.
    pub fn set_asid(&mut self, asid: u16) {
        self.asid = Some(asid);
    }

    /// The ASID given with [`set_asid`](Self::set_asid), if any.
    pub fn asid(&self) -> Option<u16> {
        self.asid
    }

    pub(crate) fn owner(&self) -> u64 {
        self.owner
    }

    /// The root (`mm->pgd`), what a CPU loads to run in this space.
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    /// Under page-table isolation, the root loaded while in user mode
    /// (`kernel_to_user_pgdp(mm->pgd)`): the same user half, and of the
    /// kernel only the entry area.
    pub fn user_root(&self) -> Option<PhysAddr> {
        self.user_root
    }
}

/// Edits of one address space's user half (`mm->page_table_lock` held, as
/// the `&mut AddressSpace` guarantees).
pub struct UserSpace<'s, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pt: &'s PageTables<A, M, L>,
    space: &'s mut AddressSpace,
}

impl<'s, A: Arch, M: TableMemory, L: RawMutex> UserSpace<'s, A, M, L> {
    pub(crate) fn new(pt: &'s PageTables<A, M, L>, space: &'s mut AddressSpace) -> Self {
        UserSpace { pt, space }
    }

    /// A user walk: user tables are not synced, so the mask it records
    /// into is the caller's scratch one.
    fn populate<'t>(&self, tracker: &'t mut Tracker) -> Populate<'t, A, M>
    where
        's: 't,
    {
        Populate {
            t: self.pt.tables(),
            side: Side::User,
            tracker,
        }
    }

    fn map(
        &mut self,
        va: VirtAddr,
        end: u64,
        src: Source<'_>,
        prot: Prot,
        max_shift: u32,
    ) -> Result<()> {
        check_prot(Half::User, prot)?;
        let mut scratch = Tracker::default();
        let mut cx = MapCtx {
            pop: self.populate(&mut scratch),
            prot,
            max_shift,
            start: va.0,
            src,
            done: va.0,
        };
        let r = map_range(&mut cx, self.space.root, end, None);
        self.mirror(va.0, end);
        r
    }

    /// `pti_set_user_pgtbl()`: copy the top-level user entries over
    /// `start..end` into the PTI user-mode root.
    fn mirror(&self, start: u64, end: u64) {
        let Some(user) = self.space.user_root else {
            return;
        };
        let t = self.pt.tables();
        let (first, last) = (
            t.arch.index(Level::Pgd, start),
            t.arch.index(Level::Pgd, end - 1),
        );
        for slot in first..=last {
            let off = slot * t.arch.entry_size();
            let raw = t.read(EntryPtr(PhysAddr(self.space.root.0 + off)));
            t.write(EntryPtr(PhysAddr(user.0 + off)), raw);
        }
    }

    /// Map `va..va+size` to the contiguous physical range at `pa`, with
    /// leaves up to `max_page` where alignment allows.
    pub fn map_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page: crate::PageSize,
    ) -> Result<()> {
        let end = check_range(self.pt.arch(), Half::User, va, size)?;
        check_phys(self.pt.arch(), pa, size)?;
        let shift = max_page.shift(self.pt.arch());
        self.map(va, end, Source::Contiguous(pa), prot, shift)
    }

    /// Map one frame per base page from `va`.
    pub fn map_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        let size = (frames.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(Error::Wraps)?;
        let end = check_range(self.pt.arch(), Half::User, va, size)?;
        for &f in frames {
            check_phys(self.pt.arch(), f, PAGE_SIZE)?;
        }
        self.map(va, end, Source::Pages(frames), prot, 12)
    }

    /// Unmap `va..va+size`, which must be mapped in full; empty tables are
    /// freed. Returns the `flush_tlb_mm_range()` the caller owes (naming
    /// this space's root and ASID) before reusing the frames; a refused call
    /// changes nothing and owes none.
    pub fn unmap(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
        let end = check_range(self.pt.arch(), Half::User, va, size)?;
        let mut scratch = Tracker::default();
        let mut pop = self.populate(&mut scratch);
        unmap_range(&mut pop, self.space.root, va.0, end, None, Pass::Check)?;
        let cleared = unmap_range(&mut pop, self.space.root, va.0, end, None, Pass::Clear)?;
        self.mirror(va.0, end);
        Ok(TlbFlush::new(FlushRange {
            scope: FlushScope::User {
                root: self.space.root,
                asid: self.space.asid,
            },
            start: va,
            end: VirtAddr(end),
            stride: cleared.smallest_leaf.unwrap_or(Level::Pte),
            freed_tables: cleared.freed_tables,
        }))
    }

    /// The leaf mapping `va` in this space (user or kernel half).
    pub fn translate(&self, va: VirtAddr) -> Option<Mapping> {
        self.pt.translate(self.space.root, va)
    }

    /// `pte_alloc_one()`: a user PTE table (`pgtable_t`), from high memory
    /// under HIGHPTE when the table memory has some.
    pub fn pte_alloc_one(&mut self) -> Result<UserTable<'s, A, M, L>> {
        let (frame, high) = self.pt.tables().alloc_user_pte()?;
        Ok(UserTable {
            pt: self.pt,
            frame,
            level: Level::Pte,
            high,
        })
    }

    /// `p4d_alloc_one()` / `pud_alloc_one()` / `pmd_alloc_one()` (and
    /// `pte_alloc_one()` for [`Level::Pte`]): a zeroed user table of the
    /// entries of `level`, to link with the populate helpers below. A
    /// folded level (or the root's) has none: [`Error::FoldedLevel`].
    pub fn alloc_table(&mut self, level: Level) -> Result<UserTable<'s, A, M, L>> {
        let t = self.pt.tables();
        if t.arch.is_folded(level) || level == Level::Pgd {
            return Err(Error::FoldedLevel(level));
        }
        if level == Level::Pte {
            return self.pte_alloc_one();
        }
        Ok(UserTable {
            pt: self.pt,
            frame: t.alloc(level)?,
            level,
            high: false,
        })
    }

    /// `pte_free()`: give back a user table that was never linked (what
    /// dropping it does too).
    pub fn pte_free(&mut self, pte: UserTable<'s, A, M, L>) {
        drop(pte);
    }

    /// `pte_offset_map()`: the PTE for `va` below the PMD entry `pmd` of
    /// this space, or `None` if `pmd` holds no PTE table. A table in high
    /// memory is reached through a temporary kernel mapping
    /// (`kmap_local_page()`), counted in
    /// [`PageTables::temporary_maps`] until the returned map is dropped
    /// (`pte_unmap()`); a lowmem table needs none.
    pub fn pte_offset_map(&self, pmd: EntryPtr, va: VirtAddr) -> Option<PteMap<'s, A, M, L>> {
        let t = self.pt.tables();
        let e = t.offset(Level::Pte, pmd, va.0)?;
        let table = PhysAddr(e.0 .0 & !(t.arch.table_bytes(Level::Pte) - 1));
        let temporary = t.arch.highpte() && t.mem.is_high(table);
        if temporary {
            self.pt
                .kmaps
                .fetch_add(1, core::sync::atomic::Ordering::AcqRel);
        }
        Some(PteMap {
            pt: self.pt,
            entry: e,
            temporary,
        })
    }

    /// `pgd_offset()`: this space's root entry for a user address.
    pub fn pgd_offset(&self, va: VirtAddr) -> Result<EntryPtr> {
        check_range(
            self.pt.arch(),
            Half::User,
            VirtAddr(va.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        Ok(self.pt.tables().pgd_offset(self.space.root, va.0))
    }

    /// `p4d_offset()` … `pte_offset_map()`: the entry of `level` below
    /// `parent`; `None` if `parent` holds no table.
    pub fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
        self.pt.tables().offset(level, parent, va.0)
    }

    /// Link `table` at the entry `e` of `level` for the user address
    /// `addr`, which must be this space's (empty) entry of that level for
    /// `addr`: anything else could reach the kernel half or another space.
    /// The table must be this machine's and hold the entries of the level
    /// below `level`.
    fn populate_at(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        match self.check_slot(level, addr, e, &table) {
            Ok(()) => {
                let frame = table.into_linked();
                self.populate(&mut Tracker::default())
                    .populate(level, addr.0, e, frame);
                self.mirror(addr.0, addr.0 + 1);
                Ok(())
            }
            Err(error) => Err(Refused {
                error,
                value: table,
            }),
        }
    }

    fn check_slot(
        &self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: &UserTable<'s, A, M, L>,
    ) -> Result<()> {
        check_range(
            self.pt.arch(),
            Half::User,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        let t = self.pt.tables();
        if !core::ptr::eq(table.pt, self.pt) {
            return Err(Error::Foreign);
        }
        t.link_fits(level, table.level)?;
        if t.entry_at(self.space.root, level, addr.0) != Some(e) {
            return Err(Error::ForeignEntry(addr));
        }
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
        Ok(())
    }

    /// `pgd_populate(mm, pgd, p4d)` for the user address `addr`.
    pub fn pgd_populate(
        &mut self,
        addr: VirtAddr,
        pgd: EntryPtr,
        p4d: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pgd, addr, pgd, p4d)
    }

    /// `p4d_populate(mm, p4d, pud)` for the user address `addr`.
    pub fn p4d_populate(
        &mut self,
        addr: VirtAddr,
        p4d: EntryPtr,
        pud: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::P4d, addr, p4d, pud)
    }

    /// `pud_populate(mm, pud, pmd)` for the user address `addr`.
    pub fn pud_populate(
        &mut self,
        addr: VirtAddr,
        pud: EntryPtr,
        pmd: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pud, addr, pud, pmd)
    }

    /// `pmd_populate(mm, pmd, pte)` for the user address `addr`: takes the
    /// user PTE table by value, so it is linked in exactly once; a refused
    /// call hands it back.
    pub fn pmd_populate(
        &mut self,
        addr: VirtAddr,
        pmd: EntryPtr,
        pte: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pmd, addr, pmd, pte)
    }
}

/// A user PTE reached by [`UserSpace::pte_offset_map`]; dropping it is
/// `pte_unmap()`.
pub struct PteMap<'s, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pt: &'s PageTables<A, M, L>,
    entry: EntryPtr,
    temporary: bool,
}

impl<A: Arch, M: TableMemory, L: RawMutex> PteMap<'_, A, M, L> {
    /// The entry.
    pub fn entry(&self) -> EntryPtr {
        self.entry
    }

    /// Whether a temporary mapping was needed (the table is in high memory).
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The entry, decoded.
    pub fn read(&self) -> crate::arch::Decoded {
        self.pt.tables().decode(Level::Pte, self.entry)
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> Drop for PteMap<'_, A, M, L> {
    fn drop(&mut self) {
        if self.temporary {
            self.pt
                .kmaps
                .fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
        }
    }
}

/// Free every user table of `root` (leaves are the caller's frames).
pub(crate) fn free_user_half<A: Arch, M: TableMemory, L: RawMutex>(
    pt: &PageTables<A, M, L>,
    root: PhysAddr,
) {
    let mut scratch = Tracker::default();
    let mut pop = Populate {
        t: pt.tables(),
        side: Side::User,
        tracker: &mut scratch,
    };
    clear_range(&mut pop, root, 0, pt.arch().user_end(), None);
}
