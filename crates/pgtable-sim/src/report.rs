//! What runs report: faults the MMU saw, per-CPU counts, the checker's
//! verdict and the sync machinery's figures.

use crate::machine::{Context, Machine, Strategy};
use pgtable::TableMemory;
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
    /// Faults fixed by copying an entry (lazy strategy).
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

/// Old code or new code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Written as before Linux 6.17: plain populate, sync late or never.
    Old,
    /// Through the kernel helpers and the edit guard.
    New,
}

/// One run of a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// Old or new code.
    pub variant: Variant,
    /// Faults the MMU raised, in order.
    pub faults: Vec<FaultRecord>,
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
    pub fn collect(
        m: &Machine,
        variant: Variant,
        checker: Option<String>,
        notes: Vec<String>,
    ) -> Run {
        Run {
            variant,
            faults: m.faults(),
            cpus: CpuSummary::of(m),
            checker,
            figures: Figures::of(m),
            notes,
        }
    }

    /// One line: what the MMU saw.
    pub fn summary(&self) -> String {
        match self.faults.first() {
            None => format!(
                "clean ({} accesses)",
                self.cpus.iter().map(|c| c.accesses).sum::<u64>()
            ),
            Some(f) => format!("{} fault(s); first: {f}", self.faults.len()),
        }
    }
}

/// Both runs of a scenario and the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// Paging mode name.
    pub mode: &'static str,
    /// Sync strategy.
    pub strategy: Strategy,
    /// The Linux commit whose bug it reproduces.
    pub commit: Option<&'static str>,
    /// Whether the old code must fault here.
    pub expect_old_fault: bool,
    /// Why (or why not).
    pub why: String,
    /// The old code's run.
    pub old: Option<Run>,
    /// The new code's run.
    pub new: Run,
    /// Old faulted exactly when expected and new is clean.
    pub ok: bool,
}

impl Outcome {
    /// Judge a pair of runs.
    pub fn judge(mut self) -> Outcome {
        let old_ok = self
            .old
            .as_ref()
            .is_none_or(|o| o.faults.is_empty() != self.expect_old_fault);
        self.ok = old_ok && self.new.faults.is_empty() && self.new.checker.is_none();
        self
    }
}
