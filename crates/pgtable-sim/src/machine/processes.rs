//! The machine's user processes: `fork()`, `mmap()`, `munmap()`, `exit()`.

use super::Machine;
use crate::bus::Bus;
use crate::vocab::{Context, SimError};
use pgtable::KernelPolicy;
use pgtable::{PhysAddr, VirtAddr};
use pgtable_mmu::Roots;

impl Machine {
    /// `fork()`/`exec()`: a new process with one user page; returns its id.
    pub fn create_process(&self) -> Result<usize, SimError> {
        let mut space = self.pt.create_space()?;
        let frame = self.kstate.alloc_frame()?;
        let r = self
            .pt
            .user(&mut space)
            .and_then(|mut u| u.map_pages(VirtAddr(0x40_0000), &[frame], pgtable::Prot::USER_RW));
        if let Err(e) = r {
            // Our own space, just created: the refusal cannot happen.
            let _ = self.pt.destroy_space(space);
            self.kstate.free_frame(frame);
            return Err(e.into());
        }
        let mut procs = self.processes.borrow_mut();
        procs.push(Some(space));
        Ok(procs.len() - 1)
    }

    /// `mmap()` + fault-in: map `pages` fresh frames at `va` in process
    /// `id`'s user half; returns the frames.
    pub fn user_map(
        &self,
        id: usize,
        va: u64,
        pages: usize,
        prot: pgtable::Prot,
    ) -> Result<Vec<PhysAddr>, SimError> {
        let frames = (0..pages)
            .map(|_| self.kstate.alloc_frame())
            .collect::<Result<Vec<_>, _>>()?;
        let mut procs = self.processes.borrow_mut();
        let space = procs
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or(SimError::NoProcess(id));
        let r = space.and_then(|s| {
            self.pt
                .user(s)
                .and_then(|mut u| u.map_pages(VirtAddr(va), &frames, prot))
                .map_err(SimError::from)
        });
        if let Err(e) = r {
            for f in frames {
                self.kstate.free_frame(f);
            }
            return Err(e);
        }
        Ok(frames)
    }

    /// `munmap()`: unmap `pages` pages at `va` in process `id`, flush every
    /// CPU running it, and free the frames.
    pub fn user_unmap(&self, id: usize, va: u64, pages: usize) -> Result<(), SimError> {
        let mut procs = self.processes.borrow_mut();
        let space = procs
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or(SimError::NoProcess(id))?;
        let frames: Vec<PhysAddr> = (0..pages as u64)
            .filter_map(|i| {
                self.pt
                    .translate(space.root(), VirtAddr(va + i * 4096))
                    .map(|m| m.translate(VirtAddr(va + i * 4096)))
            })
            .collect();
        // The flush below covers every CPU running this process (a
        // superset of the range the obligation names).
        self.pt
            .user(space)?
            .unmap(VirtAddr(va), pages as u64 * 4096)?
            .ignore();
        drop(procs);
        for c in self
            .cpus
            .borrow_mut()
            .iter_mut()
            .filter(|c| c.ctx == Context::Process(id))
        {
            c.cpu.load(c.cpu.roots());
        }
        for f in frames {
            self.kstate.free_frame(f);
        }
        Ok(())
    }

    /// `exit()`: destroy a process no CPU runs on.
    pub fn destroy_process(&self, id: usize) -> Result<(), SimError> {
        if self
            .cpus
            .borrow()
            .iter()
            .any(|c| c.ctx == Context::Process(id))
        {
            return Err(SimError::ProcessBusy(id));
        }
        let space = self
            .processes
            .borrow_mut()
            .get_mut(id)
            .and_then(Option::take)
            .ok_or(SimError::NoProcess(id))?;
        let mut frames = Vec::new();
        let user_end = self.arch.user_end();
        let roots = Roots::single(space.root().0);
        let _ = self
            .arch
            .mmu()
            .for_each_leaf(&Bus(self.pt.mem()), &roots, 0, user_end, &mut |l| {
                frames.push(l.xlat.pa)
            });
        let flush = self.pt.destroy_space(space).map_err(pgtable::Error::from)?;
        // No CPU runs the process (checked above); its frames go back only
        // after every CPU has dropped what it may still cache.
        self.flush_tlb(flush);
        for f in frames {
            self.kstate.free_frame(PhysAddr(f));
        }
        Ok(())
    }

    /// Ids of the live processes.
    pub fn process_ids(&self) -> Vec<usize> {
        self.processes
            .borrow()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| i)
            .collect()
    }
}
