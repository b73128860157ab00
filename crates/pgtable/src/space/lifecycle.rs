//! Creating and destroying user address spaces (`pgd_alloc()`,
//! `pgd_free()`), and the loom model's broken variants of both.

use super::root_fill::RootFill;
#[cfg(loom)]
use super::LoomBug;
use super::{user, AddressSpace, PageTables, UserSpace};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Level};
use crate::error::{Refused, Result};
use crate::memory::TableMemory;
use lock_api::RawMutex;

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// `pgd_alloc()`: a new address space whose kernel half equals the
    /// kernel's, registered so that every later sync reaches it.
    pub fn create_space(&self) -> Result<AddressSpace> {
        let t = self.tables();
        let fill = self.root_fill();
        let root = self.alloc_root(fill)?;
        let user = match &self.pti {
            None => None,
            Some(_) => match self.alloc_root(fill) {
                Ok(u) => Some(u),
                Err(e) => {
                    t.free(Level::Pgd, root);
                    return Err(e);
                }
            },
        };
        #[cfg(loom)]
        if let Some(bug) = self.loom_bug {
            if let Some(space) = self.create_space_broken(bug, root, user, fill) {
                return space;
            }
        }
        let mut roots = self.roots.lock();
        if let Err(e) = self.clone_kernel_halves(root, user, fill) {
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
    /// slots into its user-mode root `user`, both allocated for `fill`.
    /// Callers hold the registry lock.
    fn clone_kernel_halves(
        &self,
        root: PhysAddr,
        user: Option<PhysAddr>,
        fill: RootFill,
    ) -> Result<()> {
        self.clone_kernel_half(root, self.arch.kernel_top_slots(), fill)?;
        match (user, &self.pti) {
            (Some(u), Some(shared)) => self.clone_kernel_half(u, shared.clone(), fill),
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
        fill: RootFill,
    ) -> Option<Result<AddressSpace>> {
        match bug {
            LoomBug::CopyBeforeLock => Some((|| {
                // The failure cleanup is left out: this path exists to be
                // caught, and the model's memory never runs out.
                self.clone_kernel_halves(root, user, fill)?;
                self.roots.lock().insert(root, user);
                Ok(AddressSpace::new(root, user, self.id))
            })()),
            LoomBug::FreeBeforeUnregister => None,
        }
    }
}
