//! The words every layer of the simulator shares: what a CPU runs on
//! ([`Context`]), how kernel mappings reach the processes ([`Strategy`]),
//! old or new code ([`Variant`]), a fault as the runs report it
//! ([`FaultRecord`]) and the simulation's own errors ([`SimError`]).
//!
//! The bottom of the crate: it imports nothing of it but `json`'s
//! serializers, so the machine, the kernel users, the checker and the
//! reports can all name these without naming each other.

use pgtable_mmu::{Access, Fault};
use serde::Serialize;

/// How kernel mappings reach the processes' roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Sync when an edit modifies the sync level (Linux 6.17).
    Eager,
    /// Every kernel top-level slot populated at boot; nothing to sync later.
    Prealloc,
    /// Copy a missing top-level entry when an access faults on it (x86
    /// `vmalloc_fault()` before Linux 5.8).
    Lazy,
}

/// What a CPU runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Context {
    /// A kernel thread on init_mm's root.
    Kernel,
    /// A process (an index into the machine's processes).
    Process(usize),
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Context::Kernel => f.write_str("init_mm"),
            Context::Process(p) => write!(f, "process {p}"),
        }
    }
}

/// Errors of the simulation itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// The library refused an operation.
    Pgtable(pgtable::Error),
    /// No data frame left.
    OutOfFrames,
    /// No such process.
    NoProcess(usize),
    /// The process is what some CPU runs on.
    ProcessBusy(usize),
    /// Unknown scenario name.
    UnknownScenario(String),
    /// The scenario means nothing on this paging mode, for this reason.
    NotApplicable(&'static str),
}

impl From<pgtable::Error> for SimError {
    fn from(e: pgtable::Error) -> Self {
        SimError::Pgtable(e)
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Pgtable(e) => write!(f, "page tables: {e}"),
            SimError::OutOfFrames => f.write_str("no data frame left"),
            SimError::NoProcess(p) => write!(f, "no process {p}"),
            SimError::ProcessBusy(p) => write!(f, "process {p} is running on a CPU"),
            SimError::UnknownScenario(s) => write!(f, "unknown scenario {s:?}"),
            SimError::NotApplicable(why) => write!(f, "not applicable: {why}"),
        }
    }
}

impl std::error::Error for SimError {}

/// Old code or new code: the two ends of the era model, for tools that
/// want a pair (ptdump `--old`, the model test). [`Variant::Old`] is the
/// oldest era modelled ([`Era::Pre9b86`]), [`Variant::New`] the library
/// ([`Era::V617`]).
///
/// [`Era::Pre9b86`]: crate::era::Era::Pre9b86
/// [`Era::V617`]: crate::era::Era::V617
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Plain populate, nothing synced
    /// ([`Era::Pre9b86`](crate::era::Era::Pre9b86)).
    Old,
    /// Through the kernel helpers and the edit guard
    /// ([`Era::V617`](crate::era::Era::V617)).
    New,
}

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
