//! What runs report: faults the MMU saw, per-CPU counts, the checker's
//! verdict and the sync machinery's figures.

use crate::era::Era;
use crate::vocab::{Context, FaultRecord, Strategy};
use serde::Serialize;

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
