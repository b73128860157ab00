//! Public read-only views of the tables: a visitor over a range (as
//! `aarch64-paging`'s `walk_range`, Linux's `walk_page_range()` with only
//! `pte_entry`/`pmd_entry` callbacks), and the raw top-level entry of a
//! space.

use super::{AddressSpace, PageTables};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::{check_range, Half};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::walk::visit::{Mapping, Visit};
use core::ops::ControlFlow;
use lock_api::RawMutex;

/// What [`PageTables::walk_range`] meets, in address order, each table
/// before the entries under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walked {
    /// A table below the root, holding entries of `level`.
    Table {
        /// The level of its entries.
        level: Level,
        /// Its physical address.
        table: PhysAddr,
    },
    /// A leaf mapping (a page, a block or a section).
    Leaf(Mapping),
}

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// Visit the tables and leaves that map `start..start+size` as `root`
    /// sees it (the kernel's root, a registered space's, or its PTI
    /// user-mode root), in address order; `f` may stop the walk with
    /// [`ControlFlow::Break`]. The range is page-aligned, non-empty and in
    /// one half of the address space ([`Error`] otherwise); on split-root
    /// architectures kernel addresses are walked from the kernel root, as
    /// the MMU does.
    ///
    /// Returns [`Error::Foreign`] for a root that is not this machine's.
    pub fn walk_range(
        &self,
        root: PhysAddr,
        start: VirtAddr,
        size: u64,
        mut f: impl FnMut(Walked) -> ControlFlow<()>,
    ) -> Result<()> {
        if !self.is_root(root) {
            return Err(Error::Foreign);
        }
        let half = if start.0 >= self.arch.kernel_start() {
            Half::Kernel
        } else {
            Half::User
        };
        let end = check_range(&self.arch, half, start, size)?;
        let root = match half {
            Half::Kernel => self.walk_root(root, start.0),
            // The kernel's own context has no user half with split roots.
            Half::User if self.arch.split_roots() && root == self.kernel_root => return Ok(()),
            Half::User => root,
        };
        let _ = self.tables().visit(root, start.0, end, &mut |v| match v {
            Visit::Leaf(m) => f(Walked::Leaf(m)),
            Visit::Table(level, table) => f(Walked::Table { level, table }),
        });
        Ok(())
    }

    /// The raw top-level entry of `space` for `va` (`*pgd_offset(mm, va)`),
    /// as the MMU reads it when the space is loaded: with split roots, a
    /// kernel address reads the kernel root's entry.
    ///
    /// Returns [`Error::Foreign`] for another machine's space and
    /// [`Error::NonCanonical`] for an address no root translates.
    pub fn top_level_entry(&self, space: &AddressSpace, va: VirtAddr) -> Result<u64> {
        if space.owner() != self.id() {
            return Err(Error::Foreign);
        }
        if !self.arch.is_canonical(va) {
            return Err(Error::NonCanonical(va));
        }
        let root = self.walk_root(space.root(), va.0 & !(PAGE_SIZE - 1));
        let t = self.tables();
        Ok(t.read(t.pgd_offset(root, va.0)))
    }
}
