//! A loom model of the create-versus-sync protocol of `space/registry.rs`
//! and `space/mod.rs`, checked over every interleaving loom explores.
//!
//! Built only with `RUSTFLAGS="--cfg loom"`; without it this file is empty:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p pgtable --test loom_registry --release
//! ```
//!
//! How the model mirrors the library:
//!
//! | library | model |
//! |---|---|
//! | a root's kernel top-level slots, read/written by `TableMemory::read_u64`/`write_u64` (one atomic load/store each; `Acquire`/`Release` in `SparseMemory`) | `Root { slots: [AtomicU64; SLOTS] }`, same orderings |
//! | `PageTables::kernel_root` | the `kernel` root |
//! | `PageTables::kernel` (`spin::Mutex<KernelState>`, init_mm's lock) | `kernel_lock: Mutex<()>`, held for a whole edit |
//! | `PageTables::roots` (`spin::Mutex<Registry>`, `pgd_lock` + `pgd_list`) | `registry: Mutex<Vec<Arc<Root>>>` |
//! | `create_space`: `alloc_table()`, then `roots.lock()`, `clone_kernel_half(root)` (load each kernel slot, store the non-zero ones), `roots.insert(root)`, unlock | `create_space` below, same order |
//! | a kernel edit: `pgd/p4d_populate_kernel` stores a top-level entry of the kernel root under the kernel lock, *not* the registry lock; `complete()` → `sync_kernel_mappings`: load the kernel's entries of the touched range into `wanted`, then `roots.lock()` and, for every listed root, store each wanted entry that differs | `kernel_edit` below, same order |
//!
//! After every thread is joined, every root in the registry must hold the
//! kernel's entry in every slot (`PageTables::first_out_of_sync() == None`).
//!
//! The two `*_is_caught` tests run the same model with the creator's steps
//! in a wrong order (copy before taking the registry lock; register, unlock,
//! then copy) and expect loom to find the interleaving that leaves a root
//! out of sync, so the model is known to have teeth.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

const SLOTS: usize = 2;

struct Root {
    slots: [AtomicU64; SLOTS],
}

impl Root {
    fn new() -> Arc<Root> {
        Arc::new(Root {
            slots: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }
}

struct Machine {
    kernel: Arc<Root>,
    kernel_lock: Mutex<()>,
    registry: Mutex<Vec<Arc<Root>>>,
}

impl Machine {
    fn new() -> Arc<Machine> {
        Arc::new(Machine {
            kernel: Root::new(),
            kernel_lock: Mutex::new(()),
            registry: Mutex::new(Vec::new()),
        })
    }

    /// `clone_kernel_half`: copy the non-zero kernel slots.
    fn clone_kernel_half(&self, root: &Root) {
        for s in 0..SLOTS {
            let raw = self.kernel.slots[s].load(Ordering::Acquire);
            if raw != 0 {
                root.slots[s].store(raw, Ordering::Release);
            }
        }
    }

    /// `create_space` as the library does it.
    fn create_space(&self) {
        let root = Root::new();
        let mut roots = self.registry.lock().unwrap();
        self.clone_kernel_half(&root);
        roots.push(root);
    }

    /// Wrong: copy the kernel half before taking the registry lock.
    fn create_space_copy_before_lock(&self) {
        let root = Root::new();
        self.clone_kernel_half(&root);
        let mut roots = self.registry.lock().unwrap();
        roots.push(root);
    }

    /// Wrong: register, unlock, then copy the kernel half as a plain copy
    /// of every slot (Linux's `clone_pgd_range()` is a memcpy).
    fn create_space_register_then_copy(&self) {
        let root = Root::new();
        self.registry.lock().unwrap().push(root.clone());
        for s in 0..SLOTS {
            let raw = self.kernel.slots[s].load(Ordering::Acquire);
            root.slots[s].store(raw, Ordering::Release);
        }
    }

    /// A kernel edit that populates top-level slot `slot` with `value`, then
    /// `complete()` → `sync_kernel_mappings`.
    fn kernel_edit(&self, slot: usize, value: u64) {
        let _kernel = self.kernel_lock.lock().unwrap();
        // pgd_populate_kernel: a plain atomic store into the kernel root.
        self.kernel.slots[slot].store(value, Ordering::Release);
        // sync_kernel_mappings: read what to copy, then copy under the
        // registry lock into every listed root whose entry differs.
        let wanted = self.kernel.slots[slot].load(Ordering::Acquire);
        let roots = self.registry.lock().unwrap();
        for root in roots.iter() {
            if root.slots[slot].load(Ordering::Acquire) != wanted {
                root.slots[slot].store(wanted, Ordering::Release);
            }
        }
    }

    /// `first_out_of_sync() == None`.
    fn assert_in_sync(&self) {
        let roots = self.registry.lock().unwrap();
        for (i, root) in roots.iter().enumerate() {
            for s in 0..SLOTS {
                let want = self.kernel.slots[s].load(Ordering::Acquire);
                let have = root.slots[s].load(Ordering::Acquire);
                assert_eq!(have, want, "root {i} slot {s} out of sync");
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Creator {
    Library,
    CopyBeforeLock,
    RegisterThenCopy,
}

/// `editors` kernel threads (each fills its own slot), `creators` threads
/// creating one space each.
fn model(editors: usize, creators: usize, how: Creator) {
    loom::model(move || {
        let m = Machine::new();
        let mut handles = Vec::new();
        for e in 0..editors {
            let m = m.clone();
            handles.push(thread::spawn(move || {
                m.kernel_edit(e, (0x1000 * (e as u64 + 1)) | 0x63)
            }));
        }
        for _ in 0..creators {
            let m = m.clone();
            handles.push(thread::spawn(move || match how {
                Creator::Library => m.create_space(),
                Creator::CopyBeforeLock => m.create_space_copy_before_lock(),
                Creator::RegisterThenCopy => m.create_space_register_then_copy(),
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        m.assert_in_sync();
    });
}

#[test]
fn one_edit_one_create() {
    model(1, 1, Creator::Library);
}

#[test]
fn one_edit_two_creates() {
    model(1, 2, Creator::Library);
}

#[test]
fn two_edits_one_create() {
    model(2, 1, Creator::Library);
}

#[test]
#[should_panic(expected = "out of sync")]
fn copy_before_lock_is_caught() {
    model(1, 1, Creator::CopyBeforeLock);
}

#[test]
#[should_panic(expected = "out of sync")]
fn register_then_copy_without_lock_is_caught() {
    model(1, 1, Creator::RegisterThenCopy);
}
