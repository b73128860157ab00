//! A run's report read off the machine it ran on: the report types
//! ([`crate::report`]) know nothing of [`Machine`]; this is where the two
//! meet.

use crate::era::Era;
use crate::machine::Machine;
use crate::report::{CpuSummary, Figures, Run};

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
}
