//! User address spaces.

use super::PageTables;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::{check_phys, check_prot, check_range, Half};
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

mod tables;

pub use tables::PteMap;

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
