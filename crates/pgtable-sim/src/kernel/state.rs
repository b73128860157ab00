//! What the simulated kernel keeps between its calls: the data frames it
//! hands out (`alloc_pages()`), the kernel ranges its users have mapped,
//! the frames behind each of them, the KASAN zero tables, arm64's
//! `reserved_pg_dir`, and the era's fault handler with the faults it
//! fixed. The machine carries it for the kernel that runs on it and reads
//! it only through the methods here.

use crate::era::FaultHandler;
use crate::frames::Frames;
use crate::vocab::{FaultRecord, SimError};
use pgtable::mm::KasanEarlyShadow;
use pgtable::PhysAddr;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// The simulated kernel's own state.
#[derive(Debug)]
pub struct KernelState {
    /// The data frames (`alloc_pages()`), the processes' pages included.
    pub(crate) frames: RefCell<Frames>,
    /// Kernel ranges mapped by the kernel users: start → (end, what).
    pub(crate) mapped: RefCell<BTreeMap<u64, (u64, &'static str)>>,
    /// Frames behind each vmalloc area, base-page vmemmap range, compound
    /// vmemmap, KASAN shadow, CPU entry area or percpu chunk.
    pub(crate) vm_frames: RefCell<BTreeMap<u64, Vec<PhysAddr>>>,
    /// Shared KASAN zero tables, once built.
    pub(crate) kasan_zero: RefCell<Option<KasanEarlyShadow>>,
    /// On split-root architectures, the empty table the kernel's own
    /// context runs with in its user-half root (arm64's `reserved_pg_dir`
    /// in TTBR0): a data frame never written; 0 elsewhere.
    pub(crate) reserved_pg_dir: u64,
    /// The era's fault handler, if it fixes kernel faults lazily.
    fault_handler: Cell<Option<FaultHandler>>,
    /// Faults the fault handler fixed, in order.
    fixed: RefCell<Vec<FaultRecord>>,
}

impl KernelState {
    /// A kernel with the data frames of `data_frames` (start, end), nothing
    /// mapped yet; on split-root architectures its `reserved_pg_dir` is
    /// the first frame.
    pub(crate) fn new(data_frames: (u64, u64), split_roots: bool) -> Result<Self, SimError> {
        let mut frames = Frames::new(data_frames);
        let reserved_pg_dir = if split_roots { frames.alloc()?.0 } else { 0 };
        Ok(KernelState {
            frames: RefCell::new(frames),
            mapped: RefCell::new(BTreeMap::new()),
            vm_frames: RefCell::new(BTreeMap::new()),
            kasan_zero: RefCell::new(None),
            reserved_pg_dir,
            fault_handler: Cell::new(None),
            fixed: RefCell::new(Vec::new()),
        })
    }

    /// One data frame (`alloc_page()`).
    pub(crate) fn alloc_frame(&self) -> Result<PhysAddr, SimError> {
        Ok(self.frames.borrow_mut().alloc()?)
    }

    /// Give back a frame from [`KernelState::alloc_frame`].
    pub(crate) fn free_frame(&self, pa: PhysAddr) {
        self.frames.borrow_mut().free(pa);
    }

    /// Data bytes handed out.
    pub(crate) fn data_in_use(&self) -> u64 {
        self.frames.borrow().in_use()
    }

    /// The frames behind a kernel range mapped at `va`.
    pub(crate) fn frames_of(&self, va: u64) -> Option<Vec<PhysAddr>> {
        self.vm_frames.borrow().get(&va).cloned()
    }

    /// Kernel ranges the kernel users mapped: (start, end, what).
    pub(crate) fn mapped_ranges(&self) -> Vec<(u64, u64, &'static str)> {
        self.mapped
            .borrow()
            .iter()
            .map(|(&s, &(e, w))| (s, e, w))
            .collect()
    }

    pub(crate) fn note_mapped(&self, start: u64, size: u64, what: &'static str) {
        self.mapped.borrow_mut().insert(start, (start + size, what));
    }

    pub(crate) fn note_unmapped(&self, start: u64) {
        self.mapped.borrow_mut().remove(&start);
    }

    /// Install (or remove) the era's fault handler.
    pub(crate) fn set_fault_handler(&self, h: Option<FaultHandler>) {
        self.fault_handler.set(h);
    }

    /// The fault handler installed, if any.
    pub(crate) fn fault_handler(&self) -> Option<FaultHandler> {
        self.fault_handler.get()
    }

    /// Note a fault the fault handler fixed.
    pub(crate) fn note_fixed(&self, f: FaultRecord) {
        self.fixed.borrow_mut().push(f);
    }

    /// Faults the fault handler fixed so far.
    pub(crate) fn fixed_faults(&self) -> Vec<FaultRecord> {
        self.fixed.borrow().clone()
    }
}
