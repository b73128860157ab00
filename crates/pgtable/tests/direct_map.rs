//! `DirectMap`: a kernel's frame allocator and direct map as table memory.
//! The frames it holds are the only memory the library touches through it.

use pgtable::PageSize;
use pgtable::{
    DirectMap, FrameAllocator, MemoryError, PageTables, PhysAddr, Prot, TableMemory, VirtAddr,
    PAGE_SIZE, X86_64,
};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::Mutex;

const RAM: u64 = 16 << 20;
const SIZE: u64 = 64 * PAGE_SIZE;

/// A free-list allocator that records what it got back.
struct List {
    free: Mutex<Vec<u64>>,
    returned: Mutex<Vec<u64>>,
}

// SAFETY: each frame is in `free` once; a frame handed out leaves it until
// it is given back.
unsafe impl FrameAllocator for List {
    fn allocate_frame(&self) -> Option<PhysAddr> {
        self.free.lock().unwrap().pop().map(PhysAddr)
    }
    fn deallocate_frame(&self, frame: PhysAddr) {
        self.returned.lock().unwrap().push(frame.0);
        self.free.lock().unwrap().push(frame.0);
    }
}

struct Host {
    buf: *mut u8,
    layout: Layout,
}

impl Host {
    fn new() -> Host {
        let layout = Layout::from_size_align(SIZE as usize, PAGE_SIZE as usize).unwrap();
        // SAFETY: non-zero size.
        let buf = unsafe { alloc_zeroed(layout) };
        assert!(!buf.is_null());
        Host { buf, layout }
    }
    fn offset(&self) -> u64 {
        (self.buf.expose_provenance() as u64).wrapping_sub(RAM)
    }
    fn memory(&self, frames: Vec<u64>) -> DirectMap<List> {
        let list = List {
            free: Mutex::new(frames),
            returned: Mutex::new(Vec::new()),
        };
        // SAFETY: the buffer is RAM..RAM+SIZE at `offset + pa`, used only
        // for tables, and outlives the memory (dropped first in each test).
        unsafe { DirectMap::new(list, self.offset(), PhysAddr(RAM)..PhysAddr(RAM + SIZE)) }.unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.buf, self.layout) };
    }
}

fn all_frames() -> Vec<u64> {
    (0..SIZE / PAGE_SIZE)
        .rev()
        .map(|i| RAM + i * PAGE_SIZE)
        .collect()
}

#[test]
fn maps_unmaps_and_gives_emptied_tables_back() {
    let host = Host::new();
    let pt = PageTables::new(X86_64::FOUR_LEVEL, host.memory(all_frames())).unwrap();
    let base = pt.mem().tables_in_use();
    let va = VirtAddr(0xffff_c900_0000_0000);
    let (r, _) = pt.kernel().edit(|e| {
        e.vmap_range(
            va,
            PhysAddr(0x20_0000),
            8 * PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    assert_eq!(pt.kernel().translate(va).unwrap().pa, PhysAddr(0x20_0000));
    let (f, _) = pt.kernel().edit(|e| e.vunmap_range(va, 8 * PAGE_SIZE));
    f.unwrap().ignore();
    // The top-level kernel entry's table stays (as in Linux); the PMD and
    // PTE tables below it went back to the allocator.
    assert!(pt.mem().tables_in_use() > base);
    assert_eq!(pt.mem().frames().returned.lock().unwrap().len(), 2);
    drop(pt);
}

#[test]
fn bad_frames_from_the_allocator_are_refused() {
    let host = Host::new();
    // Misaligned, outside the RAM range, then the same frame twice.
    let frames = vec![RAM + PAGE_SIZE, RAM + PAGE_SIZE, RAM + SIZE, RAM + 8];
    let m = host.memory(frames);
    assert!(PageTables::new(X86_64::FOUR_LEVEL, &m).is_err());
    assert!(PageTables::new(X86_64::FOUR_LEVEL, &m).is_err());
    // RAM + PAGE_SIZE was taken once and kept.
    assert!(PageTables::new(X86_64::FOUR_LEVEL, &m).is_ok());
    assert!(PageTables::new(X86_64::FOUR_LEVEL, &m).is_err());
}

#[test]
fn reads_outside_held_frames_touch_nothing() {
    let host = Host::new();
    let m = host.memory(all_frames());
    // Inside RAM but never handed out; outside RAM; misaligned.
    for pa in [RAM, RAM + SIZE - 8, 0, !7, RAM + 3] {
        assert_eq!(m.read_u64(PhysAddr(pa)), 0, "{pa:#x}");
        assert_eq!(m.read_u32(PhysAddr(pa)), 0, "{pa:#x}");
    }
}

#[test]
fn construction_is_validated() {
    let host = Host::new();
    let mk = |off: u64, r: std::ops::Range<u64>| {
        let list = List {
            free: Mutex::new(Vec::new()),
            returned: Mutex::new(Vec::new()),
        };
        // SAFETY: refused before any access, or never used.
        unsafe { DirectMap::new(list, off, PhysAddr(r.start)..PhysAddr(r.end)) }.err()
    };
    assert_eq!(
        mk(host.offset() + 8, RAM..RAM + SIZE),
        Some(MemoryError::Misaligned)
    );
    assert_eq!(
        mk(host.offset(), RAM..RAM + 8),
        Some(MemoryError::Misaligned)
    );
    assert_eq!(mk(host.offset(), RAM..RAM), Some(MemoryError::Empty));
    // `offset + RAM` is the last page of the address space: the range wraps.
    let wraps = 0u64.wrapping_sub(RAM + PAGE_SIZE);
    assert_eq!(mk(wraps, RAM..RAM + SIZE), Some(MemoryError::Overflow));
}
