//! A loom model check of the library's own create/destroy-versus-sync
//! protocol (`space/lifecycle.rs`, `space/registry.rs`, `space/edit.rs`): the real
//! [`PageTables`] runs here, with its locks and atomics swapped for loom's.
//!
//! Built only with `RUSTFLAGS="--cfg loom"`; without it this file is empty:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p pgtable --test loom_registry --release
//! ```
//!
//! What is real and what is the model's:
//!
//! | part | under `cfg(loom)` |
//! |---|---|
//! | `PageTables::create_space`, `destroy_space`, `kernel().edit(..)` with its sync (`sync_level`), `clone_kernel_half` with PAE's per-space PMD copies, `free_kernel_copies`, `first_out_of_sync`, `reachable_tables` | the library's code, unchanged |
//! | init_mm's lock, `pgd_lock` (`roots`), the unlinked and fragment lists | `loom::sync::Mutex`, through `src/sync.rs` |
//! | the sync counters, the shared-table set, the temporary-map count | loom atomics, through `src/sync.rs` |
//! | the global machine counter `NEXT_ID` | `core`'s atomic: a static, which loom atomics cannot be (see `src/sync.rs`) |
//! | table memory | [`LoomMemory`] below: every word of a handed-out frame is a loom `AtomicU64`, read `Acquire` and written `Release` as `SparseMemory` and `OffsetMemory` do. It lends no whole tables (`table_words`), so `create_space` takes its zeroed-root path here, never `RootFill::Overwrite` (`space/root_fill.rs`), which writes the root under the same lock |
//!
//! [`LoomMemory`] makes a frame's atomics on the thread that allocates it,
//! so loom also reports a thread that reaches a table it never
//! synchronized with (a table published without `Release`/`Acquire` or a
//! lock). Frames are never handed out twice, and an access to a freed or
//! never-allocated frame panics (so does a free of one), so a sync writing
//! into a destroyed root is caught whichever interleaving brings it.
//!
//! Each model prepares page tables holding one space (and a second to
//! destroy, where a thread destroys), runs one thread that maps kernel
//! pages into entries no space has yet (`pt.kernel().edit(|e|
//! e.vmap_range(..))`, which syncs when the closure returns) beside one or
//! two threads that create or destroy spaces, and then, on the main thread
//! after every thread joined, checks: `first_out_of_sync() == None` (every
//! root, PTI user-mode roots and PAE per-space PMD copies included, agrees
//! with the kernel), each page translates through every live space, exactly
//! the live spaces are listed, and the table frames in use equal the count
//! the model expects, the independent walk of `tests/harness` and the
//! library's `reachable_tables()`.
//!
//! | model | paging | beside the edit | preemption bound |
//! |---|---|---|---|
//! | `create_races_a_new_top_level_slot` | x86-64 4-level, the edit fills an empty top-level slot | a create | none (exhaustive) |
//! | `destroy_races_a_new_top_level_slot` | same | a destroy; no panic, the survivor in sync | none |
//! | `two_creates_race_a_new_top_level_slot` | same | two creates | 3 |
//! | `create_and_destroy_race_a_new_top_level_slot` | same | a create and a destroy | 3 |
//! | `pti_user_roots_get_only_the_entry_area` | x86-64 with PTI, the edit fills a vmalloc slot and the CPU-entry-area slot | a create; every user-mode root has the entry-area slot only | none |
//! | `pti_create_and_destroy_race_the_entry_area` | same | a create and a destroy | 2 |
//! | `pae_per_space_pmd_copies_get_a_new_kernel_pmd_entry` | x86-32 PAE with per-process kernel PMDs, the edit fills a new kernel PMD entry that every space's own PMD copy must get | a create and a destroy (which frees a PMD copy the sync writes into) | 3 |
//!
//! The model has teeth: [`LoomBug`] (a `#[doc(hidden)]` switch that exists
//! only under `cfg(loom)`) makes one `PageTables` run the protocol wrong,
//! and the `*_is_caught` tests (`#[should_panic]`, explored exhaustively)
//! expect loom to find the interleaving that shows it:
//!
//! - `CopyBeforeLock`: `create_space` copies the kernel half before taking
//!   `pgd_lock`, so a sync in between misses the new root while the copy
//!   missed the new entry: a root out of sync, on x86-64
//!   (`copy_before_lock_is_caught`) and in a PAE PMD copy
//!   (`pae_copy_before_lock_is_caught`).
//! - `FreeBeforeUnregister`: `destroy_space` frees the tables before taking
//!   the root off the list, so a sync in between writes into a freed root
//!   (`free_before_unregister_is_caught`) or a freed PAE PMD copy
//!   (`pae_free_before_unregister_is_caught`); [`LoomMemory`] panics.
//!
//! Bounds: loom's documentation finds 2 or 3 preemptions enough to catch
//! most bugs; the models with two threads beside the main one are small
//! enough to explore without a bound. `LOOM_MAX_PREEMPTIONS` overrides
//! every model's bound. Each model prints how many executions it explored
//! and how long that took (`-- --nocapture`).
#![cfg(loom)]

#[path = "harness/mod.rs"]
mod harness;

use loom::sync::atomic::AtomicU64;
use loom::thread;
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;
use pgtable::PageSize;
use pgtable::{
    AddressSpace, Arch, Error, LoomBug, PageTables, PhysAddr, Prot, RawAccess, Result, TableMemory,
    VirtAddr, PAGE_SIZE, X86_64,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Preemptions loom may add to one execution of a model with three
/// threads beside the main one ("2 or 3 is enough to catch most bugs",
/// loom's documentation; 3 keeps the whole file under a minute here).
const PREEMPTIONS: Option<usize> = Some(3);

/// No bound: the models with two threads beside the main one are small
/// enough to explore exhaustively.
const EXHAUSTIVE: Option<usize> = None;

/// Words in a table frame.
const WORDS: usize = (PAGE_SIZE / 8) as usize;

/// Where the model's table frames start.
const BASE: u64 = 0x10_0000;

/// Frames the model's memory can hand out: more than any model uses.
const FRAMES: usize = 24;

/// A frame of [`LoomMemory`].
enum Frame {
    Free,
    Live(Arc<[AtomicU64]>),
    Freed,
}

/// Table memory whose words loom tracks.
///
/// The allocator's bookkeeping is behind a `std` mutex held across no point
/// where loom may switch threads (making a loom atomic is not one), so it
/// is one indivisible step to loom and never a place where a thread waits;
/// only the words are modelled. A frame's words are made when it is handed
/// out, on the allocating thread. Stricter than the [`TableMemory`]
/// contract, which lets a bad free be ignored: here it panics, since the
/// library never gives back a frame it does not hold.
struct LoomMemory {
    frames: Mutex<Vec<Frame>>,
}

impl LoomMemory {
    fn new() -> Self {
        LoomMemory {
            frames: Mutex::new((0..FRAMES).map(|_| Frame::Free).collect()),
        }
    }

    fn frames(&self) -> MutexGuard<'_, Vec<Frame>> {
        // Poisoned only by a panic the model already reports.
        self.frames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The words of the live frame holding `pa`, and the index of `pa`'s
    /// word; panics for a freed or never allocated frame, which no root
    /// may reach.
    fn words(&self, pa: PhysAddr) -> (Arc<[AtomicU64]>, usize) {
        let frame = usize::try_from((pa.0.wrapping_sub(BASE)) / PAGE_SIZE).unwrap_or(usize::MAX);
        let word = (pa.0 % PAGE_SIZE / 8) as usize;
        match self.frames().get(frame) {
            Some(Frame::Live(w)) => (w.clone(), word),
            Some(Frame::Freed) => panic!("access to {pa:?}, in a freed frame"),
            _ => panic!("access to {pa:?}, in no frame handed out"),
        }
    }
}

impl TableMemory for LoomMemory {
    fn alloc_table(&self, _: RawAccess<'_>) -> Result<PhysAddr> {
        let mut frames = self.frames();
        let i = frames
            .iter()
            .position(|f| matches!(f, Frame::Free))
            .ok_or(Error::OutOfMemory)?;
        frames[i] = Frame::Live((0..WORDS).map(|_| AtomicU64::new(0)).collect());
        Ok(PhysAddr(BASE + i as u64 * PAGE_SIZE))
    }

    fn free_table(&self, _: RawAccess<'_>, table: PhysAddr) {
        let mut frames = self.frames();
        let i = ((table.0.wrapping_sub(BASE)) / PAGE_SIZE) as usize;
        match frames.get(i) {
            // A frame is never handed out again, so a late access to it is
            // always seen as the use after free it is.
            Some(Frame::Live(_)) if table.0 % PAGE_SIZE == 0 => frames[i] = Frame::Freed,
            _ => panic!("free of {table:?}, not a live table frame"),
        }
    }

    fn read_u64(&self, pa: PhysAddr) -> u64 {
        let (w, i) = self.words(pa);
        w[i].load(Ordering::Acquire)
    }

    fn write_u64(&self, _: RawAccess<'_>, pa: PhysAddr, value: u64) {
        let (w, i) = self.words(pa);
        w[i].store(value, Ordering::Release);
    }

    fn read_u32(&self, pa: PhysAddr) -> u32 {
        let shift = (pa.0 & 4) * 8;
        (self.read_u64(PhysAddr(pa.0 & !7)) >> shift) as u32
    }

    fn write_u32(&self, _: RawAccess<'_>, pa: PhysAddr, value: u32) {
        let (w, i) = self.words(PhysAddr(pa.0 & !7));
        let shift = (pa.0 & 4) * 8;
        let mask = 0xffff_ffffu64 << shift;
        let mut old = w[i].load(Ordering::Relaxed);
        while let Err(now) = w[i].compare_exchange_weak(
            old,
            (old & !mask) | (u64::from(value) << shift),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            old = now;
        }
    }

    fn tables_in_use(&self) -> usize {
        self.frames()
            .iter()
            .filter(|f| matches!(f, Frame::Live(_)))
            .count()
    }
}

type Machine<A> = PageTables<A, LoomMemory>;

/// Run `model` over every interleaving loom explores within the preemption
/// bound `bound` (`LOOM_MAX_PREEMPTIONS` overrides it), and say how many
/// executions that was and how long it took, or at which execution the
/// model failed.
fn explore(name: &str, bound: Option<usize>, model: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = bound;
    }
    // Every word read is a loom operation, and the checks after the join
    // read whole tables: far more than loom's default of 1000 per execution.
    builder.max_branches = 100_000;
    let said = Said {
        name: name.to_owned(),
        bound: builder.preemption_bound,
        executions: Arc::new(AtomicUsize::new(0)),
        start: Instant::now(),
    };
    let counted = said.executions.clone();
    builder.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        model();
    });
}

/// What [`explore`] says when it ends, whether the model passed or failed.
struct Said {
    name: String,
    bound: Option<usize>,
    executions: Arc<AtomicUsize>,
    start: Instant,
}

impl Drop for Said {
    fn drop(&mut self) {
        let n = self.executions.load(Ordering::Relaxed);
        let outcome = if std::thread::panicking() {
            format!("failed in execution {n}")
        } else {
            format!("{n} executions passed")
        };
        println!(
            "{}: {outcome}, preemption bound {:?}, {:.1} s",
            self.name,
            self.bound,
            self.start.elapsed().as_secs_f64()
        );
    }
}

fn start_of<A: Arch>(arch: &A, kind: RegionKind) -> VirtAddr {
    VirtAddr(arch.layout().get(kind).expect("the region exists").start)
}

/// A kernel edit mapping one page at each of `vas`; it must have synced.
fn map_pages<A: Arch>(pt: &Machine<A>, vas: &[VirtAddr]) {
    let (r, report) = pt.kernel().edit(|e| {
        vas.iter().enumerate().try_for_each(|(i, va)| {
            let pa = PhysAddr(0x4000_0000 + i as u64 * PAGE_SIZE);
            e.vmap_range(*va, pa, PAGE_SIZE, Prot::KERNEL, PageSize::Base)
        })
    });
    r.expect("the model's memory does not run out");
    assert!(report.synced(), "the edit filled a new entry: {report:?}");
}

/// Every root in sync with the kernel, every page of `vas` mapped through
/// each root of `spaces`, and `tables` frames in use, all reachable.
fn check<A: Arch>(pt: &Machine<A>, spaces: &[&AddressSpace], vas: &[VirtAddr], tables: usize) {
    assert_eq!(pt.first_out_of_sync(), None, "a root is out of sync");
    for s in spaces {
        for (i, va) in vas.iter().enumerate() {
            let m = pt.translate(s.root(), *va).expect("mapped in every space");
            assert_eq!(m.pa, PhysAddr(0x4000_0000 + i as u64 * PAGE_SIZE));
        }
    }
    assert_eq!(pt.mem().tables_in_use(), tables, "frames in use");
    assert_eq!(harness::reachable_frames(pt), tables, "frames reachable");
    assert_eq!(pt.reachable_tables(), tables, "the library's own count");
}

/// Who runs beside the kernel edit.
#[derive(Clone, Copy)]
struct Race {
    /// Threads creating one space each.
    creators: usize,
    /// Whether a thread destroys a space created before.
    destroyer: bool,
}

/// On prepared page tables holding one space made before (and a second to
/// destroy, if `race.destroyer`), one thread maps `vas` (entries no space
/// has yet) while the others create or destroy spaces. Returns the joined
/// machine and the spaces alive at the end, the old one first.
fn race<A: Arch>(
    pt: Machine<A>,
    vas: &[VirtAddr],
    race: Race,
) -> (Arc<Machine<A>>, Vec<AddressSpace>) {
    let pt = Arc::new(pt);
    let old = pt.create_space().expect("memory for a root");
    let gone = race
        .destroyer
        .then(|| pt.create_space().expect("memory for a root"));
    let editor = {
        let (pt, vas) = (pt.clone(), vas.to_vec());
        thread::spawn(move || map_pages(&pt, &vas))
    };
    let creators: Vec<_> = (0..race.creators)
        .map(|_| {
            let pt = pt.clone();
            thread::spawn(move || pt.create_space().expect("memory for a root"))
        })
        .collect();
    let destroyer = gone.map(|gone| {
        let pt = pt.clone();
        thread::spawn(move || pt.destroy_space(gone).expect("ours").ignore())
    });
    let mut alive = vec![old];
    alive.extend(creators.into_iter().map(|c| c.join().expect("a creator")));
    if let Some(d) = destroyer {
        d.join().expect("the destroyer");
    }
    editor.join().expect("the editor");
    let mut listed = pt.roots();
    listed.sort();
    let mut want: Vec<_> = alive.iter().map(AddressSpace::root).collect();
    want.sort();
    assert_eq!(listed, want, "exactly the live spaces are listed");
    (pt, alive)
}

/// A machine of `arch` with `bug` switched on, if any.
fn machine<A: Arch>(arch: A, bug: Option<LoomBug>) -> Machine<A> {
    let pt = Machine::new(arch, LoomMemory::new()).expect("a kernel root");
    match bug {
        Some(bug) => pt.with_loom_bug(bug),
        None => pt,
    }
}

/// x86-64 4-level: `race` against an edit filling an empty top-level
/// kernel slot (the first of the vmalloc area).
fn x86_64_model(r: Race, bug: Option<LoomBug>) {
    let arch = X86_64::FOUR_LEVEL;
    let vas = [start_of(&arch, RegionKind::Vmalloc)];
    let (pt, alive) = race(machine(arch, bug), &vas, r);
    // The kernel root, the PUD, PMD and PTE tables mapped, a root a space.
    check(
        &pt,
        &alive.iter().collect::<Vec<_>>(),
        &vas,
        4 + alive.len(),
    );
    for s in alive {
        pt.destroy_space(s).expect("ours").ignore();
    }
    assert_eq!(pt.mem().tables_in_use(), 4, "only the kernel's tables left");
}

const CREATE: Race = Race {
    creators: 1,
    destroyer: false,
};

#[test]
fn create_races_a_new_top_level_slot() {
    explore("create_races_a_new_top_level_slot", EXHAUSTIVE, || {
        x86_64_model(CREATE, None)
    });
}

#[test]
fn two_creates_race_a_new_top_level_slot() {
    let r = Race {
        creators: 2,
        destroyer: false,
    };
    explore(
        "two_creates_race_a_new_top_level_slot",
        PREEMPTIONS,
        move || x86_64_model(r, None),
    );
}

const DESTROY: Race = Race {
    creators: 0,
    destroyer: true,
};

#[test]
fn destroy_races_a_new_top_level_slot() {
    explore("destroy_races_a_new_top_level_slot", EXHAUSTIVE, || {
        x86_64_model(DESTROY, None)
    });
}

const CREATE_AND_DESTROY: Race = Race {
    creators: 1,
    destroyer: true,
};

#[test]
fn create_and_destroy_race_a_new_top_level_slot() {
    explore(
        "create_and_destroy_race_a_new_top_level_slot",
        PREEMPTIONS,
        || x86_64_model(CREATE_AND_DESTROY, None),
    );
}

/// x86-64 4-level with PTI: `race` against an edit mapping a vmalloc page
/// and a CPU-entry-area page (two empty top-level slots). Every user-mode
/// root must get the entry-area slot and not the vmalloc one.
fn pti_model(r: Race) {
    let arch = X86_64::FOUR_LEVEL;
    let entry = start_of(&arch, RegionKind::CpuEntryArea);
    let vas = [start_of(&arch, RegionKind::Vmalloc), entry];
    let cea = arch.layout().get(RegionKind::CpuEntryArea).unwrap();
    let pt = machine(arch, None)
        .with_pti(VirtAddr(cea.start)..VirtAddr(cea.last + 1))
        .expect("no space yet");
    let (pt, alive) = race(pt, &vas, r);
    for s in &alive {
        let user = s.user_root().expect("PTI gives a user-mode root");
        assert!(pt.translate(user, vas[0]).is_none(), "vmalloc kept out");
        let m = pt.translate(user, entry).expect("the entry area is shared");
        assert_eq!(m.pa, PhysAddr(0x4000_0000 + PAGE_SIZE));
    }
    // The kernel root; a PUD, a PMD and a PTE table for each page; a root
    // and a user-mode root a space.
    let spaces: Vec<_> = alive.iter().collect();
    check(&pt, &spaces, &vas, 7 + 2 * alive.len());
}

#[test]
fn pti_user_roots_get_only_the_entry_area() {
    explore("pti_user_roots_get_only_the_entry_area", EXHAUSTIVE, || {
        pti_model(CREATE)
    });
}

/// With a destroyer too. Bounded at 2: each execution checks four roots
/// over two slots, and at 3 this model alone takes most of a minute.
#[test]
fn pti_create_and_destroy_race_the_entry_area() {
    explore(
        "pti_create_and_destroy_race_the_entry_area",
        Some(2),
        || pti_model(CREATE_AND_DESTROY),
    );
}

/// x86-32 PAE with a per-process kernel PMD: `race` against an edit that
/// fills a new entry of the kernel's PMD table, which the sync copies into
/// every space's own PMD table.
fn pae_model(r: Race, bug: Option<LoomBug>) {
    let arch = X86_32::PAE_UNSHARED_PMD;
    let vas = [start_of(&arch, RegionKind::Vmalloc)];
    let (pt, alive) = race(machine(arch, bug), &vas, r);
    // One page holds the 32-byte roots; the kernel's PMD table, the PTE
    // table mapped, and a PMD copy a space.
    check(
        &pt,
        &alive.iter().collect::<Vec<_>>(),
        &vas,
        3 + alive.len(),
    );
}

#[test]
fn pae_per_space_pmd_copies_get_a_new_kernel_pmd_entry() {
    explore(
        "pae_per_space_pmd_copies_get_a_new_kernel_pmd_entry",
        PREEMPTIONS,
        || pae_model(CREATE_AND_DESTROY, None),
    );
}

#[test]
#[should_panic(expected = "out of sync")]
fn copy_before_lock_is_caught() {
    explore("copy_before_lock_is_caught", EXHAUSTIVE, || {
        x86_64_model(CREATE, Some(LoomBug::CopyBeforeLock))
    });
}

#[test]
#[should_panic(expected = "in a freed frame")]
fn free_before_unregister_is_caught() {
    explore("free_before_unregister_is_caught", EXHAUSTIVE, || {
        x86_64_model(DESTROY, Some(LoomBug::FreeBeforeUnregister))
    });
}

#[test]
#[should_panic(expected = "out of sync")]
fn pae_copy_before_lock_is_caught() {
    explore("pae_copy_before_lock_is_caught", EXHAUSTIVE, || {
        pae_model(CREATE, Some(LoomBug::CopyBeforeLock))
    });
}

#[test]
#[should_panic(expected = "in a freed frame")]
fn pae_free_before_unregister_is_caught() {
    explore("pae_free_before_unregister_is_caught", EXHAUSTIVE, || {
        pae_model(DESTROY, Some(LoomBug::FreeBeforeUnregister))
    });
}
