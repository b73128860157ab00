//! What runs report: faults the MMU saw, per-CPU counts, the checker's
//! verdict and the sync machinery's figures.

use crate::era::Era;
use crate::machine::{Context, Machine, Strategy};
use pgtable_mmu::Access;
use pgtable_mmu::Fault;
use serde::Serialize;

/// A page fault the software MMU raised on a kernel access.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    /// CPU that faulted.
    pub cpu: usize,
    /// What it ran on.
    pub context: Context,
    /// Faulting address (CR2).
    #[serde(serialize_with = "crate::json::hex")]
    pub addr: u64,
    /// "read", "write" or "fetch".
    pub access: &'static str,
    /// Paging level where the walk stopped (PML5 … PT).
    pub level: &'static str,
    /// Not present, protection, reserved bit, non-canonical.
    pub kind: &'static str,
    /// The fault in x86 #PF error-code form (P, W/R, U/S, RSVD, I/D).
    pub error_code: u32,
    /// What the kernel was touching.
    pub what: String,
}

impl FaultRecord {
    pub(crate) fn new(
        cpu: usize,
        ctx: Context,
        f: &Fault,
        level: &'static str,
        what: &str,
    ) -> Self {
        FaultRecord {
            cpu,
            context: ctx,
            addr: f.addr,
            access: match f.access {
                Access::Read => "read",
                Access::Write => "write",
                Access::Execute => "fetch",
            },
            level,
            kind: f.kind.name(),
            error_code: error_code(f),
            what: what.to_string(),
        }
    }
}

/// The fault as x86's #PF error code would say it (P, W/R, U/S, RSVD, I/D),
/// whatever the architecture: one syndrome format for every report.
fn error_code(f: &Fault) -> u32 {
    use pgtable_mmu::{FaultKind, Mode};
    u32::from(!matches!(
        f.kind,
        FaultKind::NotPresent | FaultKind::NonCanonical
    )) | u32::from(f.access == Access::Write) << 1
        | u32::from(f.mode == Mode::User) << 2
        | u32::from(f.kind == FaultKind::ReservedBit) << 3
        | u32::from(f.access == Access::Execute) << 4
}

impl std::fmt::Display for FaultRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cpu{} ({}) {} {:#x}: {} at {} [{}]",
            self.cpu, self.context, self.access, self.addr, self.kind, self.level, self.what
        )
    }
}

/// One CPU's share of a run.
#[derive(Clone, Debug, Serialize)]
pub struct CpuSummary {
    /// CPU number.
    pub cpu: usize,
    /// What it ran on at the end.
    pub context: Context,
    /// Kernel accesses.
    pub accesses: u64,
    /// Faults (including those fixed lazily).
    pub faults: u64,
}

impl CpuSummary {
    /// Every CPU of a machine.
    pub fn of(m: &Machine) -> Vec<CpuSummary> {
        let cpus = m.cpus.borrow();
        cpus.iter()
            .enumerate()
            .map(|(i, c)| CpuSummary {
                cpu: i,
                context: c.ctx,
                accesses: c.accesses,
                faults: c.faults,
            })
            .collect()
    }
}

/// Figures of the sync machinery and memory.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Figures {
    /// Sync calls (`arch_sync_kernel_mappings()`).
    pub sync_calls: u64,
    /// Entries copied into roots (syncs and root creation).
    pub entries_copied: u64,
    /// Faults taken (all CPUs).
    pub faults_taken: u64,
    /// Faults fixed by copying an entry (lazy strategy, fault handler).
    pub lazy_fixes: u64,
    /// Page-table pages in use.
    pub table_pages: usize,
    /// Page-table memory in bytes.
    pub table_bytes: u64,
}

impl Figures {
    /// Read the figures off a machine.
    pub fn of(m: &Machine) -> Figures {
        let s = m.pt.stats();
        let pages = m.pt.mem().tables_in_use();
        Figures {
            sync_calls: s.syncs,
            entries_copied: s.entries_copied,
            faults_taken: m.cpus.borrow().iter().map(|c| c.faults).sum(),
            lazy_fixes: s.lazy_fixes,
            table_pages: pages,
            table_bytes: pages as u64 * 4096,
        }
    }
}

/// Old code or new code: the two ends of the era model, for tools that
/// want a pair (ptdump `--old`, the model test). [`Variant::Old`] is the
/// oldest era modelled ([`Era::Pre9b86`]), [`Variant::New`] the library
/// ([`Era::V617`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Plain populate, nothing synced ([`Era::Pre9b86`]).
    Old,
    /// Through the kernel helpers and the edit guard ([`Era::V617`]).
    New,
}

/// One run of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The era the kernel users behaved as.
    pub era: Era,
    /// Faults the MMU raised and nothing fixed (oopses), in order.
    pub faults: Vec<FaultRecord>,
    /// Faults the era's fault handler fixed, in order.
    pub fixed: Vec<FaultRecord>,
    /// Per CPU.
    pub cpus: Vec<CpuSummary>,
    /// The checker's verdict at the end: `None` if clean.
    pub checker: Option<String>,
    /// Figures.
    pub figures: Figures,
    /// What the run did, in a few lines.
    pub notes: Vec<String>,
}

impl Run {
    /// Collect a run's report from the machine it ran on.
    pub fn collect(m: &Machine, era: Era, checker: Option<String>, notes: Vec<String>) -> Run {
        Run {
            era,
            faults: m.faults(),
            fixed: m.fixed_faults(),
            cpus: CpuSummary::of(m),
            checker,
            figures: Figures::of(m),
            notes,
        }
    }

    /// What the run shows.
    pub fn verdict(&self) -> Verdict {
        if !self.faults.is_empty() {
            Verdict::Fault
        } else if !self.fixed.is_empty() {
            Verdict::FixedByHandler
        } else {
            Verdict::NoFault
        }
    }

    /// One line: what the MMU saw.
    pub fn summary(&self) -> String {
        match (self.faults.first(), self.fixed.first()) {
            (None, None) => format!(
                "clean ({} accesses)",
                self.cpus.iter().map(|c| c.accesses).sum::<u64>()
            ),
            (None, Some(f)) => format!(
                "{} fault(s) fixed by the handler; first: {f}",
                self.fixed.len()
            ),
            (Some(f), _) => format!("{} fault(s); first: {f}", self.faults.len()),
        }
    }
}

/// What a scenario does in an era.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every access translated.
    NoFault,
    /// Some accesses faulted and the fault handler fixed every one.
    FixedByHandler,
    /// A kernel fault nothing fixed: an oops.
    Fault,
    /// The era has no such code (or no such architecture): not run.
    NotInEra,
}

impl Verdict {
    /// As the verdict lines say it.
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::NoFault => "no fault",
            Verdict::FixedByHandler => "fault fixed by the fault handler",
            Verdict::Fault => "fault (oops)",
            Verdict::NotInEra => "not in this era",
        }
    }
}

/// One era of a scenario on one mode: what that release does, what was
/// expected of it and what the run showed.
#[derive(Clone, Debug, Serialize)]
pub struct EraOutcome {
    /// The era.
    pub era: Era,
    /// Its name (`pre-5.8`, `5.8–6.16`, ...).
    pub era_name: &'static str,
    /// The releases it covers.
    pub releases: &'static str,
    /// The Linux function that decides the kernel user's behaviour.
    pub linux_source: &'static str,
    /// The fault handler that fixes faults lazily in this era on this
    /// mode (`path:function`), if any covers the scenario.
    pub fault_handler: Option<String>,
    /// What Linux does in this era, as [`Verdict`].
    pub expected: Verdict,
    /// What the run showed ([`Verdict::NotInEra`] when not run).
    pub verdict: Verdict,
    /// Why, with the Linux functions and commits.
    pub why: &'static str,
    /// The run, unless the era cannot hit the scenario.
    pub run: Option<Run>,
    /// The verdict is the expected one; for 6.17+ (the library) also no
    /// fault at all, fixed or not, and a clean checker.
    pub ok: bool,
}

/// Every era of a scenario on one mode.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// Paging mode name.
    pub mode: &'static str,
    /// Sync strategy of the machine.
    pub strategy: Strategy,
    /// The Linux commit whose bug it reproduces.
    pub commit: Option<&'static str>,
    /// One per era, oldest first.
    pub eras: Vec<EraOutcome>,
    /// Every era ok.
    pub ok: bool,
}

impl Outcome {
    /// The 6.17+ (library) run, if it ran.
    pub fn library(&self) -> Option<&Run> {
        self.eras
            .iter()
            .find(|e| e.era == Era::V617)
            .and_then(|e| e.run.as_ref())
    }

    /// The outcome of one era.
    pub fn era(&self, era: Era) -> Option<&EraOutcome> {
        self.eras.iter().find(|e| e.era == era)
    }
}
