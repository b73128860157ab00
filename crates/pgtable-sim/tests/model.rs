//! Model-based property test: random operation sequences on the simulated
//! machine, compared after every operation with a plain reference model of
//! what each space should map, through the independent MMU.
//!
//! Checked after every operation: translations equal the model's in every
//! root (kernel ranges) or in their own root only (user pages); the
//! checker's sync invariants (every space agrees with the kernel on the
//! kernel half); the table audit (`Audit`: its own walk of every root, no
//! table frame leaked or freed while linked, and through the MMU no kernel
//! leaf user-accessible or writable+executable from any root, PTI user-mode
//! roots included); no user leaf writable+executable; no root maps a frame
//! of a destroyed process's user pages; with page-table isolation (half the
//! x86-64 sequences), every user-mode root maps its process's user pages
//! and the CPU entry area, and no other kernel address.
//!
//! The audit rereads only what the last operation wrote, with a full audit
//! every [`FULL_EVERY`] operations and at the end of every sequence; the
//! `broken_*` tests below show each property fails a deliberately broken
//! run under the incremental audit.
//!
//! `MODEL_CASES_PER_MODE` sets the number of sequences per paging mode
//! (default 24; CI's release run uses 10000); each of the 11 modes is its
//! own test and prints a line: mode, sequences, operations, failures.
//! `PROPTEST_CASES` is not read.

use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::x86_32::X86_32;
use pgtable::{Arch, Prot, TableMemory};
use pgtable_mmu::{Access, Leaf, Mode, Roots};
use pgtable_sim::checker::{Audit, Checker};
use pgtable_sim::layout::SECTION_SIZE;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Bus, Context, Machine, SimArch, SimError, Variant};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use std::cell::Cell;
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
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

fn apply(m: &Machine, md: &mut Model, op: &Op, v: Variant) -> Result<(), SimError> {
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

fn verify(
    m: &Machine,
    md: &Model,
    checker: &mut Checker,
    audit: &mut Audit,
    full: bool,
) -> Result<(), TestCaseError> {
    checker
        .full(m)
        .map_err(|f| TestCaseError::fail(f.to_string()))?;
    let mmu = m.arch.mmu();
    let bus = Bus(m.pt.mem());
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

fn run(arch: SimArch, pti: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let (m, mut md) = boot(arch, pti);
    let mut checker = Checker::new();
    let mut audit = Audit::new(&m);
    verify(&m, &md, &mut checker, &mut audit, true)
        .map_err(|e| TestCaseError::fail(format!("after boot: {e}")))?;
    for (i, op) in ops.iter().enumerate() {
        apply(&m, &mut md, op, Variant::New)
            .map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
        let full = (i + 1) % FULL_EVERY == 0 || i + 1 == ops.len();
        verify(&m, &md, &mut checker, &mut audit, full)
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
    let started = Instant::now();
    // x86-64 runs half its sequences with page-table isolation.
    let strategy = (any::<bool>(), proptest::collection::vec(op(), 1..40));
    let result = TestRunner::new(config).run(&strategy, |(with_pti, ops)| {
        sequences.set(sequences.get() + 1);
        operations.set(operations.get() + ops.len() as u64);
        let with_pti = with_pti && arch.as_x86_64().is_some();
        pti.set(pti.get() + u64::from(with_pti));
        let r = run(arch, with_pti, &ops);
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
    let mut checker = Checker::new();
    let mut audit = Audit::new(&m);
    verify(&m, &md, &mut checker, &mut audit, true).expect("clean after boot");
    for op in ops {
        if let Err(e) = apply(&m, &mut md, op, variant) {
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
    for op in &SOME_WORK {
        apply(&m, &mut md, op, Variant::New).unwrap();
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
