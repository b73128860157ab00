//! Data frames of the simulated machine (what `alloc_pages()` hands the
//! kernel users). Frames hold no data unless written: only their addresses
//! matter to the page tables.

use crate::vocab::SimError;
use pgtable::PhysAddr;

/// A bump allocator with free lists for 4 KiB pages and 2 MiB blocks.
#[derive(Debug)]
pub struct Frames {
    next: u64,
    end: u64,
    free_4k: Vec<u64>,
    free_2m: Vec<u64>,
    in_use: u64,
}

/// No data frame left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfFrames;

impl From<OutOfFrames> for SimError {
    fn from(_: OutOfFrames) -> Self {
        SimError::OutOfFrames
    }
}

impl Frames {
    /// Frames from `range` (start, end).
    pub fn new(range: (u64, u64)) -> Self {
        Frames {
            next: range.0,
            end: range.1,
            free_4k: Vec::new(),
            free_2m: Vec::new(),
            in_use: 0,
        }
    }
}

impl Frames {
    fn bump(&mut self, size: u64) -> Result<u64, OutOfFrames> {
        let pa = self.next.next_multiple_of(size);
        if pa + size > self.end {
            return Err(OutOfFrames);
        }
        // The alignment gap goes to the 4 KiB free list, not to waste.
        let mut gap = self.next;
        while gap < pa {
            self.free_4k.push(gap);
            gap += 4096;
        }
        self.next = pa + size;
        Ok(pa)
    }

    /// One 4 KiB frame.
    pub fn alloc(&mut self) -> Result<PhysAddr, OutOfFrames> {
        let pa = match self.free_4k.pop() {
            Some(pa) => pa,
            None => self.bump(4096)?,
        };
        self.in_use += 4096;
        Ok(PhysAddr(pa))
    }

    /// One 2 MiB-aligned 2 MiB block.
    pub fn alloc_2m(&mut self) -> Result<PhysAddr, OutOfFrames> {
        let pa = match self.free_2m.pop() {
            Some(pa) => pa,
            None => self.bump(2 << 20)?,
        };
        self.in_use += 2 << 20;
        Ok(PhysAddr(pa))
    }

    /// Give a 4 KiB frame back.
    pub fn free(&mut self, pa: PhysAddr) {
        self.free_4k.push(pa.0);
        self.in_use -= 4096;
    }

    /// Give a 2 MiB block back.
    pub fn free_2m(&mut self, pa: PhysAddr) {
        self.free_2m.push(pa.0);
        self.in_use -= 2 << 20;
    }

    /// Bytes handed out and not freed.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }
}

/// The machine's frames lent to a library call that allocates what it maps
/// ([`pgtable::FrameSource`]: the vmemmap's), noting each frame handed out.
pub(crate) struct Lent<'a> {
    frames: &'a std::cell::RefCell<Frames>,
    /// Every frame handed out, in order.
    pub handed: Vec<PhysAddr>,
}

impl<'a> Lent<'a> {
    pub(crate) fn new(frames: &'a std::cell::RefCell<Frames>) -> Self {
        Lent {
            frames,
            handed: Vec::new(),
        }
    }
}

impl pgtable::FrameSource for Lent<'_> {
    type Error = SimError;

    fn alloc(&mut self, size: u64) -> Result<PhysAddr, Self::Error> {
        let pa = match size {
            4096 => self.frames.borrow_mut().alloc()?,
            0x20_0000 => self.frames.borrow_mut().alloc_2m()?,
            _ => return Err(pgtable::Error::Misaligned(size).into()),
        };
        self.handed.push(pa);
        Ok(pa)
    }

    fn free(&mut self, pa: PhysAddr, size: u64) {
        match size {
            4096 => self.frames.borrow_mut().free(pa),
            0x20_0000 => self.frames.borrow_mut().free_2m(pa),
            _ => {}
        }
    }
}
