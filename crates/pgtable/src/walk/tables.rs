//! Typed access to entries: `pgd_offset()` … `pte_offset_kernel()`, the
//! `*_none()` tests and `*_addr_end()`, with folding.

use super::shared::SharedSet;
use crate::addr::PhysAddr;
use crate::addr::PAGE_SIZE;
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::{Fragments, RawAccess, TableMemory};
use core::sync::atomic::{AtomicU64, Ordering};

/// The physical address of one entry in some table.
///
/// Which level it is read at is the caller's knowledge, as with Linux's
/// `pgd_t *` and `p4d_t *`; with folding, the same address is the entry of
/// several logical levels (`p4d_offset()` of a folded P4D returns the PGD
/// entry itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryPtr(pub PhysAddr);

/// An architecture and the memory its tables live in: everything a walk
/// needs to read and write entries.
pub(crate) struct Tables<'a, A, M: ?Sized> {
    pub arch: &'a A,
    pub mem: &'a M,
    /// Where tables smaller than a page come from.
    pub frags: &'a Fragments,
    /// Tables linked under many entries, which walks never write through.
    pub shared: &'a SharedSet,
}

impl<A, M: ?Sized> Clone for Tables<'_, A, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, M: ?Sized> Copy for Tables<'_, A, M> {}

/// How a table of `bytes` is carved out of table memory.
enum Size {
    Page,
    Fragment(u64),
    Block(u64),
}

fn size_of(bytes: u64) -> Size {
    if bytes == PAGE_SIZE {
        Size::Page
    } else if bytes < PAGE_SIZE {
        Size::Fragment(bytes.max(32))
    } else {
        Size::Block(bytes / PAGE_SIZE)
    }
}

impl<'a, A: Arch, M: TableMemory + ?Sized> Tables<'a, A, M> {
    /// The words of the page holding the 8-byte entry `e`, with `e`'s index
    /// among them, where the memory lends that page
    /// ([`TableMemory::table_words`]). Only a page lent whole (512 words)
    /// is taken: the walks' tight loops index it by the entries' own
    /// positions, and a memory lending fewer words is read entry by entry.
    #[inline]
    pub fn words_of(&self, e: EntryPtr) -> Option<(&'a [AtomicU64; 512], usize)> {
        if self.arch.entry_size() != 8 {
            return None;
        }
        let page = PhysAddr(e.0 .0 & !(PAGE_SIZE - 1));
        let mem: &'a M = self.mem;
        let words = mem.table_words(RawAccess::new(), page)?.try_into().ok()?;
        Some((words, ((e.0 .0 - page.0) / 8) as usize))
    }

    /// A zeroed table indexed by `level` (a level that is not folded; the
    /// root is indexed by [`Level::Pgd`]), of the architecture's size for it.
    #[inline]
    pub fn alloc(&self, level: Level) -> Result<PhysAddr> {
        let table = match size_of(self.arch.table_bytes(level)) {
            Size::Page => self.mem.alloc_table(RawAccess::new()),
            Size::Fragment(bytes) => self.frags.alloc(self.mem, bytes),
            Size::Block(pages) => self.mem.alloc_table_block(RawAccess::new(), pages),
        }?;
        self.addressable(level, table)
    }

    /// `table`, if an entry of this mode can point at it; otherwise it is
    /// given back and refused (a 32-bit entry format over table memory
    /// above 4 GiB would cut the address and write into another frame).
    #[inline]
    fn addressable(&self, level: Level, table: PhysAddr) -> Result<PhysAddr> {
        match table.0.checked_add(self.arch.table_bytes(level)) {
            Some(end) if end <= self.arch.phys_limit() => Ok(table),
            _ => {
                self.free(level, table);
                Err(Error::PhysTooLarge(table))
            }
        }
    }

    /// As [`alloc`](Self::alloc), for a table whose every entry the caller
    /// writes before linking it.
    #[inline]
    pub fn alloc_for_overwrite(&self, level: Level) -> Result<PhysAddr> {
        match size_of(self.arch.table_bytes(level)) {
            Size::Page => {
                let table = self.mem.alloc_table_for_overwrite(RawAccess::new())?;
                self.addressable(level, table)
            }
            _ => self.alloc(level),
        }
    }

    /// A user PTE table (`pte_alloc_one()`): from high memory when the
    /// architecture has HIGHPTE and the memory has some; says which.
    #[inline]
    pub fn alloc_user_pte(&self) -> Result<(PhysAddr, bool)> {
        if self.arch.highpte() && self.arch.table_bytes(Level::Pte) == PAGE_SIZE {
            if let Some(r) = self.mem.alloc_table_high(RawAccess::new()) {
                return r
                    .and_then(|pa| self.addressable(Level::Pte, pa))
                    .map(|pa| (pa, true));
            }
        }
        self.alloc(Level::Pte).map(|pa| (pa, false))
    }

    /// Give back a table from [`alloc`](Self::alloc) of the same `level`.
    #[inline]
    pub fn free(&self, level: Level, table: PhysAddr) {
        match size_of(self.arch.table_bytes(level)) {
            Size::Page => self.mem.free_table(RawAccess::new(), table),
            Size::Fragment(bytes) => self.frags.free(self.mem, table, bytes),
            Size::Block(pages) => self.mem.free_table_block(RawAccess::new(), table, pages),
        }
    }

    /// The table memory frames a table of `level` at `table` covers.
    pub fn frames_of(&self, level: Level, table: PhysAddr) -> impl Iterator<Item = u64> {
        let bytes = self.arch.table_bytes(level).max(1);
        let first = table.0 & !(PAGE_SIZE - 1);
        (first..table.0 + bytes).step_by(PAGE_SIZE as usize)
    }

    #[inline]
    pub fn read(&self, e: EntryPtr) -> u64 {
        if self.arch.entry_size() == 8 {
            self.mem.read_u64(e.0)
        } else {
            u64::from(self.mem.read_u32(e.0))
        }
    }

    #[inline]
    pub fn write(&self, e: EntryPtr, raw: u64) {
        if self.arch.entry_size() == 8 {
            self.mem.write_u64(RawAccess::new(), e.0, raw)
        } else {
            self.mem.write_u32(RawAccess::new(), e.0, raw as u32)
        }
    }

    /// `pgd_offset_pgd()`: the top-level entry of `root` for `va`.
    #[inline]
    pub fn pgd_offset(&self, root: PhysAddr, va: u64) -> EntryPtr {
        EntryPtr(PhysAddr(
            root.0 + self.arch.index(Level::Pgd, va) * self.arch.entry_size(),
        ))
    }

    /// The entry of `level` for `va` in `table`, a table of that level
    /// (what [`offset`](Self::offset) gives once it has decoded the parent).
    #[inline]
    pub fn entry_in(&self, table: PhysAddr, level: Level, va: u64) -> EntryPtr {
        EntryPtr(PhysAddr(
            table.0 + self.arch.index(level, va) * self.arch.entry_size(),
        ))
    }

    /// `p4d_offset()` … `pte_offset_kernel()`: the entry of `level` for `va`
    /// below `parent`, the entry of the level above. A folded level returns
    /// `parent` itself; `None` if `parent` is not a table entry, and for
    /// [`Level::Pgd`], which has no level above (`pgd_offset()` finds it).
    #[inline]
    pub fn offset(&self, level: Level, parent: EntryPtr, va: u64) -> Option<EntryPtr> {
        if self.arch.is_folded(level) {
            return Some(parent);
        }
        let up = *Level::ALL.get((level as usize).checked_sub(1)?)?;
        match self.decode(up, parent) {
            Decoded::Table(t) => Some(self.entry_in(t, level, va)),
            _ => None,
        }
    }

    /// The entry after `e` in the same table.
    #[inline]
    pub fn next_entry(&self, e: EntryPtr) -> EntryPtr {
        EntryPtr(PhysAddr(e.0 .0 + self.arch.entry_size()))
    }

    /// `pXd_none()`: a pass-through level is never none.
    #[inline]
    pub fn none(&self, level: Level, e: EntryPtr) -> bool {
        !self.arch.is_passthrough(level) && self.read(e) == 0
    }

    /// Decode `e` as an entry of `level` (which must not be a pass-through).
    #[inline]
    pub fn decode(&self, level: Level, e: EntryPtr) -> Decoded {
        self.arch.decode(level, self.read(e))
    }

    /// `pXd_addr_end()`: the end of `level`'s entry holding `addr`, or `end`
    /// if sooner. `end == 0` stands for the top of the address space.
    #[inline]
    pub fn addr_end(&self, level: Level, addr: u64, end: u64) -> u64 {
        span_end(self.arch.level_size(level), addr, end)
    }

    /// Whether a table holding entries of `holds` may be linked at an entry
    /// of `level`: the level must have an entry of its own, and the table
    /// must be of the level below it.
    pub fn link_fits(&self, level: Level, holds: Level) -> Result<()> {
        if self.arch.is_passthrough(level) {
            return Err(Error::FoldedLevel(level));
        }
        let needed = level.next().ok_or(Error::FoldedLevel(level))?;
        if holds != needed {
            return Err(Error::WrongLevel {
                table: holds,
                needed,
            });
        }
        Ok(())
    }

    /// Walk from `root` to the entry of `level` for `va`, if every table on
    /// the way exists.
    pub fn entry_at(&self, root: PhysAddr, level: Level, va: u64) -> Option<EntryPtr> {
        let mut e = self.pgd_offset(root, va);
        for l in Level::ALL[1..=level as usize].iter() {
            e = self.offset(*l, e, va)?;
        }
        Some(e)
    }

    /// Whether every entry of the table `table` (of real level `level`) is
    /// empty.
    pub fn table_is_empty(&self, level: Level, table: PhysAddr) -> bool {
        if self.arch.table_bytes(level) == PAGE_SIZE {
            // A page of 8-byte entries: one tight scan where the memory
            // lends the page's words.
            if let Some((words, _)) = self.words_of(EntryPtr(table)) {
                return words.iter().all(|w| w.load(Ordering::Acquire) == 0);
            }
        }
        let n = 1u64 << self.arch.level_bits(level);
        (0..n).all(|i| self.read(EntryPtr(PhysAddr(table.0 + i * self.arch.entry_size()))) == 0)
    }
}

/// `pXd_addr_end()` for entries spanning `size` bytes: the end of the
/// entry holding `addr`, or `end` if sooner (`end == 0` stands for the top
/// of the address space).
#[inline]
fn span_end(size: u64, addr: u64, end: u64) -> u64 {
    let boundary = addr.wrapping_add(size) & !(size - 1);
    if boundary.wrapping_sub(1) < end.wrapping_sub(1) {
        boundary
    } else {
        end
    }
}

/// Run `f` on each entry of `level` covering `addr..end`, starting with the
/// entry `first` (the loop body of every per-level walk function in
/// `mm/vmalloc.c`). A folded level spans its parent, so `f` runs once.
#[inline]
pub(crate) fn for_each_entry<A: Arch, M: TableMemory + ?Sized, C>(
    t: Tables<'_, A, M>,
    cx: &mut C,
    level: Level,
    first: EntryPtr,
    mut addr: u64,
    end: u64,
    mut f: impl FnMut(&mut C, EntryPtr, u64, u64) -> crate::Result<()>,
) -> crate::Result<()> {
    // Read once: `f` may run for every entry of a table, and the compiler
    // cannot tell that the mode's geometry stays the same across it.
    let (size, step) = (t.arch.level_size(level), t.arch.entry_size());
    let mut e = first;
    loop {
        let next = span_end(size, addr, end);
        f(cx, e, addr, next)?;
        addr = next;
        if addr == end {
            return Ok(());
        }
        e = EntryPtr(PhysAddr(e.0 .0 + step));
    }
}

/// As [`for_each_entry`], for a clear: `f` runs only on the entries that
/// are not zero (`p?d_none_or_clear_bad()` and `continue`). Where the
/// table is a page of 8-byte entries the memory lends, the zero ones are
/// passed by with one load each, not a call and a bounds-checked read: a
/// space's destroy crosses 256 top-level slots, most of them empty.
#[inline]
pub(crate) fn for_each_present_entry<A: Arch, M: TableMemory + ?Sized, C>(
    t: Tables<'_, A, M>,
    cx: &mut C,
    level: Level,
    first: EntryPtr,
    addr: u64,
    end: u64,
    mut f: impl FnMut(&mut C, EntryPtr, u64, u64) -> crate::Result<()>,
) -> crate::Result<()> {
    let words = match t.arch.table_bytes(level) == PAGE_SIZE {
        true => t.words_of(first),
        false => None,
    };
    let Some((words, from)) = words else {
        return for_each_entry(
            t,
            cx,
            level,
            first,
            addr,
            end,
            |cx, e, addr, next| match t.read(e) {
                0 => Ok(()),
                _ => f(cx, e, addr, next),
            },
        );
    };
    let size = t.arch.level_size(level);
    // The entries from `first` on, each `size` from the start of the
    // first's span (`end == 0` stands for the top of the address space).
    // A range never runs past its table; the count stays in the page.
    let base = addr & !(size - 1);
    let count = end.wrapping_sub(1).wrapping_sub(base) / size + 1;
    let count = usize::try_from(count).map_or(0, |n| n.min(words.len() - from));
    for (k, w) in words[from..from + count].iter().enumerate() {
        if w.load(Ordering::Acquire) == 0 {
            continue;
        }
        let span = base.wrapping_add(k as u64 * size);
        let e = EntryPtr(PhysAddr(first.0 .0 + k as u64 * 8));
        f(
            cx,
            e,
            if k == 0 { addr } else { span },
            span_end(size, span, end),
        )?;
    }
    Ok(())
}

/// The level the entries of a table indexed by `level` belong to (the
/// lowest of a chain of folded levels).
pub(crate) fn entry_level<A: Arch>(arch: &A, mut level: Level) -> Level {
    while arch.is_passthrough(level) {
        level = level.next().unwrap_or(Level::Pte);
    }
    level
}
