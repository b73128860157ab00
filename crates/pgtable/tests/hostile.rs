//! Hostile inputs to every public entry point of [`KernelEdit`],
//! [`UserSpace`] and [`PageTables`]: misaligned, empty, huge and wrapping
//! sizes, non-canonical addresses, the wrong half, physical addresses past
//! 2^52, double maps, unmaps of holes, huge and base mappings that overlap,
//! partial unmaps of huge leaves, absurd `max_page_shift` values, entries
//! that do not belong to the address given.
//!
//! Each must come back as a typed `Err` (the exact variant where one is well
//! defined), must not panic, and must change nothing: a snapshot of every
//! reachable table entry, of `tables_in_use`, of `stats()` and of the sync
//! state is identical before and after. A call that fails *part-way* (it
//! mapped some pages, then hit something already mapped) may keep the empty
//! tables it linked in, as the crate documents; for those only the leaves,
//! the sync state and the frame accounting are compared.
//!
//! The table test prints how many bad inputs it tried. Inputs that the
//! library currently mishandles have their own tests below the table, named
//! after what should happen.

mod common;
use pgtable::PageSize;
use pgtable::{KernelPolicy, PagingGeometry};

const PAGE_SIZES: [PageSize; 3] = [PageSize::Base, PageSize::Pmd, PageSize::Pud];
use common::harness;

use common::*;
use harness::{diff, snapshot, Snapshot};
use pgtable::{
    Access, CacheMode, EntryPtr, Error, Level, PhysAddr, Prot, TableMemory, VirtAddr, PAGE_SIZE,
    X86_64,
};
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

const M2: u64 = 1 << 21;
/// The first byte of the last page of the 64-bit space.
const LAST_PAGE: u64 = !0xfff;
const G1: u64 = 1 << 30;
const P52: u64 = 1 << 52;

/// What a refused call must return.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Exactly this error.
    Exact(Error),
    /// Some error; the variant is not pinned down by the documentation.
    AnyErr,
}

/// How much a refused call may change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Nothing at all.
    Nothing,
    /// It failed part-way: it may keep empty tables it linked in (and sync
    /// them), but no leaf changes, every root stays in sync and no frame
    /// leaks.
    KeepsTables,
}

struct Table<'a> {
    pt: &'a Sim,
    mode: &'static str,
    tried: usize,
    failures: Vec<String>,
}

impl<'a> Table<'a> {
    fn new(pt: &'a Sim) -> Self {
        Table {
            pt,
            mode: pt.arch().name(),
            tried: 0,
            failures: Vec::new(),
        }
    }

    /// Run one hostile call and check what it returned and changed.
    fn case<T: Debug>(
        &mut self,
        what: &str,
        want: Want,
        change: Change,
        call: impl FnOnce() -> Result<T, Error>,
    ) {
        self.tried += 1;
        let before = snapshot(self.pt);
        let got = catch_unwind(AssertUnwindSafe(call));
        let after = snapshot(self.pt);
        let what = format!("{}: {what}", self.mode);
        let got = match got {
            Ok(r) => r,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.failures.push(format!("{what}: PANICKED: {msg}"));
                return;
            }
        };
        match (want, &got) {
            (_, Ok(v)) => self.failures.push(format!("{what}: accepted, Ok({v:?})")),
            (Want::Exact(e), Err(g)) if *g != e => self
                .failures
                .push(format!("{what}: got Err({g:?}), want Err({e:?})")),
            _ => {}
        }
        let changes = match change {
            Change::Nothing => diff(&before, &after),
            Change::KeepsTables => keeps_tables_only(&before, &after),
        };
        if !changes.is_empty() {
            self.failures
                .push(format!("{what}: refused but changed {changes:?}"));
        }
    }

    fn finish(self) -> usize {
        assert!(
            self.failures.is_empty(),
            "{} of {} hostile inputs mishandled:\n{}",
            self.failures.len(),
            self.tried,
            self.failures.join("\n")
        );
        self.tried
    }
}

fn keeps_tables_only(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if before.leaves != after.leaves {
        let gone: Vec<_> = before.leaves.difference(&after.leaves).take(4).collect();
        let new: Vec<_> = after.leaves.difference(&before.leaves).take(4).collect();
        out.push(format!("leaves changed: gone {gone:x?}, new {new:x?}"));
    }
    if after.out_of_sync.is_some() {
        out.push(format!("out of sync: {:?}", after.out_of_sync));
    }
    if after.reachable != after.tables_in_use {
        out.push(format!(
            "frames leaked: reachable {} != in use {}",
            after.reachable, after.tables_in_use
        ));
    }
    out
}

/// The fixture every table runs against: a machine with two spaces, three
/// kernel mappings of each leaf size away from where `vmap()` allocates,
/// and two user mappings.
struct Fixture {
    a: pgtable::AddressSpace,
    b: pgtable::AddressSpace,
    /// Kernel base of the fixed mappings: a 2 MiB leaf at `kb`, four 4 KiB
    /// pages at `kb + 4M`, a 1 GiB leaf at `kb + 1G`.
    kb: u64,
    /// User: a 2 MiB leaf at `ub`, four 4 KiB pages at `ub + 4M`.
    ub: u64,
}

fn top_slot(arch: X86_64) -> u64 {
    arch.level_size(arch.top_level())
}

fn fixture(arch: X86_64) -> (Sim, Fixture) {
    let pt = machine(arch);
    let mut a = pt.create_space().unwrap();
    let b = pt.create_space().unwrap();
    let kb = vmalloc_start(arch).0 + 4 * top_slot(arch);
    {
        let mut k = pt.kernel();
        let _ = k.edit(|e| {
            e.vmap_range(VirtAddr(kb), PhysAddr(M2), M2, Prot::KERNEL, PageSize::Pmd)
                .unwrap();
            e.vmap_range(
                VirtAddr(kb + 2 * M2),
                PhysAddr(0x10_0000),
                4 * PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base,
            )
            .unwrap();
            e.vmap_range(
                VirtAddr(kb + G1),
                PhysAddr(G1),
                G1,
                Prot::KERNEL,
                PageSize::Pud,
            )
            .unwrap();
        });
    }
    let ub = 0x4000_0000;
    {
        let mut u = pt.user(&mut a).unwrap();
        u.map_range(
            VirtAddr(ub),
            PhysAddr(4 * M2),
            M2,
            Prot::USER_RW,
            PageSize::Pmd,
        )
        .unwrap();
        u.map_range(
            VirtAddr(ub + 2 * M2),
            PhysAddr(0x20_0000),
            4 * PAGE_SIZE,
            Prot::USER_RW,
            PageSize::Base,
        )
        .unwrap();
    }
    assert_consistent(&pt);
    (pt, Fixture { a, b, kb, ub })
}

/// (va, size, the error check_range owes) for ranges no kernel call may
/// take.
fn bad_kernel_ranges(arch: X86_64, kb: u64) -> Vec<(u64, u64, Error)> {
    let ue = arch.user_end();
    let ks = arch.kernel_start();
    let mut v = vec![
        (kb + 8, PAGE_SIZE, Error::Misaligned(kb + 8)),
        (kb + 1, PAGE_SIZE, Error::Misaligned(kb + 1)),
        (kb + 0x800, PAGE_SIZE, Error::Misaligned(kb + 0x800)),
        (kb, 0, Error::EmptyRange),
        (u64::MAX, 0, Error::EmptyRange),
        (kb, 100, Error::Misaligned(100)),
        (kb, PAGE_SIZE + 1, Error::Misaligned(PAGE_SIZE + 1)),
        (kb, u64::MAX, Error::Misaligned(u64::MAX)),
        (kb, LAST_PAGE, Error::Wraps),
        (kb, 1 << 63, Error::Wraps),
        (u64::MAX - 0xfff, 2 * PAGE_SIZE, Error::Wraps),
        (LAST_PAGE, LAST_PAGE, Error::Wraps),
        (ue, PAGE_SIZE, Error::NonCanonical(VirtAddr(ue))),
        (
            ks - PAGE_SIZE,
            PAGE_SIZE,
            Error::NonCanonical(VirtAddr(ks - PAGE_SIZE)),
        ),
        (
            ks - PAGE_SIZE,
            2 * PAGE_SIZE,
            Error::NonCanonical(VirtAddr(ks - PAGE_SIZE)),
        ),
        (1 << 63, PAGE_SIZE, Error::NonCanonical(VirtAddr(1 << 63))),
        (
            0x0100_0000_0000_0000,
            PAGE_SIZE,
            Error::NonCanonical(VirtAddr(0x0100_0000_0000_0000)),
        ),
        (0, PAGE_SIZE, Error::NotKernelAddress(VirtAddr(0))),
        (0x1000, PAGE_SIZE, Error::NotKernelAddress(VirtAddr(0x1000))),
        (
            ue - PAGE_SIZE,
            PAGE_SIZE,
            Error::NotKernelAddress(VirtAddr(ue - PAGE_SIZE)),
        ),
        (
            ue - PAGE_SIZE,
            2 * PAGE_SIZE,
            Error::NonCanonical(VirtAddr(ue + PAGE_SIZE - 1)),
        ),
        // Spans user half, hole and kernel half.
        (0, LAST_PAGE, Error::NotKernelAddress(VirtAddr(0))),
    ];
    if !arch.la57 {
        // Canonical only with 5 levels.
        v.push((
            0x00ff_0000_0000_0000,
            PAGE_SIZE,
            Error::NonCanonical(VirtAddr(0x00ff_0000_0000_0000)),
        ));
        v.push((
            0xff00_0000_0000_0000,
            PAGE_SIZE,
            Error::NonCanonical(VirtAddr(0xff00_0000_0000_0000)),
        ));
    }
    v
}

/// The same for user calls.
fn bad_user_ranges(arch: X86_64, ub: u64) -> Vec<(u64, u64, Error)> {
    let ue = arch.user_end();
    let vm = vmalloc_start(arch).0;
    let mut v = vec![
        (ub + 8, PAGE_SIZE, Error::Misaligned(ub + 8)),
        (ub + 0xfff, PAGE_SIZE, Error::Misaligned(ub + 0xfff)),
        (ub, 0, Error::EmptyRange),
        (ub, 1, Error::Misaligned(1)),
        (ub, u64::MAX, Error::Misaligned(u64::MAX)),
        (ub, LAST_PAGE, Error::Wraps),
        (u64::MAX - 0xfff, 2 * PAGE_SIZE, Error::Wraps),
        (ue, PAGE_SIZE, Error::NonCanonical(VirtAddr(ue))),
        (
            ue - PAGE_SIZE,
            2 * PAGE_SIZE,
            Error::NonCanonical(VirtAddr(ue + PAGE_SIZE - 1)),
        ),
        (1 << 63, PAGE_SIZE, Error::NonCanonical(VirtAddr(1 << 63))),
        (vm, PAGE_SIZE, Error::NotUserAddress(VirtAddr(vm))),
        (
            LAST_PAGE,
            PAGE_SIZE,
            Error::NotUserAddress(VirtAddr(LAST_PAGE)),
        ),
        // Spans the hole into the kernel half: its last byte is kernel.
        (
            0,
            LAST_PAGE,
            Error::NotUserAddress(VirtAddr(u64::MAX - 0x1000)),
        ),
    ];
    if !arch.la57 {
        v.push((
            0x00ff_0000_0000_0000,
            PAGE_SIZE,
            Error::NonCanonical(VirtAddr(0x00ff_0000_0000_0000)),
        ));
    }
    v
}

/// (pa, size, error) for physical ranges no mapping call may take.
fn bad_phys() -> Vec<(u64, u64, Error)> {
    vec![
        (0x1001, PAGE_SIZE, Error::Misaligned(0x1001)),
        (0x1800, PAGE_SIZE, Error::Misaligned(0x1800)),
        (P52, PAGE_SIZE, Error::PhysTooLarge(PhysAddr(P52))),
        (
            P52 - PAGE_SIZE,
            2 * PAGE_SIZE,
            Error::PhysTooLarge(PhysAddr(P52 - PAGE_SIZE)),
        ),
        (
            LAST_PAGE,
            PAGE_SIZE,
            Error::PhysTooLarge(PhysAddr(LAST_PAGE)),
        ),
        (
            LAST_PAGE,
            2 * PAGE_SIZE,
            Error::PhysTooLarge(PhysAddr(LAST_PAGE)),
        ),
        (1 << 63, PAGE_SIZE, Error::PhysTooLarge(PhysAddr(1 << 63))),
        // Fits in va, not in pa: must be refused before any leaf is written.
        (
            P52 - (1 << 40),
            1 << 41,
            Error::PhysTooLarge(PhysAddr(P52 - (1 << 40))),
        ),
    ]
}

const KERNEL_BAD_PROTS: [Prot; 3] = [
    Prot::USER_RW,
    Prot::USER_RO,
    Prot::new(Access::USER.union(Access::GLOBAL), CacheMode::Uncached),
];
const USER_BAD_PROTS: [Prot; 3] = [
    Prot::KERNEL,
    Prot::KERNEL_RO,
    Prot::new(Access::GLOBAL.union(Access::USER), CacheMode::WriteBack),
];

fn kernel_table(pt: &Sim, f: &Fixture, t: &mut Table<'_>) {
    let arch = *pt.arch();
    let kb = f.kb;
    let free = kb + 8 * M2; // nothing mapped here
    let fr = |n: u64| -> Vec<PhysAddr> {
        (0..n)
            .map(|i| PhysAddr(0x30_0000 + i * PAGE_SIZE))
            .collect()
    };

    // --- vmap_range / vmap_pages / vunmap_range over bad ranges.
    for (va, size, e) in bad_kernel_ranges(arch, kb) {
        for shift in PAGE_SIZES {
            t.case(
                &format!("vmap_range({va:#x}, size {size:#x}, shift {shift:?})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.kernel()
                        .edit(|e| {
                            e.vmap_range(VirtAddr(va), PhysAddr(0), size, Prot::KERNEL, shift)
                        })
                        .0
                },
            );
        }
        t.case(
            &format!("vunmap_range({va:#x}, size {size:#x})"),
            Want::Exact(e),
            Change::Nothing,
            || pt.kernel().edit(|e| e.vunmap_range(VirtAddr(va), size)).0,
        );
        if size % PAGE_SIZE == 0 && size != 0 && size <= 2 * PAGE_SIZE {
            let frames = fr(size / PAGE_SIZE);
            t.case(
                &format!("vmap_pages({va:#x}, {} frames)", frames.len()),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.kernel()
                        .edit(|e| e.vmap_pages(VirtAddr(va), &frames, Prot::KERNEL))
                        .0
                },
            );
        }
    }
    t.case(
        "vmap_pages with no frames",
        Want::Exact(Error::EmptyRange),
        Change::Nothing,
        || {
            pt.kernel()
                .edit(|e| e.vmap_pages(VirtAddr(free), &[], Prot::KERNEL))
                .0
        },
    );
    // --- bad physical addresses.
    for (pa, size, e) in bad_phys() {
        t.case(
            &format!("vmap_range(pa {pa:#x}, size {size:#x})"),
            Want::Exact(e),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| {
                        e.vmap_range(
                            VirtAddr(free),
                            PhysAddr(pa),
                            size,
                            Prot::KERNEL,
                            PageSize::Pud,
                        )
                    })
                    .0
            },
        );
        if size == PAGE_SIZE {
            // A bad frame last in the list: refused before the first page
            // is written.
            let mut frames = fr(3);
            frames.push(PhysAddr(pa));
            t.case(
                &format!("vmap_pages(last frame {pa:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.kernel()
                        .edit(|e| e.vmap_pages(VirtAddr(free), &frames, Prot::KERNEL))
                        .0
                },
            );
            t.case(
                &format!("vmap(last frame {pa:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || pt.kernel().edit(|e| e.vmap(&frames, Prot::KERNEL)).0,
            );
            t.case(
                &format!("set_leaf(pte, pa {pa:#x})"),
                Want::AnyErr,
                Change::Nothing,
                || {
                    let mut k = pt.kernel();
                    k.edit(|e| {
                        // The PTE entry of kb+4M+16K: exists, empty.
                        let va = VirtAddr(kb + 2 * M2 + 4 * PAGE_SIZE);
                        let pte = pte_entry(e, arch, va).unwrap();
                        e.set_leaf(Level::Pte, va, pte, PhysAddr(pa), Prot::KERNEL)
                    })
                    .0
                },
            );
        }
    }
    // --- protections.
    for prot in KERNEL_BAD_PROTS {
        t.case(
            &format!("vmap_range(prot {prot:?})"),
            Want::Exact(Error::BadProtection),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| {
                        e.vmap_range(VirtAddr(free), PhysAddr(0), PAGE_SIZE, prot, PageSize::Base)
                    })
                    .0
            },
        );
        t.case(
            &format!("vmap_pages(prot {prot:?})"),
            Want::Exact(Error::BadProtection),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| e.vmap_pages(VirtAddr(free), &fr(2), prot))
                    .0
            },
        );
        t.case(
            &format!("vmap(prot {prot:?})"),
            Want::Exact(Error::BadProtection),
            Change::Nothing,
            || pt.kernel().edit(|e| e.vmap(&fr(2), prot)).0,
        );
    }
    // --- double maps and huge/base overlaps.
    let overlaps: Vec<(&str, u64, u64, u64, PageSize, Error, Change)> = vec![
        (
            "the 2M leaf again",
            kb,
            M2,
            M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(kb)),
            Change::Nothing,
        ),
        (
            "the 2M leaf again, base pages",
            kb,
            M2,
            M2,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb)),
            Change::Nothing,
        ),
        (
            "4K inside the 2M leaf",
            kb + PAGE_SIZE,
            0x5000,
            PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb + PAGE_SIZE)),
            Change::Nothing,
        ),
        (
            "4K at the end of the 2M leaf",
            kb + M2 - PAGE_SIZE,
            0x5000,
            PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb + M2 - PAGE_SIZE)),
            Change::Nothing,
        ),
        (
            "the 4K pages again",
            kb + 2 * M2,
            0x10_0000,
            4 * PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb + 2 * M2)),
            Change::Nothing,
        ),
        (
            "2M leaf over the 4K pages",
            kb + 2 * M2,
            4 * M2,
            M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(kb + 2 * M2)),
            Change::Nothing,
        ),
        (
            "1G leaf over the 2M leaf",
            kb,
            0,
            G1,
            PageSize::Pud,
            Error::AlreadyMapped(VirtAddr(kb)),
            Change::Nothing,
        ),
        (
            "the 1G leaf again",
            kb + G1,
            G1,
            G1,
            PageSize::Pud,
            Error::AlreadyMapped(VirtAddr(kb + G1)),
            Change::Nothing,
        ),
        (
            "2M inside the 1G leaf",
            kb + G1 + 4 * M2,
            4 * M2,
            M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(kb + G1 + 4 * M2)),
            Change::Nothing,
        ),
        (
            "4K inside the 1G leaf",
            kb + G1 + 8 * PAGE_SIZE,
            0x5000,
            PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb + G1 + 8 * PAGE_SIZE)),
            Change::Nothing,
        ),
        // These map some pages first, then collide: part-way failures.
        (
            "run into the 4K pages",
            kb + 2 * M2 - 2 * PAGE_SIZE,
            0x5000,
            4 * PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb + 2 * M2)),
            Change::KeepsTables,
        ),
        (
            "run into the 2M leaf",
            kb - 2 * PAGE_SIZE,
            0x5000,
            4 * PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(kb)),
            Change::KeepsTables,
        ),
        (
            "run into the 1G leaf",
            kb + G1 - M2,
            0,
            2 * M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(kb + G1)),
            Change::KeepsTables,
        ),
    ];
    for (what, va, pa, size, shift, e, change) in overlaps {
        t.case(
            &format!("vmap_range: {what}"),
            Want::Exact(e),
            change,
            || {
                pt.kernel()
                    .edit(|e| e.vmap_range(VirtAddr(va), PhysAddr(pa), size, Prot::KERNEL, shift))
                    .0
            },
        );
        if shift == PageSize::Base && size <= 16 * PAGE_SIZE {
            let frames = fr(size / PAGE_SIZE);
            t.case(
                &format!("vmap_pages: {what}"),
                Want::Exact(e),
                change,
                || {
                    pt.kernel()
                        .edit(|e| e.vmap_pages(VirtAddr(va), &frames, Prot::KERNEL))
                        .0
                },
            );
        }
    }
    // --- every largest-leaf size over a mapped range still refuses with
    // AlreadyMapped. (Absurd `max_page_shift` values, which this loop once
    // fed in, cannot be written any more: the size is a `PageSize`.)
    for shift in PAGE_SIZES {
        t.case(
            &format!("vmap_range(shift {shift:?}) over the 1G leaf"),
            Want::Exact(Error::AlreadyMapped(VirtAddr(kb + G1))),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| {
                        e.vmap_range(VirtAddr(kb + G1), PhysAddr(G1), G1, Prot::KERNEL, shift)
                    })
                    .0
            },
        );
        t.case(
            &format!("vmap_range(shift {shift:?}, misaligned pa)"),
            Want::Exact(Error::Misaligned(0x123)),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| {
                        e.vmap_range(VirtAddr(free), PhysAddr(0x123), M2, Prot::KERNEL, shift)
                    })
                    .0
            },
        );
    }
    // --- unmaps of holes, partial huge leaves, ranges with holes.
    let unmaps: Vec<(&str, u64, u64, Error)> = vec![
        (
            "never mapped",
            free,
            PAGE_SIZE,
            Error::NotMapped(VirtAddr(free)),
        ),
        (
            "never mapped, 1G",
            free + 64 * G1,
            G1,
            Error::NotMapped(VirtAddr(free + 64 * G1)),
        ),
        (
            "empty top-level slot",
            kb + 2 * top_slot(arch),
            PAGE_SIZE,
            Error::NotMapped(VirtAddr(kb + 2 * top_slot(arch))),
        ),
        (
            "first 4K of the 2M leaf",
            kb,
            PAGE_SIZE,
            Error::SplitsLeaf(VirtAddr(kb)),
        ),
        (
            "inside the 2M leaf",
            kb + PAGE_SIZE,
            PAGE_SIZE,
            Error::SplitsLeaf(VirtAddr(kb)),
        ),
        (
            "half the 2M leaf",
            kb + M2 / 2,
            M2 / 2,
            Error::SplitsLeaf(VirtAddr(kb)),
        ),
        (
            "2M leaf and past it",
            kb + M2 / 2,
            M2,
            Error::SplitsLeaf(VirtAddr(kb)),
        ),
        (
            "2M leaf, then a hole",
            kb,
            2 * M2,
            Error::NotMapped(VirtAddr(kb + M2)),
        ),
        (
            "a hole, then the 2M leaf",
            kb - PAGE_SIZE,
            M2 + PAGE_SIZE,
            Error::NotMapped(VirtAddr(kb - PAGE_SIZE)),
        ),
        (
            "4K pages and one more",
            kb + 2 * M2,
            5 * PAGE_SIZE,
            Error::NotMapped(VirtAddr(kb + 2 * M2 + 4 * PAGE_SIZE)),
        ),
        (
            "one before the 4K pages",
            kb + 2 * M2 - PAGE_SIZE,
            2 * PAGE_SIZE,
            Error::NotMapped(VirtAddr(kb + 2 * M2 - PAGE_SIZE)),
        ),
        (
            "2M of the 1G leaf",
            kb + G1,
            M2,
            Error::SplitsLeaf(VirtAddr(kb + G1)),
        ),
        (
            "last 4K of the 1G leaf",
            kb + 2 * G1 - PAGE_SIZE,
            PAGE_SIZE,
            Error::SplitsLeaf(VirtAddr(kb + G1)),
        ),
    ];
    for (what, va, size, e) in unmaps {
        t.case(
            &format!("vunmap_range: {what}"),
            Want::Exact(e),
            Change::Nothing,
            || pt.kernel().edit(|e| e.vunmap_range(VirtAddr(va), size)).0,
        );
    }
    // --- vunmap of things vmap never returned.
    for va in [
        0,
        kb,
        kb + 2 * M2,
        free,
        u64::MAX,
        vmalloc_start(arch).0,
        1 << 63,
    ] {
        t.case(
            &format!("vunmap({va:#x})"),
            Want::Exact(Error::NotMapped(VirtAddr(va))),
            Change::Nothing,
            || pt.kernel().edit(|e| e.vunmap(VirtAddr(va))).0,
        );
    }
    t.case(
        "vmap(no frames)",
        Want::Exact(Error::EmptyRange),
        Change::Nothing,
        || pt.kernel().edit(|e| e.vmap(&[], Prot::KERNEL)).0,
    );
    // --- ioremap.
    let mut io: Vec<(u64, u64, Error)> = vec![
        (0x1000, 0, Error::EmptyRange),
        (u64::MAX, 0, Error::EmptyRange),
        (0x1000, u64::MAX, Error::Wraps),
        (u64::MAX, 2, Error::Wraps),
        (u64::MAX, 1, Error::PhysTooLarge(PhysAddr(LAST_PAGE))),
        (P52, 1, Error::PhysTooLarge(PhysAddr(P52))),
        (
            P52 - PAGE_SIZE,
            PAGE_SIZE + 1,
            Error::PhysTooLarge(PhysAddr(P52 - PAGE_SIZE)),
        ),
        (P52 - 1, 2, Error::PhysTooLarge(PhysAddr(P52 - PAGE_SIZE))),
        (0x1000, P52, Error::PhysTooLarge(PhysAddr(0x1000))),
    ];
    if !arch.la57 {
        // Larger than the 32 TiB vmalloc area of 4-level paging.
        io.push((0, 1 << 46, Error::NoVirtualSpace));
    }
    for (pa, size, e) in io {
        for cache in [CacheMode::Uncached, CacheMode::WriteCombining] {
            t.case(
                &format!("ioremap({pa:#x}, {size:#x}, {cache:?})"),
                Want::Exact(e),
                Change::Nothing,
                || pt.kernel().edit(|e| e.ioremap(PhysAddr(pa), size, cache)).0,
            );
        }
    }
    // --- preallocate.
    let ks = arch.kernel_start();
    let ue = arch.user_end();
    // `start` and `last` are any kernel addresses (the work is per top-level
    // slot), `last` inclusive.
    let pre: Vec<(u64, u64, Error)> = vec![
        (kb, kb - 1, Error::EmptyRange),
        (kb + 8, kb + 7, Error::EmptyRange),
        (kb, kb - 2 * PAGE_SIZE, Error::EmptyRange),
        (0, PAGE_SIZE - 1, Error::NotKernelAddress(VirtAddr(0))),
        (ue, ks - 1, Error::NonCanonical(VirtAddr(ue))),
        (
            ks - PAGE_SIZE,
            ks + PAGE_SIZE - 1,
            Error::NonCanonical(VirtAddr(ks - PAGE_SIZE)),
        ),
    ];
    for (start, last, e) in pre {
        t.case(
            &format!("preallocate({start:#x}, {last:#x})"),
            Want::Exact(e),
            Change::Nothing,
            || {
                pt.kernel()
                    .edit(|e| e.preallocate(VirtAddr(start), VirtAddr(last)))
                    .0
            },
        );
    }
    // --- the walk helpers, with addresses of the wrong half and entries
    // that are not none.
    let bad_addrs = [
        (0u64, Error::NotKernelAddress(VirtAddr(0))),
        (ue - 1, Error::NotKernelAddress(VirtAddr(ue - PAGE_SIZE))),
        (ue, Error::NonCanonical(VirtAddr(ue))),
        (1 << 63, Error::NonCanonical(VirtAddr(1 << 63))),
    ];
    for (addr, e) in bad_addrs {
        for level in [Level::Pgd, Level::P4d, Level::Pud, Level::Pmd] {
            t.case(
                &format!("{level}_populate_kernel(addr {addr:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    let mut k = pt.kernel();
                    k.edit(|ed| {
                        // An empty slot of the kernel root: never written.
                        let slot = ed.pgd_offset(VirtAddr(kb + 3 * top_slot(arch)));
                        // A table of the right level where there is one;
                        // refused with it, it is freed again.
                        let table = level
                            .next()
                            .and_then(|l| ed.alloc_table(l).ok())
                            .map_or_else(|| ed.alloc_table(Level::Pte), Ok)?;
                        Ok(match level {
                            Level::Pgd => ed.pgd_populate_kernel(VirtAddr(addr), slot, table),
                            Level::P4d => ed.p4d_populate_kernel(VirtAddr(addr), slot, table),
                            Level::Pud => ed.pud_populate(VirtAddr(addr), slot, table),
                            _ => ed.pmd_populate_kernel(VirtAddr(addr), slot, table),
                        }?)
                    })
                    .0
                },
            );
            t.case(
                &format!("alloc_track({level}, addr {addr:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    let mut k = pt.kernel();
                    k.edit(|ed| {
                        let slot = ed.pgd_offset(VirtAddr(kb + 3 * top_slot(arch)));
                        ed.alloc_track(level, slot, VirtAddr(addr))
                    })
                    .0
                },
            );
        }
        for level in [Level::Pud, Level::Pmd, Level::Pte] {
            t.case(
                &format!("set_leaf({level}, addr {addr:#x})"),
                Want::Exact(e_for_leaf(e, level)),
                Change::Nothing,
                || {
                    let mut k = pt.kernel();
                    k.edit(|ed| {
                        let slot = ed.pgd_offset(VirtAddr(kb + 3 * top_slot(arch)));
                        ed.set_leaf(level, VirtAddr(addr), slot, PhysAddr(0), Prot::KERNEL)
                    })
                    .0
                },
            );
        }
    }
    // alloc_track on a leaf, or below the last level.
    t.case(
        "alloc_track(pmd) on the 2M leaf",
        Want::Exact(Error::AlreadyMapped(VirtAddr(kb))),
        Change::Nothing,
        || {
            let mut k = pt.kernel();
            k.edit(|ed| {
                let pmd = pmd_entry(ed, arch, VirtAddr(kb)).unwrap();
                ed.alloc_track(Level::Pmd, pmd, VirtAddr(kb))
            })
            .0
        },
    );
    t.case(
        "alloc_track(pud) on the 1G leaf",
        Want::Exact(Error::AlreadyMapped(VirtAddr(kb + G1))),
        Change::Nothing,
        || {
            let mut k = pt.kernel();
            k.edit(|ed| {
                let pud = pud_entry(ed, arch, VirtAddr(kb + G1)).unwrap();
                ed.alloc_track(Level::Pud, pud, VirtAddr(kb + G1))
            })
            .0
        },
    );
    t.case(
        "alloc_track(pte)",
        Want::Exact(Error::AlreadyMapped(VirtAddr(kb + 2 * M2))),
        Change::Nothing,
        || {
            let mut k = pt.kernel();
            k.edit(|ed| {
                let pte = pte_entry(ed, arch, VirtAddr(kb + 2 * M2)).unwrap();
                ed.alloc_track(Level::Pte, pte, VirtAddr(kb + 2 * M2))
            })
            .0
        },
    );
    // set_leaf on a mapped entry, at levels that take no leaf, misaligned.
    let leafs: Vec<(&str, Level, u64, u64, Prot, Want)> = vec![
        (
            "on a mapped pte",
            Level::Pte,
            kb + 2 * M2,
            0x5000,
            Prot::KERNEL,
            Want::Exact(Error::AlreadyMapped(VirtAddr(kb + 2 * M2))),
        ),
        (
            "on the 2M leaf",
            Level::Pmd,
            kb,
            4 * M2,
            Prot::KERNEL,
            Want::Exact(Error::AlreadyMapped(VirtAddr(kb))),
        ),
        (
            "on the 1G leaf",
            Level::Pud,
            kb + G1,
            2 * G1,
            Prot::KERNEL,
            Want::Exact(Error::AlreadyMapped(VirtAddr(kb + G1))),
        ),
        (
            "pmd leaf, pa not 2M-aligned",
            Level::Pmd,
            kb + 6 * M2,
            0x1000,
            Prot::KERNEL,
            Want::Exact(Error::Misaligned(0x1000)),
        ),
        (
            "pte, user prot",
            Level::Pte,
            kb + 2 * M2 + 4 * PAGE_SIZE,
            0x5000,
            Prot::USER_RW,
            Want::Exact(Error::BadProtection),
        ),
        (
            "top level (no leaf allowed)",
            arch.top_level(),
            kb + 3 * top_slot(arch),
            0,
            Prot::KERNEL,
            Want::AnyErr,
        ),
        (
            "pgd",
            Level::Pgd,
            kb + 3 * top_slot(arch),
            0,
            Prot::KERNEL,
            Want::AnyErr,
        ),
    ];
    for (what, level, va, pa, prot, want) in leafs {
        t.case(&format!("set_leaf: {what}"), want, Change::Nothing, || {
            let mut k = pt.kernel();
            k.edit(|ed| {
                let e = entry_of(ed, arch, level, VirtAddr(va))
                    .unwrap_or_else(|| ed.pgd_offset(VirtAddr(va)));
                ed.set_leaf(level, VirtAddr(va), e, PhysAddr(pa), prot)
            })
            .0
        });
    }
}

/// set_leaf checks the range of the whole leaf (its start rounded down).
fn e_for_leaf(e: Error, level: Level) -> Error {
    let size = X86_64::FOUR_LEVEL.level_size(level);
    match e {
        Error::NotKernelAddress(va) => Error::NotKernelAddress(VirtAddr(va.0 & !(size - 1))),
        Error::NonCanonical(va) => Error::NonCanonical(VirtAddr(va.0 & !(size - 1))),
        e => e,
    }
}

fn entry_of(
    e: &pgtable::KernelEdit<'_, '_, X86_64, pgtable::FaultInjector<pgtable::SparseMemory>>,
    arch: X86_64,
    level: Level,
    va: VirtAddr,
) -> Option<EntryPtr> {
    let mut p = e.pgd_offset(va);
    for l in Level::ALL[1..=level as usize].iter() {
        if arch.is_folded(*l) {
            continue;
        }
        p = e.offset(*l, p, va)?;
    }
    Some(p)
}

type Ed<'k, 'a> =
    pgtable::KernelEdit<'k, 'a, X86_64, pgtable::FaultInjector<pgtable::SparseMemory>>;

fn pud_entry(e: &Ed<'_, '_>, arch: X86_64, va: VirtAddr) -> Option<EntryPtr> {
    entry_of(e, arch, Level::Pud, va)
}
fn pmd_entry(e: &Ed<'_, '_>, arch: X86_64, va: VirtAddr) -> Option<EntryPtr> {
    entry_of(e, arch, Level::Pmd, va)
}
fn pte_entry(e: &Ed<'_, '_>, arch: X86_64, va: VirtAddr) -> Option<EntryPtr> {
    entry_of(e, arch, Level::Pte, va)
}

fn user_table(pt: &Sim, f: &mut Fixture, t: &mut Table<'_>) {
    let arch = *pt.arch();
    let ub = f.ub;
    let free = ub + 8 * M2;
    let a = &mut f.a;
    let fr = |n: u64| -> Vec<PhysAddr> {
        (0..n)
            .map(|i| PhysAddr(0x30_0000 + i * PAGE_SIZE))
            .collect()
    };
    for (va, size, e) in bad_user_ranges(arch, ub) {
        for shift in PAGE_SIZES {
            t.case(
                &format!("user map_range({va:#x}, {size:#x}, shift {shift:?})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.user(a).unwrap().map_range(
                        VirtAddr(va),
                        PhysAddr(0),
                        size,
                        Prot::USER_RW,
                        shift,
                    )
                },
            );
        }
        t.case(
            &format!("user unmap({va:#x}, {size:#x})"),
            Want::Exact(e),
            Change::Nothing,
            || pt.user(a).unwrap().unmap(VirtAddr(va), size),
        );
        if size % PAGE_SIZE == 0 && size != 0 && size <= 2 * PAGE_SIZE {
            let frames = fr(size / PAGE_SIZE);
            t.case(
                &format!("user map_pages({va:#x}, {} frames)", frames.len()),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.user(a)
                        .unwrap()
                        .map_pages(VirtAddr(va), &frames, Prot::USER_RW)
                },
            );
        }
        if size == PAGE_SIZE && va % PAGE_SIZE == 0 {
            t.case(
                &format!("user pgd_offset({va:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || pt.user(a).unwrap().pgd_offset(VirtAddr(va)),
            );
        }
    }
    t.case(
        "user map_pages with no frames",
        Want::Exact(Error::EmptyRange),
        Change::Nothing,
        || {
            pt.user(a)
                .unwrap()
                .map_pages(VirtAddr(free), &[], Prot::USER_RW)
        },
    );
    for (pa, size, e) in bad_phys() {
        t.case(
            &format!("user map_range(pa {pa:#x}, {size:#x})"),
            Want::Exact(e),
            Change::Nothing,
            || {
                pt.user(a).unwrap().map_range(
                    VirtAddr(free),
                    PhysAddr(pa),
                    size,
                    Prot::USER_RW,
                    PageSize::Pud,
                )
            },
        );
        if size == PAGE_SIZE {
            let mut frames = fr(3);
            frames.push(PhysAddr(pa));
            t.case(
                &format!("user map_pages(last frame {pa:#x})"),
                Want::Exact(e),
                Change::Nothing,
                || {
                    pt.user(a)
                        .unwrap()
                        .map_pages(VirtAddr(free), &frames, Prot::USER_RW)
                },
            );
        }
    }
    for prot in USER_BAD_PROTS {
        t.case(
            &format!("user map_range(prot {prot:?})"),
            Want::Exact(Error::BadProtection),
            Change::Nothing,
            || {
                pt.user(a).unwrap().map_range(
                    VirtAddr(free),
                    PhysAddr(0),
                    PAGE_SIZE,
                    prot,
                    PageSize::Base,
                )
            },
        );
        t.case(
            &format!("user map_pages(prot {prot:?})"),
            Want::Exact(Error::BadProtection),
            Change::Nothing,
            || pt.user(a).unwrap().map_pages(VirtAddr(free), &fr(1), prot),
        );
    }
    let overlaps: Vec<(&str, u64, u64, u64, PageSize, Error, Change)> = vec![
        (
            "the 2M leaf again",
            ub,
            M2,
            M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(ub)),
            Change::Nothing,
        ),
        (
            "4K inside the 2M leaf",
            ub + 3 * PAGE_SIZE,
            0x5000,
            PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(ub + 3 * PAGE_SIZE)),
            Change::Nothing,
        ),
        (
            "2M leaf over the 4K pages",
            ub + 2 * M2,
            4 * M2,
            M2,
            PageSize::Pmd,
            Error::AlreadyMapped(VirtAddr(ub + 2 * M2)),
            Change::Nothing,
        ),
        (
            "the 4K pages again",
            ub + 2 * M2,
            0x5000,
            4 * PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(ub + 2 * M2)),
            Change::Nothing,
        ),
        (
            "1G over both",
            ub,
            0,
            G1,
            PageSize::Pud,
            Error::AlreadyMapped(VirtAddr(ub)),
            Change::Nothing,
        ),
        (
            "run into the 4K pages",
            ub + 2 * M2 - PAGE_SIZE,
            0x5000,
            2 * PAGE_SIZE,
            PageSize::Base,
            Error::AlreadyMapped(VirtAddr(ub + 2 * M2)),
            Change::KeepsTables,
        ),
    ];
    for (what, va, pa, size, shift, e, change) in overlaps {
        t.case(
            &format!("user map_range: {what}"),
            Want::Exact(e),
            change,
            || {
                pt.user(a).unwrap().map_range(
                    VirtAddr(va),
                    PhysAddr(pa),
                    size,
                    Prot::USER_RW,
                    shift,
                )
            },
        );
        if shift == PageSize::Base {
            let frames = fr(size / PAGE_SIZE);
            t.case(
                &format!("user map_pages: {what}"),
                Want::Exact(e),
                change,
                || {
                    pt.user(a)
                        .unwrap()
                        .map_pages(VirtAddr(va), &frames, Prot::USER_RW)
                },
            );
        }
    }
    for shift in PAGE_SIZES {
        t.case(
            &format!("user map_range(shift {shift:?}) over the 2M leaf"),
            Want::Exact(Error::AlreadyMapped(VirtAddr(ub))),
            Change::Nothing,
            || {
                pt.user(a)
                    .unwrap()
                    .map_range(VirtAddr(ub), PhysAddr(M2), M2, Prot::USER_RW, shift)
            },
        );
    }
    let unmaps: Vec<(&str, u64, u64, Error)> = vec![
        (
            "never mapped",
            free,
            PAGE_SIZE,
            Error::NotMapped(VirtAddr(free)),
        ),
        ("page 0", 0, PAGE_SIZE, Error::NotMapped(VirtAddr(0))),
        (
            "inside the 2M leaf",
            ub + PAGE_SIZE,
            PAGE_SIZE,
            Error::SplitsLeaf(VirtAddr(ub)),
        ),
        (
            "first half of the 2M leaf",
            ub,
            M2 / 2,
            Error::SplitsLeaf(VirtAddr(ub)),
        ),
        (
            "2M leaf then a hole",
            ub,
            2 * M2,
            Error::NotMapped(VirtAddr(ub + M2)),
        ),
        (
            "4K pages and one more",
            ub + 2 * M2,
            5 * PAGE_SIZE,
            Error::NotMapped(VirtAddr(ub + 2 * M2 + 4 * PAGE_SIZE)),
        ),
    ];
    for (what, va, size, e) in unmaps {
        t.case(
            &format!("user unmap: {what}"),
            Want::Exact(e),
            Change::Nothing,
            || pt.user(a).unwrap().unmap(VirtAddr(va), size),
        );
    }
    // The other space has none of a's user mappings.
    let b = &mut f.b;
    t.case(
        "user unmap of another space's mapping",
        Want::Exact(Error::NotMapped(VirtAddr(ub))),
        Change::Nothing,
        || pt.user(b).unwrap().unmap(VirtAddr(ub), M2),
    );
}

/// translate and sync_on_fault: reads, or refusals that must return
/// false/None and write nothing. Counted as hostile inputs too.
fn page_tables_table(pt: &Sim, f: &Fixture, t: &mut Table<'_>) {
    let arch = *pt.arch();
    let roots = [pt.kernel_root(), f.a.root(), f.b.root()];
    let vas = [
        0,
        f.ub + 7,
        arch.user_end(),
        arch.user_end() - 1,
        arch.kernel_start() - 1,
        1 << 63,
        f.kb + 8 * M2,
        u64::MAX,
        LAST_PAGE,
    ];
    for root in roots {
        for va in vas {
            t.case(
                &format!("translate({root:?}, {va:#x}) of an unmapped or bad address"),
                Want::AnyErr,
                Change::Nothing,
                || match pt.translate(root, VirtAddr(va)) {
                    Some(m) if root != f.a.root() || va != f.ub + 7 => Ok(m),
                    _ => Err(Error::NotMapped(VirtAddr(va))),
                },
            );
            t.case(
                &format!("sync_on_fault({root:?}, {va:#x})"),
                Want::AnyErr,
                Change::Nothing,
                || {
                    if pt.sync_on_fault(root, VirtAddr(va)) {
                        Ok(())
                    } else {
                        Err(Error::NotMapped(VirtAddr(va)))
                    }
                },
            );
        }
    }
}

#[test]
fn hostile_inputs_are_refused_and_change_nothing() {
    let mut total = 0;
    for arch in MODES {
        let (pt, mut f) = fixture(arch);
        let mut t = Table::new(&pt);
        kernel_table(&pt, &f, &mut t);
        user_table(&pt, &mut f, &mut t);
        page_tables_table(&pt, &f, &mut t);
        // Every refused vmap/ioremap gave its virtual range back: the first
        // fit is still the start of the vmalloc area.
        let va = pt
            .kernel()
            .edit(|e| e.vmap(&[PhysAddr(0x1000)], Prot::KERNEL))
            .0
            .unwrap();
        assert_eq!(
            va,
            vmalloc_start(arch),
            "{}: a refused call kept its area",
            arch.name()
        );
        pt.kernel().edit(|e| e.vunmap(va)).0.unwrap().ignore();
        let n = t.finish();
        println!("{}: {n} hostile inputs refused", arch.name());
        total += n;
        assert_consistent(&pt);
        pt.destroy_space(f.a).expect("own space").ignore();
        pt.destroy_space(f.b).expect("own space").ignore();
    }
    println!("hostile inputs tried: {total}");
}

// ---------------------------------------------------------------------
// Inputs the library mishandles today, one test each. Each states what
// should happen; see the module comment.
// ---------------------------------------------------------------------

/// `KernelEdit::ioremap` computes the page-rounded length as
/// `(last | 0xfff) - base + 1`, which overflows when the range starts in
/// physical page 0 and ends in the last page of the 64-bit space.
#[test]
fn ioremap_ending_in_the_last_physical_page_is_refused() {
    for arch in MODES {
        let (pt, f) = fixture(arch);
        let mut t = Table::new(&pt);
        for (pa, size) in [
            (0x10, u64::MAX - 0x10),
            (0, u64::MAX),
            (0xfff, u64::MAX - 0xfff),
        ] {
            t.case(
                &format!("ioremap({pa:#x}, {size:#x})"),
                Want::Exact(Error::PhysTooLarge(PhysAddr(0))),
                Change::Nothing,
                || {
                    pt.kernel()
                        .edit(|e| e.ioremap(PhysAddr(pa), size, CacheMode::Uncached))
                        .0
                },
            );
        }
        t.finish();
        pt.destroy_space(f.a).expect("own space").ignore();
        pt.destroy_space(f.b).expect("own space").ignore();
    }
}

/// The map walk records the end of the last leaf it wrote as
/// `addr + leaf size` (walk/map.rs, `MapCtx::set_leaf`), which overflows
/// for a leaf that ends at the top of the address space: a debug build
/// panics, and the panic leaves the new top-level entry unsynced (the
/// edit's tracker is only updated after the walk returns). Every leaf size
/// is tried: 4 KiB, 2 MiB and 1 GiB leaves ending at 2^64, each mapped,
/// seen from another space, and unmapped again.
#[test]
fn vmap_of_the_last_page_of_the_address_space() {
    let mut failures = Vec::new();
    for arch in MODES {
        let (pt, f) = fixture(arch);
        for (size, shift, pa) in [
            (PAGE_SIZE, PageSize::Base, 0x7000),
            (2 * PAGE_SIZE, PageSize::Base, 0x7000),
            (M2, PageSize::Pmd, 4 * M2),
            (G1, PageSize::Pud, 4 * G1),
        ] {
            let va = VirtAddr(0u64.wrapping_sub(size));
            let what = format!(
                "{}: vmap_range({va:?}, {size:#x}, shift {shift:?})",
                arch.name()
            );
            let r = catch_unwind(AssertUnwindSafe(|| {
                pt.kernel()
                    .edit(|e| e.vmap_range(va, PhysAddr(pa), size, Prot::KERNEL, shift))
                    .0
            }));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failures.push(format!("{what}: Err({e:?})"));
                    continue;
                }
                Err(_) => {
                    failures.push(format!(
                        "{what}: PANICKED; out of sync afterwards: {:?}",
                        pt.first_out_of_sync()
                    ));
                    break;
                }
            }
            let last = VirtAddr(LAST_PAGE);
            let seen = pt.translate(f.b.root(), last).map(|m| m.translate(last));
            if seen != Some(PhysAddr(pa + size - PAGE_SIZE)) {
                failures.push(format!("{what}: another space sees {seen:?}"));
            }
            let r = catch_unwind(AssertUnwindSafe(|| {
                pt.kernel().edit(|e| e.vunmap_range(va, size)).0
            }));
            if !matches!(r, Ok(Ok(_))) {
                failures.push(format!("{what}: unmap: {:?}", r.map_err(|_| "panicked")));
                break;
            }
        }
        let r = catch_unwind(AssertUnwindSafe(|| {
            pt.kernel()
                .edit(|e| {
                    e.vmap_pages(
                        VirtAddr(LAST_PAGE - PAGE_SIZE),
                        &[PhysAddr(0x7000), PhysAddr(0x8000)],
                        Prot::KERNEL,
                    )
                })
                .0
        }));
        if !matches!(r, Ok(Ok(()))) {
            failures.push(format!(
                "{}: vmap_pages ending at the top: {:?}",
                arch.name(),
                r.map_err(|_| "panicked")
            ));
        }
        if pt.first_out_of_sync().is_some()
            || harness::reachable_frames(&pt) != pt.mem().tables_in_use()
        {
            failures.push(format!("{}: inconsistent at the end", arch.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `PageTables::translate` and `sync_on_fault` compute `root + index * 8`
/// unchecked (tables.rs, `Tables::pgd_offset`): a root near the top of the
/// physical space panics in a debug build instead of returning None/false.
#[test]
fn translate_and_sync_on_fault_of_a_bogus_root_do_not_panic() {
    for arch in MODES {
        let (pt, f) = fixture(arch);
        let mut t = Table::new(&pt);
        for root in [u64::MAX, u64::MAX - 7] {
            for va in [f.kb, f.ub, u64::MAX] {
                t.case(
                    &format!("translate(root {root:#x}, {va:#x})"),
                    Want::AnyErr,
                    Change::Nothing,
                    || {
                        pt.translate(PhysAddr(root), VirtAddr(va))
                            .ok_or(Error::NotMapped(VirtAddr(va)))
                    },
                );
                t.case(
                    &format!("sync_on_fault(root {root:#x}, {va:#x})"),
                    Want::AnyErr,
                    Change::Nothing,
                    || match pt.sync_on_fault(PhysAddr(root), VirtAddr(va)) {
                        true => Ok(()),
                        false => Err(Error::NotMapped(VirtAddr(va))),
                    },
                );
            }
        }
        t.finish();
        pt.destroy_space(f.a).expect("own space").ignore();
        pt.destroy_space(f.b).expect("own space").ignore();
    }
}

/// `PageTables::sync_on_fault(root, va)` copies the kernel's top-level
/// entry into whatever frame `root` names, registered or not: a data
/// frame, or the root of a destroyed space, which is a *free* table frame.
/// The allocator then hands that frame out again not zeroed. It should
/// return false and write nothing unless `root` is registered.
#[test]
fn sync_on_fault_writes_only_registered_roots() {
    for arch in MODES {
        let (pt, f) = fixture(arch);
        let va = VirtAddr(f.kb);
        let slot_off = arch.index(Level::Pgd, va.0) * 8;
        let data = PhysAddr(0x50_0000);
        assert!(
            !pt.sync_on_fault(data, va),
            "{}: sync_on_fault wrote into a data frame",
            arch.name()
        );
        assert_eq!(pt.mem().read_u64(PhysAddr(data.0 + slot_off)), 0);
        let dead = pt.create_space().unwrap();
        let dead_root = dead.root();
        pt.destroy_space(dead).expect("own space").ignore();
        let wrote = pt.sync_on_fault(dead_root, va);
        let table = pt.kernel().edit(|e| e.alloc_table(Level::Pte)).0.unwrap();
        let dirty = (0..512).any(|i| pt.mem().read_u64(PhysAddr(table.frame().0 + i * 8)) != 0);
        drop(table);
        assert!(
            !wrote && !dirty,
            "{}: sync_on_fault on a destroyed root wrote {wrote}; a frame handed out later is dirty: {dirty}",
            arch.name()
        );
        pt.destroy_space(f.a).expect("own space").ignore();
        pt.destroy_space(f.b).expect("own space").ignore();
    }
}

/// `KernelEdit::{pgd,p4d,pud,pmd}_populate_kernel` write the entry whatever
/// it held: over an entry that already points at a table, the old table
/// and everything below it become unreachable (leaked) and their mappings
/// vanish. They should refuse with `AlreadyMapped(addr)`.
#[test]
fn populate_kernel_over_a_present_entry_is_refused() {
    let mut failures = Vec::new();
    for arch in MODES {
        let va = VirtAddr(fixture(arch).1.kb + 2 * M2);
        for level in [Level::Pgd, Level::P4d, Level::Pud, Level::Pmd] {
            if arch.is_passthrough(level) {
                continue;
            }
            // A fresh machine per case: an accepted call corrupts it.
            let (pt, _f) = fixture(arch);
            let mut t = Table::new(&pt);
            t.case(
                &format!("{level}_populate_kernel over the table at {va:?}"),
                Want::Exact(Error::AlreadyMapped(va)),
                Change::Nothing,
                || {
                    let mut k = pt.kernel();
                    k.edit(|e| {
                        let entry = entry_of(e, arch, level, va).unwrap();
                        let table = e.alloc_table(level.next().unwrap())?;
                        Ok(match level {
                            Level::Pgd => e.pgd_populate_kernel(va, entry, table),
                            Level::P4d => e.p4d_populate_kernel(va, entry, table),
                            Level::Pud => e.pud_populate(va, entry, table),
                            _ => e.pmd_populate_kernel(va, entry, table),
                        }?)
                    })
                    .0
                },
            );
            failures.extend(t.failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The kernel walk helpers take an `EntryPtr` and an address and trust
/// that the entry is the address's: given an entry of another top-level
/// slot (or of a user space's root), `*_populate_kernel` and `alloc_track`
/// write it, record `addr` in the mask, and the sync copies `addr`'s slot,
/// not the one written: every other root is left out of sync. `set_leaf`
/// given another address's entry maps that other address. They should
/// refuse an entry that is not the kernel tables' entry of `level` for
/// `addr`.
#[test]
fn kernel_walk_helpers_refuse_an_entry_that_is_not_the_addresss() {
    let mut failures = Vec::new();
    for arch in MODES {
        let top = arch.top_level();
        for case in 0..5 {
            // A fresh machine per case: an accepted call corrupts it.
            let (pt, f) = fixture(arch);
            let mut t = Table::new(&pt);
            let addr = VirtAddr(f.kb + 5 * top_slot(arch));
            let elsewhere = VirtAddr(f.kb + 7 * top_slot(arch));
            let user_slot = EntryPtr(PhysAddr(f.a.root().0 + 300 * 8));
            if case == 4 {
                // Empty the 1G leaf's entry first, outside the case.
                pt.kernel()
                    .edit(|e| e.vunmap_range(VirtAddr(f.kb + G1), G1))
                    .0
                    .unwrap()
                    .ignore();
            }
            let what = [
                "top-level populate_kernel with another kernel slot's entry",
                "top-level populate_kernel with a user root's entry",
                "alloc_track(top) with another kernel slot's entry",
                "alloc_track(top) with a user root's entry",
                "set_leaf(pud) of kb+3G with the entry of kb+1G",
            ][case];
            t.case(what, Want::AnyErr, Change::Nothing, || {
                let mut k = pt.kernel();
                k.edit(|e| {
                    let other = e.pgd_offset(elsewhere);
                    match case {
                        0 | 1 => {
                            let p = if case == 0 { other } else { user_slot };
                            let table = e.alloc_table(top.next().unwrap())?;
                            Ok(if top == Level::Pgd {
                                e.pgd_populate_kernel(addr, p, table)
                            } else {
                                e.p4d_populate_kernel(addr, p, table)
                            }?)
                        }
                        2 | 3 => {
                            let p = if case == 2 { other } else { user_slot };
                            e.alloc_track(top, p, addr).map(|_| ())
                        }
                        _ => {
                            // The entry of kb+1G, emptied before the case.
                            let p = entry_of(e, arch, Level::Pud, VirtAddr(f.kb + G1)).unwrap();
                            e.set_leaf(
                                Level::Pud,
                                VirtAddr(f.kb + 3 * G1),
                                p,
                                PhysAddr(3 * G1),
                                Prot::KERNEL,
                            )
                            .and_then(|()| {
                                match k_translate(&pt, f.kb + 3 * G1) {
                                    Some(_) => Ok(()),
                                    None => Err(Error::NotMapped(VirtAddr(f.kb + 3 * G1))),
                                }
                            })
                        }
                    }
                })
                .0
            });
            failures.extend(t.failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn k_translate(pt: &Sim, va: u64) -> Option<pgtable::Mapping> {
    pt.translate(pt.kernel_root(), VirtAddr(va))
}

/// `KernelEdit::preallocate(start, last)` takes an inclusive `last` but
/// checks the range with size `(last - start + 1) & !0xfff`: a range of
/// less than a page (`preallocate(v, v)`) is refused as `EmptyRange`, and
/// `preallocate(0, u64::MAX)` wraps to size 0 and is refused as
/// `EmptyRange` instead of `NotKernelAddress`.
#[test]
fn preallocate_takes_an_inclusive_last() {
    for arch in MODES {
        let pt = machine(arch);
        let v = vmalloc_start(arch);
        let one = pt.kernel().edit(|e| e.preallocate(v, v)).0;
        let part = pt
            .kernel()
            .edit(|e| {
                e.preallocate(
                    VirtAddr(v.0 + top_slot(arch)),
                    VirtAddr(v.0 + top_slot(arch) + 0xffe),
                )
            })
            .0;
        let all = pt
            .kernel()
            .edit(|e| e.preallocate(VirtAddr(0), VirtAddr(u64::MAX)))
            .0;
        assert_eq!(
            (one, part, all),
            (Ok(1), Ok(1), Err(Error::NotKernelAddress(VirtAddr(0)))),
            "{}",
            arch.name()
        );
    }
}

/// `UserSpace::{pgd,p4d,pud,pmd}_populate` must refuse an entry that is not
/// this space's entry of that level for the (user) address given: an entry
/// in the *kernel* half of the space's root would leave that root out of
/// sync with the kernel.
#[test]
fn user_populate_helpers_cannot_write_the_kernel_half() {
    for arch in MODES {
        let (pt, mut f) = fixture(arch);
        let kernel_slot = EntryPtr(PhysAddr(f.a.root().0 + 300 * 8));
        let before = snapshot(&pt);
        let mut u = pt.user(&mut f.a).unwrap();
        let pte = u.pte_alloc_one().unwrap();
        let frame = pte.frame();
        let refused = match u.pmd_populate(VirtAddr(f.ub), kernel_slot, pte) {
            Err(r) => {
                u.pte_free(r.value);
                Some(r.error)
            }
            Ok(()) => {
                // Undo, so the machine can be torn down.
                pt.mem().inner().write_u64(kernel_slot.0, 0);
                pt.mem().inner().free_table(frame);
                None
            }
        };
        let changes = diff(&before, &snapshot(&pt));
        assert_eq!(
            refused,
            Some(Error::ForeignEntry(VirtAddr(f.ub))),
            "{}",
            arch.name()
        );
        assert!(
            changes.is_empty(),
            "{}: a user populate wrote the kernel half: {changes:?}",
            arch.name()
        );
        pt.destroy_space(f.a).expect("own space").ignore();
        pt.destroy_space(f.b).expect("own space").ignore();
    }
}

/// `PageTables::destroy_space` frees the space's root and user tables
/// without checking that the space is registered here: an `AddressSpace`
/// of another `PageTables` is freed into this one's allocator
/// (`tables_in_use` underflows, the frame can be handed out twice).
#[test]
fn destroy_space_of_another_machine_changes_nothing() {
    let pt1 = machine(MODES[0]);
    let pt2 = machine(MODES[0]);
    let foreign = pt1.create_space().unwrap();
    let root = foreign.root();
    let before = snapshot(&pt2);
    let refused = pt2.destroy_space(foreign).unwrap_err();
    assert_eq!(refused.error, Error::Foreign);
    let changes = diff(&before, &snapshot(&pt2));
    assert!(
        changes.is_empty(),
        "destroying a foreign space changed {changes:?}"
    );
    assert_eq!(pt1.roots(), vec![root]);
}
