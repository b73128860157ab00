//! Model-based property test: random operation sequences on the simulated
//! machine, compared after every operation with a plain reference model of
//! what each space should map, through the independent MMU.
//!
//! Checked after every operation: translations equal the model's in every
//! root (kernel ranges) or in their own root only (user pages); the
//! checker's sync invariants (every space agrees with the kernel on the
//! kernel half; `Checker::step`, which looks where the operation wrote,
//! and `Checker::full` when the audit is full); the table audit (`Audit`:
//! its own walk of every root, no table frame leaked or freed while
//! linked, and through the MMU no kernel leaf user-accessible or
//! writable+executable from any root, PTI user-mode roots included); no
//! user leaf writable+executable; no root maps a frame
//! of a destroyed process's user pages; with page-table isolation (half the
//! x86-64 sequences), every user-mode root maps its process's user pages
//! and the CPU entry area, and no other kernel address.
//!
//! The audit rereads only what the last operation wrote, with a full audit
//! every [`FULL_EVERY`] operations and at the end of every sequence; the
//! `broken_*` tests below show each property fails a deliberately broken
//! run under the incremental audit.
//!
//! Besides the kernel users, the sequences drive the raw helpers of a
//! kernel edit in the mode's scratch regions (KASAN shadow, modules,
//! fixmap, kernel text, pkmap): tables built with `alloc_table`, filled
//! with `set_leaf` and linked with the populate helper of the level (their
//! pages then modelled like any kernel range, in every root), later
//! unmapped with `vunmap_range`; handles dropped unlinked; tables of the
//! wrong level, full entries, another `PageTables`' tables, shared tables
//! and spaces; shared tables linked under two entries, through which an
//! unmap is refused. And calls with hostile arguments (user-half,
//! non-canonical, wrapping, misaligned, empty or reversed ranges; bad
//! rights; entries of other addresses; user calls with kernel addresses):
//! each must be refused with its error and change nothing, no page written
//! and no table frame allocated or freed, the audit run after it as after
//! every step. Each mode's second line counts them.
//!
//! `MODEL_CASES_PER_MODE` sets the number of sequences per paging mode
//! (default 24; CI's release run uses 10000); each of the 11 modes is its
//! own test and prints a line: mode, sequences, operations, failures.
//! `PROPTEST_CASES` is not read.

use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::{Region, RegionKind};
use pgtable::PageSize;
use pgtable::{
    AddressSpace, Decoded, EntryPtr, Error, KernelEdit, KernelTable, Level, PageTables, PhysAddr,
    Prot, Refused, SparseMemory, SyncOutcome, UserSpace, UserTable, VirtAddr,
};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};
use pgtable_mmu::{Access, Leaf, Mode, Roots};
use pgtable_sim::checker::{Audit, Checker};
use pgtable_sim::layout::SECTION_SIZE;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Bus, Context, Machine, PageBus, SimArch, SimError, Variant};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

/// A full audit every this many operations (and at the end of a sequence).
const FULL_EVERY: usize = 16;

#[derive(Clone, Debug)]
enum Op {
    Create,
    Destroy(usize),
    Switch(usize, Option<usize>),
    Vmalloc(usize),
    Vfree(usize),
    Ioremap(u64, u64),
    Iounmap(usize),
    HotplugAdd(u64),
    HotplugRemove(usize),
    UserMap(usize, u64, usize),
    UserUnmap(usize),
    Access(usize, usize, u64),
    CeaMap(usize),
    /// A kernel table built and linked by hand with the raw helpers.
    Raw(Raw),
    /// `vunmap_range()` of a range a [`Op::Raw`] mapped.
    RawUnmap(usize),
    /// A call with hostile arguments: (which, a parameter).
    Hostile(usize, u64),
}

/// What an [`Op::Raw`] does with its table.
#[derive(Clone, Copy, Debug)]
enum RawHow {
    /// Link it, leaves filled, at an empty entry (or see it refused with
    /// `AlreadyMapped` at a full one).
    Link,
    /// Build it (and tables below it) and drop the handle unlinked.
    Drop,
    /// Link a table of the wrong level: `WrongLevel`.
    WrongLevel,
    /// Pass another `PageTables`' table, shared table or space: `Foreign`.
    Foreign,
    /// Share it and link it under two entries.
    Shared,
}

/// A raw populate: in scratch area `area` of the mode, at page `page`
/// (modulo its size), down to the linkable level `level` (modulo their
/// number), with `leaves` base pages (or a huge leaf where allowed, if
/// `huge`); `pick` chooses among variants.
#[derive(Clone, Copy, Debug)]
struct Raw {
    how: RawHow,
    area: usize,
    page: u64,
    level: usize,
    leaves: u64,
    huge: bool,
    pick: usize,
}

fn raw(how: RawHow) -> impl Strategy<Value = Op> {
    (
        0..4usize,
        any::<u64>(),
        0..5usize,
        1..5u64,
        any::<bool>(),
        0..8usize,
    )
        .prop_map(move |(area, page, level, leaves, huge, pick)| {
            Op::Raw(Raw {
                how,
                area,
                page,
                level,
                leaves,
                huge,
                pick,
            })
        })
}

fn raw_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => raw(RawHow::Link),
        1 => raw(RawHow::Drop),
        1 => raw(RawHow::WrongLevel),
        1 => raw(RawHow::Foreign),
        1 => raw(RawHow::Shared),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Create),
        1 => (0..8usize).prop_map(Op::Destroy),
        2 => (0..3usize, proptest::option::of(0..8usize)).prop_map(|(c, p)| Op::Switch(c, p)),
        3 => (1..9usize).prop_map(Op::Vmalloc),
        2 => (0..8usize).prop_map(Op::Vfree),
        2 => (0..64u64, 1..9000u64).prop_map(|(p, s)| Op::Ioremap(p, s)),
        1 => (0..8usize).prop_map(Op::Iounmap),
        1 => (0..6u64).prop_map(Op::HotplugAdd),
        1 => (0..8usize).prop_map(Op::HotplugRemove),
        3 => (0..8usize, 0..512u64, 1..5usize).prop_map(|(p, v, n)| Op::UserMap(p, v, n)),
        2 => (0..8usize).prop_map(Op::UserUnmap),
        3 => (0..3usize, 0..16usize, 0..1024u64).prop_map(|(c, r, o)| Op::Access(c, r, o)),
        1 => (0..4usize).prop_map(Op::CeaMap),
        5 => raw_op(),
        1 => (0..8usize).prop_map(Op::RawUnmap),
        2 => (0..HOSTILE_KINDS, any::<u64>()).prop_map(|(k, x)| Op::Hostile(k, x)),
    ]
}

/// A kernel range: start → (pages, physical address of each page).
#[derive(Default)]
struct Model {
    kernel: BTreeMap<u64, Vec<u64>>,
    /// (process, va) → frame.
    user: BTreeMap<(usize, u64), u64>,
    user_maps: Vec<(usize, u64, usize)>,
    vmallocs: Vec<u64>,
    ioremaps: Vec<u64>,
    sections: Vec<u64>,
    /// Frames of destroyed processes' pages not handed out again.
    dead: HashSet<u64>,
    /// Kernel pages unmapped by the last operation.
    gone: Vec<u64>,
    /// CPU entry areas mapped: start → pages.
    cea: Vec<u64>,
    /// Ranges the raw operations mapped.
    raws: Vec<RawMap>,
}

/// Pages an [`Op::Raw`] mapped: `start..start + size`, seen at the keys of
/// `Model::kernel` in `keys`; through a shared table, if `shared`.
#[derive(Clone, Debug)]
struct RawMap {
    start: u64,
    size: u64,
    keys: Vec<u64>,
    shared: bool,
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

fn apply(m: &Machine, md: &mut Model, ex: &mut Extra, op: &Op, v: Variant) -> Result<(), Failure> {
    md.gone.clear();
    let ids = m.process_ids();
    let mut k = m.kernel();
    match *op {
        Op::Create => {
            let id = m.create_process()?;
            if let Some(pa) = m.pt.translate(
                m.root_of(Context::Process(id))?,
                pgtable::VirtAddr(0x40_0000),
            ) {
                md.dead.remove(&pa.pa.0);
                md.user.insert((id, 0x40_0000), pa.pa.0);
            }
        }
        Op::Destroy(i) => {
            if let Some(id) = pick(&ids, i) {
                let frames: Vec<u64> = md
                    .user
                    .iter()
                    .filter(|((p, _), _)| *p == id)
                    .map(|(_, &f)| f)
                    .collect();
                match m.destroy_process(id) {
                    Err(SimError::ProcessBusy(_)) => {}
                    r => {
                        r?;
                        md.user.retain(|(p, _), _| *p != id);
                        md.user_maps.retain(|(p, _, _)| *p != id);
                        md.dead.extend(frames);
                    }
                }
            }
        }
        Op::Switch(cpu, p) => {
            let ctx = p
                .and_then(|i| pick(&ids, i))
                .map_or(Context::Kernel, Context::Process);
            m.switch(cpu, ctx)?;
        }
        Op::Vmalloc(pages) => {
            let va = k.vmalloc(v, pages)?;
            let frames: Vec<u64> = m
                .frames_of(va)
                .unwrap_or_default()
                .iter()
                .map(|f| f.0)
                .collect();
            frames.iter().for_each(|f| {
                md.dead.remove(f);
            });
            md.kernel.insert(va, frames);
            md.vmallocs.push(va);
        }
        Op::Vfree(i) => {
            if let Some(va) = pick(&md.vmallocs, i) {
                k.vfree(va)?;
                md.vmallocs.retain(|&v| v != va);
                let pages = md.kernel.remove(&va).map_or(0, |f| f.len());
                md.gone.extend((0..pages as u64).map(|p| va + p * 4096));
            }
        }
        Op::Ioremap(page, size) => {
            let pa = 0xfe00_0000 + page * 4096 + (size % 64) * 8;
            let va = k.ioremap(v, pa, size)?;
            let pages = ((pa & 0xfff) + size).div_ceil(4096);
            md.kernel.insert(
                va & !0xfff,
                (0..pages).map(|p| (pa & !0xfff) + p * 4096).collect(),
            );
            md.ioremaps.push(va);
        }
        Op::Iounmap(i) => {
            if let Some(va) = pick(&md.ioremaps, i) {
                k.iounmap(va)?;
                md.ioremaps.retain(|&v| v != va);
                let pages = md.kernel.remove(&(va & !0xfff)).map_or(0, |f| f.len());
                md.gone
                    .extend((0..pages as u64).map(|p| (va & !0xfff) + p * 4096));
            }
        }
        Op::HotplugAdd(slot) => {
            // 32-bit modes have no hotplug of the direct map.
            let Some(base) = m.layout.hotplug_base else {
                return Ok(());
            };
            let pa = base + slot * 2 * SECTION_SIZE;
            if !md.sections.contains(&pa) {
                k.hotplug_add(v, pa, SECTION_SIZE, 0)?;
                md.sections.push(pa);
                // Probe the direct map page by page at its ends and middle.
                for off in [0, SECTION_SIZE / 2, SECTION_SIZE - 4096] {
                    md.kernel.insert(m.layout.va(pa + off), vec![pa + off]);
                }
            }
        }
        Op::HotplugRemove(i) => {
            if let Some(pa) = pick(&md.sections, i) {
                k.hotplug_remove(pa, SECTION_SIZE)?;
                md.sections.retain(|&s| s != pa);
                for off in [0, SECTION_SIZE / 2, SECTION_SIZE - 4096] {
                    md.kernel.remove(&m.layout.va(pa + off));
                    md.gone.push(m.layout.va(pa + off));
                }
                md.gone.push(m.layout.page(pa));
            }
        }
        Op::UserMap(i, page, pages) => {
            if let Some(id) = pick(&ids, i) {
                let va = 0x1000_0000 + page * 8 * 4096;
                if !(0..pages as u64).any(|p| md.user.contains_key(&(id, va + p * 4096))) {
                    let frames = m.user_map(id, va, pages, Prot::USER_RW)?;
                    for (p, f) in frames.iter().enumerate() {
                        md.dead.remove(&f.0);
                        md.user.insert((id, va + p as u64 * 4096), f.0);
                    }
                    md.user_maps.push((id, va, pages));
                }
            }
        }
        Op::UserUnmap(i) => {
            if let Some((id, va, pages)) = pick(&md.user_maps, i) {
                m.user_unmap(id, va, pages)?;
                md.user_maps.retain(|&u| u != (id, va, pages));
                for p in 0..pages as u64 {
                    md.user.remove(&(id, va + p * 4096));
                }
            }
        }
        Op::CeaMap(cpu) => {
            let Some(cea) = m.arch.layout().get(pgtable::arch::RegionKind::CpuEntryArea) else {
                return Ok(());
            };
            let base = cea.start;
            if !md.cea.contains(&(base + cpu as u64 * 0x1_0000)) {
                let va = k.cpu_entry_area_map(v, cpu)?;
                let frames: Vec<u64> = m
                    .frames_of(va)
                    .unwrap_or_default()
                    .iter()
                    .map(|f| f.0)
                    .collect();
                frames.iter().for_each(|f| {
                    md.dead.remove(f);
                });
                md.kernel.insert(va, frames);
                md.cea.push(va);
            }
        }
        Op::Raw(r) => apply_raw(m, &mut k, md, ex, &r)?,
        Op::RawUnmap(i) => apply_raw_unmap(m, &mut k, md, ex, i)?,
        Op::Hostile(kind, x) => apply_hostile(m, &mut k, md, ex, kind, x)?,
        Op::Access(cpu, r, off) => {
            if let Some((&start, frames)) = md.kernel.iter().nth(r % md.kernel.len().max(1)) {
                let va = start + (off % frames.len() as u64) * 4096;
                k.access(cpu, va, Access::Write, "model access")
                    .map_err(|f| panic!("{f}"))
                    .ok();
            }
        }
    }
    Ok(())
}

/// Why a sequence failed while applying an operation.
#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<SimError> for Failure {
    fn from(e: SimError) -> Self {
        Failure(e.to_string())
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(SimError::from(e).to_string())
    }
}

fn fail<T>(why: String) -> Result<T, Failure> {
    Err(Failure(why))
}

/// What the raw and hostile operations did in one mode.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// Tables linked by hand with leaves (of which with a huge leaf).
    linked: u64,
    huge: u64,
    /// Links refused with `AlreadyMapped` (the entry was full).
    occupied: u64,
    /// Walks stopped by a leaf or a shared table on the way.
    blocked: u64,
    /// Raw ranges unmapped, their tables freed.
    unmapped: u64,
    /// Handles dropped unlinked.
    dropped: u64,
    wrong_level: u64,
    foreign: u64,
    /// Shared tables linked (each under one or two entries).
    shared: u64,
    /// Unmaps through a shared table refused.
    shared_refused: u64,
    /// User tables linked by hand.
    user_linked: u64,
    /// Calls with hostile arguments refused.
    hostile: u64,
    /// Raw or hostile operations that mean nothing in the mode.
    skipped: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.linked += o.linked;
        self.huge += o.huge;
        self.occupied += o.occupied;
        self.blocked += o.blocked;
        self.unmapped += o.unmapped;
        self.dropped += o.dropped;
        self.wrong_level += o.wrong_level;
        self.foreign += o.foreign;
        self.shared += o.shared;
        self.shared_refused += o.shared_refused;
        self.user_linked += o.user_linked;
        self.hostile += o.hostile;
        self.skipped += o.skipped;
    }
}

/// State of a sequence besides the model: another machine's page tables
/// (for foreign handles and spaces), an address space of our own for the
/// user raw helpers, the pages taken from the write log for the audit.
#[derive(Default)]
struct Extra {
    foreign: Option<PageTables<SimArch, SparseMemory>>,
    aux: Option<AddressSpace>,
    /// Written pages taken from the log while watching a refused call.
    taken: Vec<PhysAddr>,
    n: Counts,
}

type Ed<'k, 'a> = KernelEdit<'k, 'a, SimArch, SparseMemory>;
type KTable<'a> = KernelTable<'a, SimArch, SparseMemory>;

/// Where base-page leaves of raw tables point, and huge leaves.
const LEAF_PA: u64 = 0xf000_0000;
const HUGE_PA: u64 = 0xc000_0000;
/// A user address for the hostile and user raw calls.
const USER_VA: u64 = 0x2000_0000;
/// Kinds of [`Op::Hostile`].
const HOSTILE_KINDS: usize = 9;

/// Run `call`, which must be refused, and check it changed nothing: no page
/// written (the memory's write log stays empty) and no table frame
/// allocated or freed. Pages written before go to `taken`, for the audit.
fn quiet<R>(
    m: &Machine,
    taken: &mut Vec<PhysAddr>,
    what: &str,
    call: impl FnOnce() -> R,
) -> Result<R, Failure> {
    quiet_lending(m, taken, what, &[], call)
}

/// [`quiet`] for a call that may borrow the table pages `lent` for
/// writing (`TableMemory::table_words`, which the write log counts as a
/// write): those may appear in the log, with their words unchanged.
fn quiet_lending<R>(
    m: &Machine,
    taken: &mut Vec<PhysAddr>,
    what: &str,
    lent: &[u64],
    call: impl FnOnce() -> R,
) -> Result<R, Failure> {
    let mem = m.pt.mem();
    let words = |page: u64| -> Vec<u64> {
        mem.peek_words(PhysAddr(page)).map_or_else(Vec::new, |w| {
            w.iter()
                .map(|w| w.load(std::sync::atomic::Ordering::Acquire))
                .collect()
        })
    };
    taken.extend(mem.take_written());
    let before = mem.tables_in_use();
    let snapshot: Vec<(u64, Vec<u64>)> = lent.iter().map(|&p| (p, words(p))).collect();
    let r = call();
    let written = mem.take_written();
    let after = mem.tables_in_use();
    let pages: Vec<u64> = written.iter().map(|p| p.0).collect();
    taken.extend(written);
    let changed = pages.iter().any(|&p| {
        snapshot
            .iter()
            .find(|(s, _)| *s == p)
            .is_none_or(|(_, w)| *w != words(p))
    });
    if changed || after != before {
        return fail(format!(
            "{what}: refused call wrote pages {pages:x?} (lent {lent:x?}), \
             tables in use {before} -> {after}"
        ));
    }
    Ok(r)
}

/// Check that `got` is the refusal `want`.
fn refused_with(what: &str, got: Option<Error>, want: Error) -> Result<(), Failure> {
    if got == Some(want) {
        Ok(())
    } else {
        fail(format!("{what}: expected {want:?}, got {got:?}"))
    }
}

/// The kernel regions no other operation maps, where the raw operations
/// build their tables.
fn scratch(m: &Machine) -> Vec<Region> {
    let layout = m.arch.layout();
    let busy: Vec<&Region> = layout
        .regions
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RegionKind::Vmalloc
                    | RegionKind::DirectMap
                    | RegionKind::Vmemmap
                    | RegionKind::CpuEntryArea
            )
        })
        .collect();
    layout
        .regions
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RegionKind::KasanShadow
                    | RegionKind::Modules
                    | RegionKind::Fixmap
                    | RegionKind::KernelText
                    | RegionKind::Pkmap
            )
        })
        .filter(|r| r.start >= m.arch.kernel_start() && r.size() >= 4 * 4096)
        .filter(|r| !busy.iter().any(|b| b.start <= r.last && r.start <= b.last))
        .copied()
        .collect()
}

/// Whether `va` lies in a top-level slot the PTI user-mode roots share.
fn in_pti_slot(m: &Machine, va: u64) -> bool {
    m.pt.pti_slots()
        .is_some_and(|s| s.contains(&(m.arch.index(Level::Pgd, va) as usize)))
}

/// The levels whose entries the raw helpers link a table at: every level
/// but the PTE and the pass-through ones (the top of a folded chain is
/// the root's entry).
fn link_levels(arch: SimArch) -> Vec<Level> {
    Level::ALL
        .into_iter()
        .filter(|&l| l != Level::Pte && !arch.is_passthrough(l))
        .collect()
}

/// The levels `alloc_table` makes a table of.
fn table_levels(arch: SimArch) -> Vec<Level> {
    Level::ALL
        .into_iter()
        .filter(|&l| l != Level::Pgd && !arch.is_folded(l))
        .collect()
}

/// Bytes one PTE table maps.
fn pte_span(arch: SimArch) -> u64 {
    4096u64 << arch.level_bits(Level::Pte)
}

/// `pgd_offset_k()` then `*_alloc_track()` down to the entry of `level`
/// for `va`.
fn walk_to(e: &mut Ed<'_, '_>, level: Level, va: u64) -> pgtable::Result<EntryPtr> {
    let mut entry = e.pgd_offset(VirtAddr(va));
    for l in Level::ALL.into_iter().take_while(|&l| l < level) {
        entry = e.alloc_track(l, entry, VirtAddr(va))?;
    }
    Ok(entry)
}

/// The populate helper of `level`.
fn link<'a>(
    e: &mut Ed<'_, 'a>,
    level: Level,
    va: u64,
    entry: EntryPtr,
    t: KTable<'a>,
) -> Result<(), Refused<KTable<'a>>> {
    let va = VirtAddr(va);
    match level {
        Level::Pgd => e.pgd_populate_kernel(va, entry, t),
        Level::P4d => e.p4d_populate_kernel(va, entry, t),
        Level::Pud => e.pud_populate(va, entry, t),
        Level::Pmd => e.pmd_populate_kernel(va, entry, t),
        Level::Pte => Err(Refused {
            error: Error::FoldedLevel(level),
            value: t,
        }),
    }
}

/// The user populate helper of `level`.
fn ulink<'s>(
    u: &mut UserSpace<'s, SimArch, SparseMemory>,
    level: Level,
    va: u64,
    entry: EntryPtr,
    t: UserTable<'s, SimArch, SparseMemory>,
) -> Result<(), Refused<UserTable<'s, SimArch, SparseMemory>>> {
    let va = VirtAddr(va);
    match level {
        Level::Pgd => u.pgd_populate(va, entry, t),
        Level::P4d => u.p4d_populate(va, entry, t),
        Level::Pud => u.pud_populate(va, entry, t),
        Level::Pmd => u.pmd_populate(va, entry, t),
        Level::Pte => Err(Refused {
            error: Error::FoldedLevel(level),
            value: t,
        }),
    }
}

/// An unlinked table of entries of `level` for the span of `va`: the
/// huge leaf `huge` in it, or (below a chain of tables, one per level,
/// linked into each other) the base-page `leaves`.
fn build<'a>(
    e: &mut Ed<'_, 'a>,
    arch: SimArch,
    level: Level,
    va: u64,
    leaves: &[(u64, u64)],
    huge: Option<(u64, u64)>,
) -> pgtable::Result<KTable<'a>> {
    let t = e.alloc_table(level)?;
    let slot = |t: &KTable<'a>, va: u64| {
        t.entry(arch.index(level, va))
            .ok_or(Error::FoldedLevel(level))
    };
    if let Some((hva, hpa)) = huge {
        let entry = slot(&t, hva)?;
        e.set_leaf(level, VirtAddr(hva), entry, PhysAddr(hpa), Prot::KERNEL)?;
    } else if level == Level::Pte {
        for &(lva, lpa) in leaves {
            let entry = slot(&t, lva)?;
            e.set_leaf(
                Level::Pte,
                VirtAddr(lva),
                entry,
                PhysAddr(lpa),
                Prot::KERNEL,
            )?;
        }
    } else {
        let below = level.next().ok_or(Error::FoldedLevel(level))?;
        let child = build(e, arch, below, va, leaves, None)?;
        let entry = slot(&t, va)?;
        link(e, level, va, entry, child)?;
    }
    Ok(t)
}

/// Where a raw operation works: its scratch region, first page and
/// base-page leaves (page, frame), all in one PTE table's span.
struct Spot {
    region: Region,
    page: u64,
    leaves: Vec<(u64, u64)>,
}

fn spot(m: &Machine, r: &Raw) -> Option<Spot> {
    // Under PTI, nothing but the entry area in the slots user-mode roots
    // share.
    let regions: Vec<Region> = scratch(m)
        .into_iter()
        .filter(|r| !in_pti_slot(m, r.start))
        .collect();
    let region = *regions.get(r.area % regions.len().max(1))?;
    let page = region.start + (r.page % (region.size() / 4096)) * 4096;
    if in_pti_slot(m, page) {
        return None;
    }
    let span = pte_span(m.arch);
    // `checked_add`: the kernel-text region ends at the top of the address
    // space, so a run of leaves from its last page would wrap.
    let leaves = (0..r.leaves)
        .map_while(|i| page.checked_add(i * 4096))
        .take_while(|&va| va <= region.last && va / span == page / span)
        .enumerate()
        .map(|(i, va)| (va, LEAF_PA + i as u64 * 4096))
        .collect();
    Some(Spot {
        region,
        page,
        leaves,
    })
}

/// A huge leaf (address, frame) for a table of entries of `level` at `s`,
/// if `want` and the level allows one, of at most 1 GiB, whose whole span
/// the region holds.
fn huge_leaf(arch: SimArch, s: &Spot, level: Level, want: bool) -> Option<(u64, u64)> {
    let size = arch.level_size(level);
    let start = s.page & !(size - 1);
    let fits = s.region.contains(start)
        && start
            .checked_add(size - 1)
            .is_some_and(|last| s.region.contains(last));
    (want && level != Level::Pte && arch.leaf_allowed(level) && size <= 1 << 30 && fits)
        .then_some((start, HUGE_PA))
}

/// Model the leaves of `s` (moved by `by`) as mapped.
fn note_leaves(md: &mut Model, s: &Spot, by: u64, shared: bool) {
    let start = s.page + by;
    md.kernel
        .insert(start, s.leaves.iter().map(|&(_, pa)| pa).collect());
    md.raws.push(RawMap {
        start,
        size: s.leaves.len() as u64 * 4096,
        keys: vec![start],
        shared,
    });
}

/// What a raw walk-and-link ended in.
enum Linked {
    Done,
    Occupied,
    Blocked,
}

fn apply_raw<'a>(
    m: &Machine,
    k: &mut pgtable_sim::kernel::Kernel<'a>,
    md: &mut Model,
    ex: &'a mut Extra,
    r: &Raw,
) -> Result<(), Failure> {
    let arch = m.arch;
    let Some(s) = spot(m, r) else {
        ex.n.skipped += 1;
        return Ok(());
    };
    let levels = link_levels(arch);
    let level = levels[r.level % levels.len()];
    let Some(below) = level.next() else {
        return fail(format!("no level below {level}"));
    };
    let taken = &mut ex.taken;
    match r.how {
        RawHow::Link => {
            let size = arch.level_size(below);
            let huge = huge_leaf(arch, &s, below, r.huge);
            let (res, _) = k.ks.edit(|e| -> Result<Linked, Failure> {
                let entry = match walk_to(e, level, s.page) {
                    Ok(x) => x,
                    Err(Error::AlreadyMapped(_) | Error::SharedTable(_)) => {
                        return Ok(Linked::Blocked)
                    }
                    Err(err) => return Err(err.into()),
                };
                let table = build(e, arch, below, s.page, &s.leaves, huge)?;
                if e.entry(level, entry) == Decoded::None {
                    link(e, level, s.page, entry, table).map_err(|r| Failure::from(r.error))?;
                    return Ok(Linked::Done);
                }
                let got = quiet(m, taken, "populate of a full entry", || {
                    link(e, level, s.page, entry, table)
                })?;
                let got = got.err().map(|r| r.error);
                refused_with(
                    &format!("{level} populate at {:#x}", s.page),
                    got,
                    Error::AlreadyMapped(VirtAddr(s.page)),
                )?;
                Ok(Linked::Occupied)
            });
            match res? {
                Linked::Done => {
                    ex.n.linked += 1;
                    if let Some((hva, hpa)) = huge {
                        ex.n.huge += 1;
                        let probes = [0, size / 2, size - 4096];
                        for off in probes {
                            md.kernel.insert(hva + off, vec![hpa + off]);
                        }
                        md.raws.push(RawMap {
                            start: hva,
                            size,
                            keys: probes.iter().map(|o| hva + o).collect(),
                            shared: false,
                        });
                    } else {
                        note_leaves(md, &s, 0, false);
                    }
                }
                Linked::Occupied => ex.n.occupied += 1,
                Linked::Blocked => ex.n.blocked += 1,
            }
        }
        RawHow::Drop => {
            let tl = table_levels(arch);
            let level = tl[r.level % tl.len()];
            let huge = huge_leaf(arch, &s, level, r.huge);
            let mem = m.pt.mem();
            let before = mem.tables_in_use();
            let (res, _) = k.ks.edit(|e| -> pgtable::Result<()> {
                let t = build(e, arch, level, s.page, &s.leaves, huge)?;
                drop(t);
                Ok(())
            });
            res?;
            if mem.tables_in_use() != before {
                return fail(format!(
                    "dropped {level} table handle: tables in use {before} -> {}",
                    mem.tables_in_use()
                ));
            }
            ex.n.dropped += 1;
        }
        RawHow::WrongLevel => {
            let wrong: Vec<Level> = table_levels(arch)
                .into_iter()
                .filter(|&l| l != below)
                .collect();
            if wrong.is_empty() {
                ex.n.skipped += 1;
                return Ok(());
            }
            let w = wrong[r.pick % wrong.len()];
            let (res, _) = k.ks.edit(|e| -> Result<bool, Failure> {
                let entry = match walk_to(e, level, s.page) {
                    Ok(x) => x,
                    Err(Error::AlreadyMapped(_) | Error::SharedTable(_)) => return Ok(false),
                    Err(err) => return Err(err.into()),
                };
                let t = e.alloc_table(w)?;
                let got = quiet(m, taken, "wrong-level populate", || {
                    link(e, level, s.page, entry, t)
                })?;
                refused_with(
                    &format!("{w} table at a {level} entry"),
                    got.err().map(|r| r.error),
                    Error::WrongLevel {
                        table: w,
                        needed: below,
                    },
                )?;
                Ok(true)
            });
            if res? {
                ex.n.wrong_level += 1;
            } else {
                ex.n.blocked += 1;
            }
        }
        RawHow::Foreign => {
            let (ts, te) = m.layout.table_frames;
            if ex.foreign.is_none() {
                // Its own memory over the same physical range: its frames
                // and roots have the addresses of ours.
                let mem = SparseMemory::new(PhysAddr(ts)..PhysAddr(te));
                ex.foreign = Some(PageTables::new(arch, mem)?);
            }
            let Some(fpt) = ex.foreign.as_ref() else {
                return fail("no foreign page tables".into());
            };
            let mut fbefore = fpt.mem().tables_in_use();
            match r.pick % 4 {
                0 => {
                    let (ft, _) = fpt.kernel().edit(|fe| fe.alloc_table(below));
                    let ft = ft?;
                    let (res, _) = k.ks.edit(|e| -> Result<bool, Failure> {
                        let entry = match walk_to(e, level, s.page) {
                            Ok(x) => x,
                            Err(Error::AlreadyMapped(_) | Error::SharedTable(_)) => {
                                return Ok(false)
                            }
                            Err(err) => return Err(err.into()),
                        };
                        let got = quiet(m, taken, "foreign table populate", || {
                            link(e, level, s.page, entry, ft)
                        })?;
                        refused_with(
                            "another machine's table",
                            got.err().map(|r| r.error),
                            Error::Foreign,
                        )?;
                        Ok(true)
                    });
                    if !res? {
                        ex.n.blocked += 1;
                        return Ok(());
                    }
                }
                1 => {
                    let (fs, _) = fpt.kernel().edit(|fe| -> pgtable::Result<_> {
                        let t = fe.alloc_table(Level::Pte)?;
                        Ok(fe.share(t)?)
                    });
                    let fs = match fs {
                        Ok(fs) => fs,
                        Err(Error::TooManySharedTables) => {
                            ex.n.skipped += 1;
                            return Ok(());
                        }
                        Err(err) => return Err(err.into()),
                    };
                    // A shared table is never freed.
                    fbefore = fpt.mem().tables_in_use();
                    let (res, _) = k.ks.edit(|e| -> Result<bool, Failure> {
                        let entry = match walk_to(e, Level::Pmd, s.page) {
                            Ok(x) => x,
                            Err(Error::AlreadyMapped(_) | Error::SharedTable(_)) => {
                                return Ok(false)
                            }
                            Err(err) => return Err(err.into()),
                        };
                        let got = quiet(m, taken, "foreign shared table populate", || {
                            e.populate_shared(Level::Pmd, VirtAddr(s.page), entry, fs)
                        })?;
                        refused_with("another machine's shared table", got.err(), Error::Foreign)?;
                        Ok(true)
                    });
                    if !res? {
                        ex.n.blocked += 1;
                        return Ok(());
                    }
                }
                2 => {
                    let mut space = fpt.create_space()?;
                    let got = quiet(m, taken, "user() of a foreign space", || {
                        m.pt.user(&mut space).err()
                    })?;
                    refused_with("user() of another machine's space", got, Error::Foreign)?;
                    let got = quiet(m, taken, "destroy of a foreign space", || {
                        m.pt.destroy_space(space)
                    })?;
                    let Err(Refused { error, value }) = got else {
                        return fail("destroyed another machine's space".into());
                    };
                    refused_with(
                        "destroy another machine's space",
                        Some(error),
                        Error::Foreign,
                    )?;
                    if fpt.destroy_space(value).is_err() {
                        return fail("the foreign space came back spoiled".into());
                    }
                }
                _ => {
                    let aux = aux_space(m, &mut ex.aux)?;
                    let mut space = fpt.create_space()?;
                    {
                        let mut fu = fpt.user(&mut space)?;
                        let ft = fu.alloc_table(Level::Pte)?;
                        let mut u = m.pt.user(aux)?;
                        let entry = u.pgd_offset(VirtAddr(USER_VA))?;
                        let got = quiet(m, taken, "foreign user table populate", || {
                            u.pmd_populate(VirtAddr(USER_VA), entry, ft)
                        })?;
                        refused_with(
                            "another machine's user table",
                            got.err().map(|r| r.error),
                            Error::Foreign,
                        )?;
                    }
                    if fpt.destroy_space(space).is_err() {
                        return fail("foreign space".into());
                    }
                }
            }
            if fpt.mem().tables_in_use() != fbefore {
                return fail(format!(
                    "foreign machine: tables in use {fbefore} -> {}",
                    fpt.mem().tables_in_use()
                ));
            }
            ex.n.foreign += 1;
        }
        RawHow::Shared => {
            // A shared table is never written again: no other user may
            // need the span of its entry, so both spans lie in the region.
            let step = arch.level_size(Level::Pmd);
            let base = s.page & !(step - 1);
            let within = |n: u64| {
                s.region.contains(base)
                    && base
                        .checked_add(n * step - 1)
                        .is_some_and(|last| s.region.contains(last))
            };
            if !within(1) {
                ex.n.skipped += 1;
                return Ok(());
            }
            let alias = s.page + step;
            let alias_ok = within(2) && !in_pti_slot(m, alias);
            let (res, _) = k.ks.edit(|e| -> Result<Option<usize>, Failure> {
                let entry = match walk_to(e, Level::Pmd, s.page) {
                    Ok(x) if e.entry(Level::Pmd, x) == Decoded::None => x,
                    Ok(_) | Err(Error::AlreadyMapped(_) | Error::SharedTable(_)) => {
                        return Ok(None)
                    }
                    Err(err) => return Err(err.into()),
                };
                let t = build(e, arch, Level::Pte, s.page, &s.leaves, None)?;
                let st = match e.share(t) {
                    Ok(st) => st,
                    Err(Refused {
                        error: Error::TooManySharedTables,
                        value,
                    }) => {
                        drop(value);
                        return Ok(Some(0));
                    }
                    Err(r) => return Err(r.error.into()),
                };
                e.populate_shared(Level::Pmd, VirtAddr(s.page), entry, st)?;
                if alias_ok {
                    if let Ok(e2) = walk_to(e, Level::Pmd, alias) {
                        if e.entry(Level::Pmd, e2) == Decoded::None {
                            e.populate_shared(Level::Pmd, VirtAddr(alias), e2, st)?;
                            return Ok(Some(2));
                        }
                    }
                }
                Ok(Some(1))
            });
            match res? {
                None => ex.n.blocked += 1,
                Some(0) => ex.n.skipped += 1,
                Some(n) => {
                    ex.n.shared += 1;
                    note_leaves(md, &s, 0, true);
                    if n == 2 {
                        note_leaves(md, &s, step, true);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The address space of our own for the user raw helpers (registered, so
/// every check sees it).
fn aux_space<'x>(
    m: &Machine,
    aux: &'x mut Option<AddressSpace>,
) -> Result<&'x mut AddressSpace, Failure> {
    if aux.is_none() {
        *aux = Some(m.pt.create_space()?);
    }
    aux.as_mut()
        .ok_or_else(|| Failure("no address space".into()))
}

fn apply_raw_unmap(
    m: &Machine,
    k: &mut pgtable_sim::kernel::Kernel<'_>,
    md: &mut Model,
    ex: &mut Extra,
    i: usize,
) -> Result<(), Failure> {
    let Some(rm) = (!md.raws.is_empty()).then(|| md.raws[i % md.raws.len()].clone()) else {
        return Ok(());
    };
    if rm.shared {
        // The unmap's check pass borrows the tables on its way for writing
        // (it reads them through `table_words`), which the write log
        // counts: their words must not change.
        let (path, _) = k.ks.edit(|e| {
            let va = VirtAddr(rm.start);
            let mut entry = e.pgd_offset(va);
            let mut pages = vec![entry.0 .0 & !0xfff];
            for l in &Level::ALL[1..] {
                let Some(next) = e.offset(*l, entry, va) else {
                    break;
                };
                entry = next;
                pages.push(entry.0 .0 & !0xfff);
            }
            pages
        });
        let (got, report) = quiet_lending(
            m,
            &mut ex.taken,
            "unmap through a shared table",
            &path,
            || k.ks.edit(|e| e.vunmap_range(VirtAddr(rm.start), rm.size)),
        )?;
        refused_with(
            &format!("unmap of {:#x} through a shared table", rm.start),
            got.err(),
            Error::SharedTable(VirtAddr(rm.start)),
        )?;
        if report.outcome != SyncOutcome::NotNeeded {
            return fail(format!("refused unmap synced: {report:?}"));
        }
        ex.n.shared_refused += 1;
        return Ok(());
    }
    k.ks.edit(|e| e.vunmap_range(VirtAddr(rm.start), rm.size))
        .0?
        .ignore();
    m.flush_tlb_all();
    for key in &rm.keys {
        let pages = md.kernel.remove(key).map_or(0, |f| f.len() as u64);
        md.gone.extend((0..pages).map(|p| key + p * 4096));
    }
    md.raws.retain(|r| r.start != rm.start);
    ex.n.unmapped += 1;
    Ok(())
}

/// A kernel edit that must be refused with `want` and change nothing (nor
/// need a sync).
fn kernel_refuses<R: std::fmt::Debug>(
    m: &Machine,
    k: &mut pgtable_sim::kernel::Kernel<'_>,
    ex: &mut Extra,
    what: &str,
    want: Error,
    f: impl FnOnce(&mut Ed<'_, '_>) -> pgtable::Result<R>,
) -> Result<(), Failure> {
    let (got, report) = quiet(m, &mut ex.taken, what, || k.ks.edit(f))?;
    if report.outcome != SyncOutcome::NotNeeded {
        return fail(format!("{what}: refused edit synced: {report:?}"));
    }
    refused_with(what, got.err(), want)?;
    ex.n.hostile += 1;
    Ok(())
}

fn apply_hostile(
    m: &Machine,
    k: &mut pgtable_sim::kernel::Kernel<'_>,
    md: &Model,
    ex: &mut Extra,
    kind: usize,
    x: u64,
) -> Result<(), Failure> {
    let arch = m.arch;
    let pa = PhysAddr(LEAF_PA);
    let uva = USER_VA + (x % 256) * 4096;
    // A kernel page in a scratch region (never mapped by anything else).
    let regions = scratch(m);
    let Some(region) = regions.get(x as usize % regions.len().max(1)) else {
        ex.n.skipped += 1;
        return Ok(());
    };
    let kva = region.start;
    let v = (x >> 32) as usize;
    match kind {
        0 => kernel_refuses(
            m,
            k,
            ex,
            "vmap_range of user addresses",
            Error::NotKernelAddress(VirtAddr(uva)),
            |e| e.vmap_range(VirtAddr(uva), pa, 4096, Prot::KERNEL, PageSize::Base),
        ),
        1 => {
            let bad: Vec<u64> = [1 << 32, 1 << 47, 1 << 56, 1 << 63, 0x00ff_8000_0000_0000]
                .into_iter()
                .filter(|&a| !arch.is_canonical(VirtAddr(a)))
                .collect();
            let Some(&nc) = bad.get(v % bad.len().max(1)) else {
                ex.n.skipped += 1;
                return Ok(());
            };
            let want = Error::NonCanonical(VirtAddr(nc));
            match v % 3 {
                0 => kernel_refuses(m, k, ex, "vmap_range non-canonical", want, |e| {
                    e.vmap_range(VirtAddr(nc), pa, 4096, Prot::KERNEL, PageSize::Base)
                }),
                1 => kernel_refuses(m, k, ex, "vunmap_range non-canonical", want, |e| {
                    e.vunmap_range(VirtAddr(nc), 4096)
                }),
                _ => {
                    let got = quiet(m, &mut ex.taken, "sync_global_pgds non-canonical", || {
                        k.ks.sync_global_pgds(VirtAddr(nc), VirtAddr(kva))
                    })?;
                    refused_with("sync_global_pgds non-canonical", got.err(), want)?;
                    ex.n.hostile += 1;
                    Ok(())
                }
            }
        }
        2 => {
            let size: u64 = !0xfff;
            if v.is_multiple_of(2) {
                kernel_refuses(m, k, ex, "vunmap_range wrapping", Error::Wraps, |e| {
                    e.vunmap_range(VirtAddr(kva), size)
                })
            } else {
                kernel_refuses(m, k, ex, "vmap_range wrapping", Error::Wraps, |e| {
                    e.vmap_range(VirtAddr(kva), pa, size, Prot::KERNEL, PageSize::Base)
                })
            }
        }
        3 => {
            let (va, size, p, want) = match v % 3 {
                0 => (kva + 0x800, 4096, pa, kva + 0x800),
                1 => (kva, 0x1800, pa, 0x1800),
                _ => (kva, 4096, PhysAddr(pa.0 + 0x10), pa.0 + 0x10),
            };
            kernel_refuses(
                m,
                k,
                ex,
                "misaligned vmap_range",
                Error::Misaligned(want),
                |e| e.vmap_range(VirtAddr(va), p, size, Prot::KERNEL, PageSize::Base),
            )
        }
        4 => match v % 4 {
            0 => kernel_refuses(m, k, ex, "vmap_range of nothing", Error::EmptyRange, |e| {
                e.vmap_range(VirtAddr(kva), pa, 0, Prot::KERNEL, PageSize::Base)
            }),
            1 => kernel_refuses(
                m,
                k,
                ex,
                "vunmap_range of nothing",
                Error::EmptyRange,
                |e| e.vunmap_range(VirtAddr(kva), 0),
            ),
            2 => kernel_refuses(m, k, ex, "vmap of no pages", Error::EmptyRange, |e| {
                e.vmap(&[], Prot::KERNEL)
            }),
            _ => kernel_refuses(m, k, ex, "ioremap of nothing", Error::EmptyRange, |e| {
                e.ioremap(pa, 0, pgtable::CacheMode::Uncached)
            }),
        },
        5 => {
            let (start, last, want) = match v % 3 {
                0 => (uva, kva, Error::NotKernelAddress(VirtAddr(uva))),
                1 => (kva, uva, Error::NotKernelAddress(VirtAddr(uva))),
                _ => (kva + 0x1000, kva, Error::EmptyRange),
            };
            let got = quiet(m, &mut ex.taken, "sync_global_pgds", || {
                k.ks.sync_global_pgds(VirtAddr(start), VirtAddr(last))
            })?;
            refused_with(
                &format!("sync_global_pgds({start:#x}, {last:#x})"),
                got.err(),
                want,
            )?;
            ex.n.hostile += 1;
            Ok(())
        }
        6 => {
            // User calls with kernel addresses.
            let want = Error::NotUserAddress(VirtAddr(kva));
            let ids = m.process_ids();
            let sim = |e: Option<SimError>| match e {
                Some(SimError::Pgtable(e)) => Ok(Some(e)),
                None => Ok(None),
                Some(e) => fail(format!("user call with a kernel address: {e}")),
            };
            let got = match (v % 6, pick(&ids, v)) {
                (0, Some(id)) => sim(quiet(m, &mut ex.taken, "user_map of kernel pages", || {
                    m.user_map(id, kva, 1, Prot::USER_RW).err()
                })?)?,
                (1, Some(id)) => sim(quiet(
                    m,
                    &mut ex.taken,
                    "user_unmap of kernel pages",
                    || m.user_unmap(id, kva, 1).err(),
                )?)?,
                (n, _) => {
                    let aux = aux_space(m, &mut ex.aux)?;
                    let taken = &mut ex.taken;
                    let mut u = m.pt.user(aux)?;
                    match n {
                        2 => quiet(m, taken, "user pgd_offset", || {
                            u.pgd_offset(VirtAddr(kva)).err()
                        })?,
                        3 => quiet(m, taken, "user map_pages", || {
                            u.map_pages(VirtAddr(kva), &[pa], Prot::USER_RW).err()
                        })?,
                        4 => quiet(m, taken, "user unmap", || {
                            u.unmap(VirtAddr(kva), 4096).err()
                        })?,
                        _ => {
                            let top = arch.top_level();
                            let Some(below) = top.next() else {
                                return fail("no level below the top".into());
                            };
                            let t = u.alloc_table(below)?;
                            let entry = u.pgd_offset(VirtAddr(uva))?;
                            quiet(m, taken, "user populate of a kernel address", || {
                                ulink(&mut u, top, kva, entry, t).err()
                            })?
                            .map(|r| r.error)
                        }
                    }
                }
            };
            refused_with("user call with a kernel address", got, want)?;
            ex.n.hostile += 1;
            Ok(())
        }
        7 => hostile_raw(m, k, md, ex, v, kva, uva),
        _ => hostile_user_raw(m, ex, v, uva),
    }
}

/// The raw kernel helpers handed hostile entries, addresses and rights.
fn hostile_raw(
    m: &Machine,
    k: &mut pgtable_sim::kernel::Kernel<'_>,
    md: &Model,
    ex: &mut Extra,
    v: usize,
    kva: u64,
    uva: u64,
) -> Result<(), Failure> {
    let arch = m.arch;
    let top = arch.top_level();
    let Some(below) = top.next() else {
        return fail("no level below the top".into());
    };
    // Another kernel address in another top-level slot, if there is one.
    let slot = arch.level_size(top);
    let other = [kva.wrapping_add(slot), kva.wrapping_sub(slot)]
        .into_iter()
        .find(|&a| a >= arch.kernel_start() && arch.is_canonical(VirtAddr(a)));
    let taken = &mut ex.taken;
    let (res, _) = k.ks.edit(|e| -> Result<bool, Failure> {
        match v % 7 {
            0 => {
                // A kernel table into the kernel root's entry for a user
                // address.
                let t = e.alloc_table(below)?;
                let entry = e.pgd_offset(VirtAddr(uva));
                let got = quiet(m, taken, "kernel populate at a user address", || {
                    link(e, top, uva, entry, t)
                })?;
                refused_with(
                    "kernel populate at a user address",
                    got.err().map(|r| r.error),
                    Error::NotKernelAddress(VirtAddr(uva)),
                )?;
            }
            1 | 2 => {
                // The entry of one address, claimed for another (or for
                // another level).
                let entry = e.pgd_offset(VirtAddr(kva));
                let (level, va) = match other {
                    Some(a) => (top, a),
                    None if top != Level::Pmd => (Level::Pmd, kva),
                    None => return Ok(false),
                };
                let got = if v % 7 == 1 {
                    let t = e.alloc_table(level.next().unwrap_or(Level::Pte))?;
                    quiet(m, taken, "populate of another address's entry", || {
                        link(e, level, va, entry, t).err()
                    })?
                    .map(|r| r.error)
                } else {
                    quiet(m, taken, "alloc_track of another address's entry", || {
                        e.alloc_track(level, entry, VirtAddr(va)).err()
                    })?
                };
                refused_with(
                    "another address's entry",
                    got,
                    Error::ForeignEntry(VirtAddr(va)),
                )?;
            }
            3 => {
                // Rights a kernel leaf must not have.
                let t = e.alloc_table(Level::Pte)?;
                let entry = t
                    .entry(arch.index(Level::Pte, kva))
                    .ok_or(Error::FoldedLevel(Level::Pte))?;
                let (prot, want) = if v.is_multiple_of(2) {
                    (Prot::USER_RW, Error::BadProtection)
                } else {
                    (Prot::KERNEL_EXEC, Error::WriteAndExecute)
                };
                let got = quiet(m, taken, "set_leaf with bad rights", || {
                    e.set_leaf(Level::Pte, VirtAddr(kva), entry, PhysAddr(LEAF_PA), prot)
                        .err()
                })?;
                refused_with("kernel leaf with bad rights", got, want)?;
                drop(t);
            }
            4 => {
                // Through, or into, a shared table.
                let shared: Vec<u64> = md
                    .raws
                    .iter()
                    .filter(|r| r.shared)
                    .map(|r| r.start)
                    .collect();
                let Some(rm) = pick(&shared, v / 7) else {
                    return Ok(false);
                };
                let mut entry = e.pgd_offset(VirtAddr(rm));
                for l in &Level::ALL[1..=Level::Pmd as usize] {
                    entry = e
                        .offset(*l, entry, VirtAddr(rm))
                        .ok_or_else(|| Failure(format!("shared table at {rm:#x} gone")))?;
                }
                let got = if v.is_multiple_of(2) {
                    let pte = e
                        .offset(Level::Pte, entry, VirtAddr(rm))
                        .ok_or_else(|| Failure(format!("shared table at {rm:#x} gone")))?;
                    quiet(m, taken, "set_leaf into a shared table", || {
                        e.set_leaf(
                            Level::Pte,
                            VirtAddr(rm),
                            pte,
                            PhysAddr(LEAF_PA),
                            Prot::KERNEL,
                        )
                        .err()
                    })?
                } else {
                    quiet(m, taken, "alloc_track through a shared table", || {
                        e.alloc_track(Level::Pmd, entry, VirtAddr(rm)).err()
                    })?
                };
                refused_with("shared table", got, Error::SharedTable(VirtAddr(rm)))?;
            }
            5 => {
                // Tables of levels that have none.
                let folded: Vec<Level> = Level::ALL
                    .into_iter()
                    .filter(|&l| l == Level::Pgd || arch.is_folded(l))
                    .collect();
                let l = folded[v % folded.len()];
                let got = quiet(m, taken, "alloc_table of a folded level", || {
                    e.alloc_table(l).err()
                })?;
                refused_with("table of a folded level", got, Error::FoldedLevel(l))?;
            }
            _ => {
                // A leaf at a user address.
                let t = e.alloc_table(Level::Pte)?;
                let entry = t
                    .entry(arch.index(Level::Pte, uva))
                    .ok_or(Error::FoldedLevel(Level::Pte))?;
                let got = quiet(m, taken, "set_leaf at a user address", || {
                    e.set_leaf(
                        Level::Pte,
                        VirtAddr(uva),
                        entry,
                        PhysAddr(LEAF_PA),
                        Prot::KERNEL,
                    )
                    .err()
                })?;
                refused_with(
                    "kernel leaf at a user address",
                    got,
                    Error::NotKernelAddress(VirtAddr(uva)),
                )?;
                drop(t);
            }
        }
        Ok(true)
    });
    if res? {
        ex.n.hostile += 1;
    } else {
        ex.n.skipped += 1;
    }
    Ok(())
}

/// The user raw helpers of our own address space, handed hostile entries
/// and tables, and used to link user tables by hand.
fn hostile_user_raw(m: &Machine, ex: &mut Extra, v: usize, uva: u64) -> Result<(), Failure> {
    let arch = m.arch;
    let top = arch.top_level();
    let Some(below) = top.next() else {
        return fail("no level below the top".into());
    };
    let aux = aux_space(m, &mut ex.aux)?;
    let taken = &mut ex.taken;
    let mut u = m.pt.user(aux)?;
    match v % 3 {
        0 => {
            let wrong: Vec<Level> = table_levels(arch)
                .into_iter()
                .filter(|&l| l != below)
                .collect();
            let Some(&w) = wrong.get(v / 3 % wrong.len().max(1)) else {
                ex.n.skipped += 1;
                return Ok(());
            };
            let t = u.alloc_table(w)?;
            let entry = u.pgd_offset(VirtAddr(uva))?;
            let got = quiet(m, taken, "user populate of the wrong level", || {
                ulink(&mut u, top, uva, entry, t).err()
            })?
            .map(|r| r.error);
            refused_with(
                "user table of the wrong level",
                got,
                Error::WrongLevel {
                    table: w,
                    needed: below,
                },
            )?;
            ex.n.wrong_level += 1;
        }
        1 => {
            let other = uva + arch.level_size(top);
            if other >= arch.user_end() || !arch.is_canonical(VirtAddr(other)) {
                ex.n.skipped += 1;
                return Ok(());
            }
            let t = u.alloc_table(below)?;
            let entry = u.pgd_offset(VirtAddr(uva))?;
            let got = quiet(m, taken, "user populate of another address's entry", || {
                ulink(&mut u, top, other, entry, t).err()
            })?
            .map(|r| r.error);
            refused_with(
                "user entry of another address",
                got,
                Error::ForeignEntry(VirtAddr(other)),
            )?;
            ex.n.hostile += 1;
        }
        _ => {
            // Link user tables by hand down to a PTE table; a second link
            // at a full entry is refused.
            let mut entry = u.pgd_offset(VirtAddr(uva))?;
            let mut full = None;
            for level in Level::ALL.into_iter().take_while(|&l| l < Level::Pte) {
                let Some(next) = level.next() else { break };
                if arch.is_passthrough(level) {
                    entry = u
                        .offset(next, entry, VirtAddr(uva))
                        .ok_or_else(|| Failure(format!("{level} pass-through")))?;
                    continue;
                }
                let e2 = match u.offset(next, entry, VirtAddr(uva)) {
                    Some(e2) => {
                        full.get_or_insert((level, entry));
                        e2
                    }
                    None => {
                        let t = u.alloc_table(next)?;
                        ulink(&mut u, level, uva, entry, t).map_err(|r| Failure::from(r.error))?;
                        u.offset(next, entry, VirtAddr(uva))
                            .ok_or_else(|| Failure(format!("{level} table not linked")))?
                    }
                };
                entry = e2;
            }
            ex.n.user_linked += 1;
            if let Some((level, e)) = full {
                let t = u.alloc_table(level.next().unwrap_or(Level::Pte))?;
                let got = quiet(m, taken, "user populate of a full entry", || {
                    ulink(&mut u, level, uva, e, t).err()
                })?
                .map(|r| r.error);
                refused_with(
                    "user populate of a full entry",
                    got,
                    Error::AlreadyMapped(VirtAddr(uva)),
                )?;
                ex.n.occupied += 1;
            }
        }
    }
    Ok(())
}

fn verify(
    m: &Machine,
    md: &Model,
    checker: &mut Checker,
    audit: &mut Audit,
    full: bool,
) -> Result<(), TestCaseError> {
    // The checker, like the audit, looks where the operation wrote, in
    // full every FULL_EVERY operations and at the end.
    let written = audit.pending(m);
    if full {
        checker.full(m)
    } else {
        checker.step(m, &[], &written)
    }
    .map_err(|f| TestCaseError::fail(f.to_string()))?;
    let mmu = m.arch.mmu();
    let bus = PageBus::new(m.pt.mem());
    // Without PAE, x86-32 has no execute-disable bit: every page executes.
    let has_nx = !matches!(m.arch, SimArch::X86_32(a) if !a.pae);
    let mut roots = vec![(Context::Kernel, m.roots_of(Context::Kernel).unwrap())];
    for id in m.process_ids() {
        roots.push((
            Context::Process(id),
            m.roots_of(Context::Process(id)).unwrap(),
        ));
    }
    for (&start, frames) in &md.kernel {
        for (p, &pa) in frames.iter().enumerate() {
            let va = start + p as u64 * 4096;
            for &(ctx, root) in &roots {
                let t = mmu.translate_any(&bus, &root, va, Access::Read, Mode::Supervisor);
                let t = t.map_err(|f| {
                    TestCaseError::fail(format!("{ctx}: kernel {va:#x} faults at {}", f.level))
                })?;
                prop_assert_eq!(t.pa, pa, "{}: kernel {:#x}", ctx, va);
                prop_assert!(
                    !t.user && t.writable && !(has_nx && t.executable),
                    "{ctx}: kernel {va:#x} rights"
                );
            }
        }
    }
    for &va in &md.gone {
        for &(ctx, root) in &roots {
            prop_assert!(
                mmu.translate_any(&bus, &root, va, Access::Read, Mode::Supervisor)
                    .is_err(),
                "{ctx}: {va:#x} still mapped"
            );
        }
    }
    for (&(id, va), &pa) in &md.user {
        for &(ctx, root) in &roots {
            let t = mmu.translate_any(&bus, &root, va, Access::Read, Mode::User);
            if ctx == Context::Process(id) {
                prop_assert_eq!(
                    t.map(|t| t.pa).ok(),
                    Some(pa),
                    "process {} page {:#x}",
                    id,
                    va
                );
            } else {
                prop_assert!(
                    t.map(|t| t.pa).ok() != Some(pa),
                    "{ctx} sees process {id}'s page {va:#x}"
                );
            }
        }
    }
    // Security: no user leaf is writable and executable (nothing asks for
    // it); no root reaches a frame of a destroyed process. (The kernel
    // half's rights are the audit's.)
    let mut bad = None;
    for &(ctx, root) in &roots {
        let _ = mmu.for_each_leaf(&bus, &root, 0, m.arch.user_end(), &mut |l: &Leaf| {
            if md.dead.contains(&l.xlat.pa) {
                bad.get_or_insert(format!(
                    "{ctx} maps {:#x}, a destroyed process's frame",
                    l.xlat.pa
                ));
            }
            if has_nx && l.xlat.writable && l.xlat.executable {
                bad.get_or_insert(format!(
                    "{ctx}: user leaf {:#x} writable and executable",
                    l.va
                ));
            }
        });
    }
    let (kernel_start, kernel_end) = (m.arch.kernel_start(), m.arch.kernel_end());
    // PTI: a user-mode root maps the user half and the entry area only.
    let cea = m.arch.layout().get(pgtable::arch::RegionKind::CpuEntryArea);
    for (root, user) in m.pt.roots_with_user() {
        let (Some(u), Some(cea)) = (user, cea) else {
            continue;
        };
        let (ur, kr) = (Roots::single(u.0), Roots::single(root.0));
        let _ = mmu.for_each_leaf(&bus, &ur, kernel_start, kernel_end, &mut |l: &Leaf| {
            if !cea.contains(l.va) {
                bad.get_or_insert(format!("user-mode root {:#x} maps kernel {:#x}", u.0, l.va));
            }
        });
        for &start in &md.cea {
            let want = mmu
                .translate_any(&bus, &kr, start, Access::Read, Mode::Supervisor)
                .map(|t| t.pa)
                .ok();
            let have = mmu
                .translate_any(&bus, &ur, start, Access::Read, Mode::Supervisor)
                .map(|t| t.pa)
                .ok();
            if want.is_none() || want != have {
                bad.get_or_insert(format!(
                    "user-mode root {:#x}: entry area {start:#x} {have:x?}, kernel {want:x?}",
                    u.0
                ));
            }
        }
        for (&(id, va), &pa) in &md.user {
            if m.root_of(Context::Process(id)).ok() == Some(root) {
                let have = mmu
                    .translate_any(&bus, &ur, va, Access::Read, Mode::User)
                    .map(|t| t.pa)
                    .ok();
                if have != Some(pa) {
                    bad.get_or_insert(format!(
                        "user-mode root {:#x} lacks process {id}'s page {va:#x}",
                        u.0
                    ));
                }
            }
        }
    }
    if let Some(b) = bad {
        return Err(TestCaseError::fail(b));
    }
    audit
        .check(m, full)
        .map_err(|f| TestCaseError::fail(format!("audit: {f}")))?;
    Ok(())
}

/// A booted machine for the model, with the model of its boot state.
fn boot(arch: SimArch, pti: bool) -> (Machine, Model) {
    let m = machine(&Config {
        arch,
        pti: pti && arch.as_x86_64().is_some(),
        cpus: 3,
        spaces: 2,
        ..Config::default()
    })
    .unwrap();
    let mut md = Model::default();
    for id in m.process_ids() {
        let pa =
            m.pt.translate(
                m.root_of(Context::Process(id)).unwrap(),
                pgtable::VirtAddr(0x40_0000),
            )
            .unwrap()
            .pa;
        md.user.insert((id, 0x40_0000), pa.0);
    }
    (m, md)
}

fn run(arch: SimArch, pti: bool, ops: &[Op], counts: &mut Counts) -> Result<(), TestCaseError> {
    let (m, mut md) = boot(arch, pti);
    let mut ex = Extra::default();
    let r = run_ops(&m, &mut md, &mut ex, ops);
    counts.add(&ex.n);
    r
}

fn run_ops(m: &Machine, md: &mut Model, ex: &mut Extra, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut checker = Checker::new();
    let mut audit = Audit::new(m);
    verify(m, md, &mut checker, &mut audit, true)
        .map_err(|e| TestCaseError::fail(format!("after boot: {e}")))?;
    for (i, op) in ops.iter().enumerate() {
        let r = apply(m, md, ex, op, Variant::New);
        audit.mark_written(ex.taken.drain(..));
        r.map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
        let full = (i + 1) % FULL_EVERY == 0 || i + 1 == ops.len();
        verify(m, md, &mut checker, &mut audit, full)
            .map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
    }
    prop_assert!(m.faults().is_empty(), "unexpected faults {:?}", m.faults());
    Ok(())
}

/// Sequences per paging mode: `MODEL_CASES_PER_MODE`, 24 by default.
fn cases_per_mode() -> u32 {
    std::env::var("MODEL_CASES_PER_MODE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// Run `cases` sequences in one paging mode and print what was done.
fn run_mode(arch: SimArch, cases: u32) {
    let config = ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/model.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    };
    let (sequences, operations, pti) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    let failures = Cell::new(0u64);
    let counts = RefCell::new(Counts::default());
    let started = Instant::now();
    // x86-64 runs half its sequences with page-table isolation.
    let strategy = (any::<bool>(), proptest::collection::vec(op(), 1..40));
    let result = TestRunner::new(config).run(&strategy, |(with_pti, ops)| {
        sequences.set(sequences.get() + 1);
        operations.set(operations.get() + ops.len() as u64);
        let with_pti = with_pti && arch.as_x86_64().is_some();
        pti.set(pti.get() + u64::from(with_pti));
        let r = run(arch, with_pti, &ops, &mut counts.borrow_mut());
        failures.set(failures.get() + u64::from(r.is_err()));
        r
    });
    // Shrinking reruns failing sequences: count the minimal one only.
    let failures = failures.get().min(1) * u64::from(result.is_err());
    eprintln!(
        "model {:24} sequences {:6} (PTI {:5})  ops {:7}  failures {}  ({:.1} s)",
        arch.name(),
        sequences.get(),
        pti.get(),
        operations.get(),
        failures,
        started.elapsed().as_secs_f64()
    );
    let n = counts.borrow();
    eprintln!(
        "      {:24} raw: linked {} (huge {}) full {} blocked {} unmapped {} dropped {} \
         wrong-level {} foreign {} shared {} (unmap refused {}) user-linked {}; \
         hostile {}; n/a {}",
        arch.name(),
        n.linked,
        n.huge,
        n.occupied,
        n.blocked,
        n.unmapped,
        n.dropped,
        n.wrong_level,
        n.foreign,
        n.shared,
        n.shared_refused,
        n.user_linked,
        n.hostile,
        n.skipped
    );
    if let Err(e) = result {
        panic!("{}: {e}", arch.name());
    }
}

macro_rules! model_tests {
    ($($name:ident => $arch:expr,)*) => {$(
        #[test]
        fn $name() {
            run_mode($arch, cases_per_mode());
        }
    )*};
}

model_tests! {
    model_x86_64_5_level => SimArch::x86_64(true),
    model_x86_64_4_level => SimArch::x86_64(false),
    model_x86_32_2_level => SimArch::X86_32(X86_32::TWO_LEVEL),
    model_x86_32_pae => SimArch::X86_32(X86_32::PAE),
    model_x86_32_pae_unshared_pmd => SimArch::X86_32(X86_32::PAE_UNSHARED_PMD),
    model_arm64_48 => SimArch::Arm64(Arm64::VA_48),
    model_arm64_39 => SimArch::Arm64(Arm64::VA_39),
    model_riscv64_sv57 => SimArch::Riscv64(Riscv64::SV57),
    model_riscv64_sv48 => SimArch::Riscv64(Riscv64::SV48),
    model_riscv64_sv39 => SimArch::Riscv64(Riscv64::SV39),
    model_arm32_short => SimArch::Arm32(Arm32::SHORT),
}

#[test]
fn every_mode_has_its_model_test() {
    assert_eq!(SimArch::all().len(), 11, "add the new mode to model_tests!");
}

// Mutations: each property, broken on purpose, fails the (incremental)
// check right after the step that broke it.

/// Boot, run `ops` with `variant`, checking after each; then `corrupt` the
/// machine and run the audit alone, incrementally (not a full audit). The
/// first failure.
fn first_failure(
    arch: SimArch,
    ops: &[Op],
    variant: Variant,
    corrupt: impl FnOnce(&Machine, &Model),
) -> Option<String> {
    let (m, mut md) = boot(arch, false);
    let mut ex = Extra::default();
    let mut checker = Checker::new();
    let mut audit = Audit::new(&m);
    verify(&m, &md, &mut checker, &mut audit, true).expect("clean after boot");
    for op in ops {
        let r = apply(&m, &mut md, &mut ex, op, variant);
        audit.mark_written(ex.taken.drain(..));
        if let Err(e) = r {
            return Some(format!("{op:?}: {e}"));
        }
        if let Err(e) = verify(&m, &md, &mut checker, &mut audit, false) {
            return Some(e.to_string());
        }
    }
    corrupt(&m, &md);
    audit.check(&m, false).err().map(|e| e.to_string())
}

/// The leaf entry mapping kernel address `va`: (entry address, raw entry).
fn leaf_of(m: &Machine, va: u64) -> (u64, u64) {
    let mut found = None;
    let roots = m.roots_of(Context::Kernel).unwrap();
    let _ = m
        .arch
        .mmu()
        .for_each_leaf(&Bus(m.pt.mem()), &roots, va, va + 4096, &mut |l: &Leaf| {
            found.get_or_insert((l.entry_pa, l.entry));
        });
    found.expect("mapped")
}

/// Rewrite the last-level leaf mapping `va` with `prot`.
fn reprotect(m: &Machine, va: u64, prot: Prot) {
    let (pa, raw) = leaf_of(m, va);
    let pgtable::Decoded::Leaf(frame, _) = m.arch.decode(pgtable::Level::Pte, raw) else {
        panic!("not a PTE: {raw:#x}");
    };
    let new = m.arch.encode_leaf(pgtable::Level::Pte, frame, prot);
    if m.arch.entry_size() == 8 {
        m.pt.mem().write_u64(pgtable::PhysAddr(pa), new);
    } else {
        m.pt.mem().write_u32(pgtable::PhysAddr(pa), new as u32);
    }
}

const SOME_WORK: [Op; 4] = [
    Op::Create,
    Op::Vmalloc(2),
    Op::UserMap(0, 3, 2),
    Op::Vmalloc(1),
];

#[test]
fn clean_runs_pass_the_mutation_harness() {
    for arch in SimArch::all() {
        let f = first_failure(arch, &SOME_WORK, Variant::New, |_, _| {});
        assert_eq!(f, None, "{}", arch.name());
    }
}

#[test]
fn broken_sync_is_caught() {
    use pgtable::arch::SyncMethod;
    // Hot-added memory needs new top-level (or sync-level) entries: the
    // old code populates them without copying them into the processes.
    let ops = [
        Op::Create,
        Op::HotplugAdd(0),
        Op::HotplugAdd(1),
        Op::HotplugAdd(2),
    ];
    let mut caught = 0;
    for arch in SimArch::all() {
        if m_has_hotplug(arch) && matches!(arch.sync_method(), SyncMethod::CopyEntries(_)) {
            let f = first_failure(arch, &ops, Variant::Old, |_, _| {});
            assert!(f.is_some(), "{}: sync disabled, yet clean", arch.name());
            eprintln!("{}: {}", arch.name(), f.unwrap());
            caught += 1;
        }
    }
    assert!(caught >= 2);
}

fn m_has_hotplug(arch: SimArch) -> bool {
    pgtable_sim::layout::SimLayout::new(arch)
        .hotplug_base
        .is_some()
}

/// Rewrite a kernel page's leaf with `prot` in every mode; wherever the
/// MMU then grants what `bad` describes, the audit must fail with `expect`.
fn corrupt_rights(prot: Prot, bad: fn(&pgtable_mmu::Xlat) -> bool, expect: &str) -> usize {
    let mut caught = 0;
    for arch in SimArch::all() {
        // Without PAE, x86-32 has no execute-disable bit: every page
        // executes, and W+X cannot be avoided.
        if expect.contains("executable") && matches!(arch, SimArch::X86_32(a) if !a.pae) {
            continue;
        }
        let granted = std::cell::Cell::new(false);
        let f = first_failure(arch, &SOME_WORK, Variant::New, |m, md| {
            let va = md.vmallocs[1];
            reprotect(m, va, prot);
            let roots = m.roots_of(Context::Kernel).unwrap();
            let mmu = m.arch.mmu();
            let _ = mmu.for_each_leaf(&Bus(m.pt.mem()), &roots, va, va + 4096, &mut |l| {
                granted.set(bad(&l.xlat));
            });
        });
        if granted.get() {
            let f = f.unwrap_or_else(|| panic!("{}: {expect} passed", arch.name()));
            assert!(f.contains(expect), "{}: {f}", arch.name());
            caught += 1;
        }
    }
    caught
}

#[test]
fn broken_user_bit_on_a_kernel_page_is_caught() {
    // Where the user bit lives in the leaf alone (not x86, whose tables
    // above must allow it too).
    let caught = corrupt_rights(Prot::USER_RW, |x| x.user, "user=true");
    assert!(caught >= 4, "only {caught} modes");
}

#[test]
fn broken_writable_executable_kernel_page_is_caught() {
    let caught = corrupt_rights(
        Prot::KERNEL_EXEC,
        |x| x.writable && x.executable,
        "writable=true executable=true",
    );
    // Every mode with an execute-never bit (all but 2-level x86-32).
    assert!(caught >= 10, "only {caught} modes");
}

#[test]
fn broken_writable_executable_kernel_page_passes_where_allowed() {
    let arch = SimArch::x86_64(false);
    let (m, mut md) = boot(arch, false);
    let mut checker = Checker::new();
    let mut audit = Audit::new(&m);
    let mut ex = Extra::default();
    for op in &SOME_WORK {
        apply(&m, &mut md, &mut ex, op, Variant::New).unwrap();
    }
    verify(&m, &md, &mut checker, &mut audit, true).unwrap();
    let va = md.vmallocs[1];
    reprotect(&m, va, Prot::KERNEL_EXEC);
    audit.allow_wx.push((va, va + 4096));
    // The audit alone: the model's own check of its pages wants them NX.
    audit.check(&m, false).unwrap();
    audit.check(&m, true).unwrap();
}

#[test]
fn leaked_table_frame_is_caught() {
    for arch in SimArch::all() {
        let f = first_failure(arch, &SOME_WORK, Variant::New, |m, _| {
            m.pt.mem().alloc_table().unwrap();
        });
        let f = f.expect("a leaked frame passed");
        assert!(f.contains("leaked"), "{}: {f}", arch.name());
    }
}

#[test]
fn table_freed_while_linked_is_caught() {
    for arch in SimArch::all() {
        let f = first_failure(arch, &SOME_WORK, Variant::New, |m, md| {
            let (entry, _) = leaf_of(m, md.vmallocs[0]);
            // The page of the PTE table (a fragment page as a whole).
            m.pt.mem().free_table(pgtable::PhysAddr(entry & !0xfff));
        });
        let f = f.expect("a freed, still linked table passed");
        assert!(f.contains("not allocated"), "{}: {f}", arch.name());
    }
}
