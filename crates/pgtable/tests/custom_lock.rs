//! A kernel's own lock (`lock_api::RawMutex`) in place of the spin lock:
//! here one that counts how often it is taken and how many holders it has,
//! standing in for a lock that turns interrupts off while held.

use lock_api::{GuardSend, RawMutex};
use pgtable::PageSize;
use pgtable::{PageTables, PhysAddr, Prot, SparseMemory, SyncPolicy, VirtAddr, PAGE_SIZE, X86_64};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static TAKEN: AtomicUsize = AtomicUsize::new(0);
static HELD: AtomicUsize = AtomicUsize::new(0);

struct IrqLock(AtomicBool);

// SAFETY: a test-and-set lock: `lock` returns only once this thread set the
// flag, and only the holder clears it.
unsafe impl RawMutex for IrqLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: IrqLock = IrqLock(AtomicBool::new(false));
    type GuardMarker = GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            std::hint::spin_loop();
        }
    }

    fn try_lock(&self) -> bool {
        let got = self
            .0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if got {
            // "Interrupts off" from here until unlock.
            TAKEN.fetch_add(1, Ordering::SeqCst);
            HELD.fetch_add(1, Ordering::SeqCst);
        }
        got
    }

    unsafe fn unlock(&self) {
        HELD.fetch_sub(1, Ordering::SeqCst);
        self.0.store(false, Ordering::Release);
    }
}

#[test]
fn the_machines_locks_are_the_kernels() {
    let mem = SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32));
    let pt =
        PageTables::<_, _, IrqLock>::with_lock(X86_64::FOUR_LEVEL, mem, SyncPolicy::Eager).unwrap();
    let before = TAKEN.load(Ordering::SeqCst);
    let s = pt.create_space().unwrap();
    let va = VirtAddr(0xffff_c900_0000_0000);
    let (r, report) = pt.kernel().edit(|e| {
        e.vmap_range(
            va,
            PhysAddr(0x20_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    assert!(report.synced());
    assert!(pt.translate(s.root(), va).is_some());
    pt.destroy_space(s).unwrap().ignore();
    // pgd_lock for create and destroy, init_mm's lock for the edit (and
    // pgd_lock again for its sync): all through the kernel's lock, and all
    // released.
    assert!(TAKEN.load(Ordering::SeqCst) - before >= 4);
    assert_eq!(HELD.load(Ordering::SeqCst), 0);
}
