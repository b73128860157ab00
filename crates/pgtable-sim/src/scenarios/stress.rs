//! The stress scenario: a seeded random stream of kernel and process
//! operations, the checker after every step.

use super::{machine, Config};
use crate::checker::Checker;
use crate::era::Era;
use crate::layout::SECTION_SIZE;
use crate::machine::Machine;
use crate::report::{CpuSummary, EraOutcome, Figures, Outcome, Run, Verdict};
use crate::vocab::{Context, FaultRecord, SimError, Strategy};
use pgtable::PagingGeometry;
use pgtable_mmu::Access;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

/// Positions where sections may be hot-added, 256 MiB apart from 64 GiB.
const HOTPLUG_SLOTS: u64 = 256;
/// A full check every this many steps (and at the end).
const FULL_CHECK_EVERY: u64 = 5_000;

/// How a stress run drives the kernel and checks it, besides its
/// [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The era the kernel users behave as: the library's edit
    /// ([`Era::V617`]), or an older one to show the checker failing.
    pub era: Era,
    /// A full check every this many steps (and at the end); the steps in
    /// between are checked where they wrote ([`Checker::step`]).
    pub full_check_every: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            era: Era::V617,
            full_check_every: FULL_CHECK_EVERY,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Access,
    Switch,
    Vmalloc,
    Vfree,
    Ioremap,
    Iounmap,
    HotplugAdd,
    HotplugRemove,
    Create,
    Destroy,
}

const OPS: [(Op, &str, u32); 10] = [
    (Op::Access, "access", 30),
    (Op::Switch, "switch", 10),
    (Op::Vmalloc, "vmalloc", 12),
    (Op::Vfree, "vfree", 10),
    (Op::Ioremap, "ioremap", 6),
    (Op::Iounmap, "iounmap", 5),
    (Op::HotplugAdd, "hotplug add", 5),
    (Op::HotplugRemove, "hotplug remove", 4),
    (Op::Create, "process create", 9),
    (Op::Destroy, "process destroy", 9),
];

/// What a stress run did and found.
#[derive(Clone, Debug, Serialize)]
pub struct StressReport {
    /// Steps run.
    pub steps: u64,
    /// Strategy.
    pub strategy: Strategy,
    /// Paging mode.
    pub mode: &'static str,
    /// Seed.
    pub seed: u64,
    /// Operations done, by kind (refused ones, e.g. destroying a process a
    /// CPU runs, are counted under "refused").
    pub ops: Vec<(String, u64)>,
    /// Faults the kernel would have oopsed on.
    pub unhandled_faults: Vec<FaultRecord>,
    /// The checker's first failure, if any.
    pub checker: Option<String>,
    /// Figures at the end.
    pub figures: Figures,
    /// Per CPU.
    pub cpus: Vec<CpuSummary>,
    /// Translations the checker compared.
    pub compared: u64,
    /// Processes alive at the end.
    pub processes: usize,
    /// Table frames in use equal those reachable from the roots.
    pub frames_balanced: bool,
    /// Wall-clock time.
    pub elapsed_ms: u64,
}

impl StressReport {
    /// No unhandled fault, checker clean, frames balanced.
    pub fn ok(&self) -> bool {
        self.unhandled_faults.is_empty() && self.checker.is_none() && self.frames_balanced
    }
}

struct State {
    rng: ChaCha8Rng,
    vmallocs: Vec<u64>,
    ioremaps: Vec<u64>,
    sections: Vec<u64>,
    counts: Vec<u64>,
    refused: u64,
}

/// Run the stress scenario; `progress` gets the steps done now and then.
pub fn run(cfg: &Config, progress: &mut dyn FnMut(u64)) -> Result<StressReport, SimError> {
    run_with(cfg, &Options::default(), progress)
}

/// [`run`] with `opts`. The run stops at the first check that fails, so
/// `steps` in the report says after which step it was found.
pub fn run_with(
    cfg: &Config,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<StressReport, SimError> {
    let started = Instant::now();
    let m = machine(cfg)?;
    let mut st = State {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        vmallocs: Vec::new(),
        ioremaps: Vec::new(),
        sections: Vec::new(),
        counts: vec![0; OPS.len()],
        refused: 0,
    };
    // The checker after each step looks where the step wrote.
    m.pt.mem().log_writes(true);
    let mut checker = Checker::new();
    let mut failure = checker.full(&m).err();
    let _ = m.pt.mem().take_written();
    let total: u32 = OPS.iter().map(|o| o.2).sum();
    let mut steps = 0;
    while steps < cfg.steps && failure.is_none() {
        let mut pick = st.rng.random_range(0..total);
        let (i, op) = OPS
            .iter()
            .enumerate()
            .find_map(|(i, o)| {
                (pick < o.2).then_some((i, o.0)).or_else(|| {
                    pick -= o.2;
                    None
                })
            })
            .unwrap_or((0, Op::Access));
        let touched = step(&m, &mut st, op, cfg, opts.era)?;
        let written = m.pt.mem().take_written();
        st.counts[i] += 1;
        steps += 1;
        failure = if steps % opts.full_check_every.max(1) == 0 {
            checker.full(&m)
        } else {
            checker.step(&m, &touched, &written)
        }
        .err();
        if steps % 256 == 0 {
            progress(steps);
        }
    }
    if failure.is_none() {
        failure = checker.full(&m).err();
    }
    progress(steps);
    let mut ops: Vec<(String, u64)> = OPS
        .iter()
        .zip(&st.counts)
        .map(|(o, &n)| (o.1.to_string(), n))
        .collect();
    ops.push(("refused".into(), st.refused));
    Ok(StressReport {
        steps,
        strategy: cfg.strategy,
        mode: m.arch.name(),
        seed: cfg.seed,
        ops,
        unhandled_faults: m.faults(),
        checker: failure.map(|f| f.to_string()),
        figures: Figures::of(&m),
        cpus: CpuSummary::of(&m),
        compared: checker.compared,
        processes: m.process_ids().len(),
        frames_balanced: m.pt.reachable_tables() == m.pt.mem().tables_in_use(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Pages to probe in a range: first, middle, last.
fn probes(start: u64, pages: u64) -> [u64; 3] {
    [start, start + pages / 2 * 4096, start + (pages - 1) * 4096]
}

fn take<T>(rng: &mut ChaCha8Rng, v: &mut Vec<T>) -> Option<T> {
    (!v.is_empty()).then(|| v.swap_remove(rng.random_range(0..v.len())))
}

fn step(m: &Machine, st: &mut State, op: Op, cfg: &Config, era: Era) -> Result<Vec<u64>, SimError> {
    let cpus = m.cpu_count();
    let mut k = m.kernel();
    Ok(match op {
        Op::Access => {
            let ranges = m.mapped_ranges();
            let (s, e, what) = ranges[st.rng.random_range(0..ranges.len())];
            let va = st.rng.random_range(s..e) & !0xfff;
            let _ = k.access(st.rng.random_range(0..cpus), va, Access::Read, what);
            vec![va]
        }
        Op::Switch => {
            let ids = m.process_ids();
            let ctx = if ids.is_empty() || st.rng.random_bool(0.1) {
                Context::Kernel
            } else {
                Context::Process(ids[st.rng.random_range(0..ids.len())])
            };
            m.switch(st.rng.random_range(0..cpus), ctx)?;
            vec![]
        }
        Op::Vmalloc => {
            let pages = st.rng.random_range(1..=8u64);
            let va = k.vmalloc(era, pages as usize)?;
            st.vmallocs.push(va);
            probes(va, pages).to_vec()
        }
        Op::Vfree => match take(&mut st.rng, &mut st.vmallocs) {
            Some(va) => {
                k.vfree(va)?;
                vec![va]
            }
            None => vec![],
        },
        Op::Ioremap => {
            let pa = 0xfe00_0000
                + st.rng.random_range(0..4096u64) * 4096
                + st.rng.random_range(0..4096u64);
            let size = st.rng.random_range(1..=3 * 4096u64);
            let va = k.ioremap(era, pa, size)?;
            st.ioremaps.push(va);
            vec![va & !0xfff]
        }
        Op::Iounmap => match take(&mut st.rng, &mut st.ioremaps) {
            Some(va) => {
                k.iounmap(va)?;
                vec![va & !0xfff]
            }
            None => vec![],
        },
        Op::HotplugAdd => {
            let Some(base) = m.layout.hotplug_base else {
                // 32-bit modes have no hotplug of the direct map.
                st.refused += 1;
                return Ok(vec![]);
            };
            let pa = base + st.rng.random_range(0..HOTPLUG_SLOTS) * 2 * SECTION_SIZE;
            if st.sections.contains(&pa) {
                st.refused += 1;
                return Ok(vec![]);
            }
            k.hotplug_add(era, pa, SECTION_SIZE, st.rng.random_range(0..cpus))?;
            st.sections.push(pa);
            let mut t = probes(m.layout.va(pa), SECTION_SIZE / 4096).to_vec();
            t.push(m.layout.page(pa));
            t
        }
        Op::HotplugRemove => match take(&mut st.rng, &mut st.sections) {
            Some(pa) => {
                k.hotplug_remove(pa, SECTION_SIZE)?;
                vec![m.layout.va(pa), m.layout.page(pa)]
            }
            None => vec![],
        },
        Op::Create => {
            if m.process_ids().len() < cfg.spaces.max(1) * 2 {
                m.create_process()?;
            } else {
                st.refused += 1;
            }
            vec![]
        }
        Op::Destroy => {
            let ids = m.process_ids();
            if ids.len() <= 1 {
                return Ok(vec![]);
            }
            match m.destroy_process(ids[st.rng.random_range(0..ids.len())]) {
                Err(SimError::ProcessBusy(_)) => st.refused += 1,
                r => r?,
            }
            vec![]
        }
    })
}

/// The stress scenario as an [`Outcome`] (new code only).
pub(super) fn outcome(cfg: &Config) -> Result<Outcome, SimError> {
    let r = run(cfg, &mut |_| {})?;
    let notes = vec![
        format!(
            "{} steps, seed {}, {} processes at the end",
            r.steps, r.seed, r.processes
        ),
        format!(
            "{} translations compared, frames balanced: {}",
            r.compared, r.frames_balanced
        ),
    ];
    let ok = r.ok();
    let run = Run {
        era: Era::V617,
        faults: r.unhandled_faults.clone(),
        fixed: Vec::new(),
        cpus: r.cpus.clone(),
        checker: r.checker.clone(),
        figures: r.figures,
        notes,
    };
    let verdict = run.verdict();
    Ok(Outcome {
        scenario: "stress",
        mode: r.mode,
        strategy: cfg.strategy,
        commit: None,
        eras: vec![EraOutcome {
            era: Era::V617,
            era_name: Era::V617.name(),
            releases: Era::V617.releases(),
            linux_source: "the pgtable library's edit",
            fault_handler: None,
            expected: Verdict::NoFault,
            verdict,
            why: "random operations through the library only, the checker after every step",
            run: Some(run),
            ok,
        }],
        ok,
    })
}
