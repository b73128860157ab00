//! Model-based property test: random operation sequences on the simulated
//! machine, compared after every operation with a plain reference model of
//! what each space should map, through the independent MMU.
//!
//! Checked after every operation: translations equal the model's in every
//! root (kernel ranges) or in their own root only (user pages); the
//! checker's sync invariants; frame accounting; and the security
//! properties: no kernel leaf is user-accessible or writable+executable, no
//! root maps a frame of a destroyed process's user pages; with page-table
//! isolation (half the sequences), every user-mode root maps its process's
//! user pages and the CPU entry area, and no other kernel address.
//!
//! `PROPTEST_CASES` sets the number of sequences per paging mode.

use pgtable::{Arch, Prot, TableMemory};
use pgtable_mmu::{Access, Leaf, Mode, Roots};
use pgtable_sim::checker::Checker;
use pgtable_sim::layout::SECTION_SIZE;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Bus, Context, Machine, SimArch, SimError, Variant};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};

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

fn apply(m: &Machine, md: &mut Model, op: &Op) -> Result<(), SimError> {
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
            let va = k.vmalloc(Variant::New, pages)?;
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
            let va = k.ioremap(Variant::New, pa, size)?;
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
                k.hotplug_add(Variant::New, pa, SECTION_SIZE, 0)?;
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
                let va = k.cpu_entry_area_map(Variant::New, cpu)?;
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

fn verify(m: &Machine, md: &Model, checker: &mut Checker) -> Result<(), TestCaseError> {
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
    // Security: kernel leaves are never user-accessible nor W+X; no root
    // reaches a frame of a destroyed process.
    let (kernel_start, kernel_end) = (m.arch.kernel_start(), m.arch.kernel_end());
    let mut bad = None;
    let kroots = m.roots_of(Context::Kernel).unwrap();
    let _ = mmu.for_each_leaf(&bus, &kroots, kernel_start, kernel_end, &mut |l: &Leaf| {
        let x = l.xlat;
        if x.user || (has_nx && x.writable && x.executable) {
            bad.get_or_insert(format!(
                "kernel leaf {:#x} user={} w={} x={}",
                l.va, x.user, x.writable, x.executable
            ));
        }
    });
    for &(ctx, root) in &roots {
        let _ = mmu.for_each_leaf(&bus, &root, 0, m.arch.user_end(), &mut |l: &Leaf| {
            if md.dead.contains(&l.xlat.pa) {
                bad.get_or_insert(format!(
                    "{ctx} maps {:#x}, a destroyed process's frame",
                    l.xlat.pa
                ));
            }
        });
    }
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
    prop_assert_eq!(
        m.pt.reachable_tables(),
        m.pt.mem().tables_in_use(),
        "table frames leaked"
    );
    Ok(())
}

fn run(arch: SimArch, pti: bool, ops: &[Op]) -> Result<(), TestCaseError> {
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
    let mut checker = Checker::new();
    for op in ops {
        apply(&m, &mut md, op).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
        verify(&m, &md, &mut checker)
            .map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
    }
    prop_assert!(m.faults().is_empty(), "unexpected faults {:?}", m.faults());
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
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
    let strategy = (any::<bool>(), proptest::collection::vec(op(), 1..40));
    let result = TestRunner::new(config).run(&strategy, |(with_pti, ops)| {
        sequences.set(sequences.get() + 1);
        operations.set(operations.get() + ops.len() as u64);
        pti.set(pti.get() + u64::from(with_pti));
        run(arch, with_pti, &ops)
    });
    let pti = if arch.as_x86_64().is_some() {
        pti.get()
    } else {
        0
    };
    eprintln!(
        "model ({}): {} sequences ({} with PTI), {} operations, each checked",
        arch.name(),
        sequences.get(),
        pti,
        operations.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn model_4_level() {
    run_mode(SimArch::x86_64(false), cases());
}

#[test]
fn model_5_level() {
    run_mode(SimArch::x86_64(true), cases());
}

/// Every other architecture and mode, a fifth of the sequences each (the
/// x86-64 modes carry PTI and the full count).
#[test]
fn model_other_architectures() {
    for arch in SimArch::all()
        .into_iter()
        .filter(|a| a.as_x86_64().is_none())
    {
        run_mode(arch, (cases() / 5).max(16));
    }
}
