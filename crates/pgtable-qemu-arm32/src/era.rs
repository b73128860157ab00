//! The kernel eras `pgtable-sim` models (`crates/pgtable-sim/src/era.rs`,
//! `Era::ALL`), as they behave on arm32 for the scenarios this kernel
//! runs: which code populates the kernel's first-level entries and which
//! fault handler fixes a missing one.
//!
//! The simulator is a `std` crate and cannot be linked here, so the era
//! *behaviour* is restated (it is the input of the run); the *verdicts* the
//! run reaches are not: `cargo xtask qemu` checks them against the
//! simulator's table (`crates/pgtable-sim/VERDICTS.md`, column
//! `arm32/short`).

/// Which code a kernel user runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Plain `pmd_populate_kernel()`/`set_pmd()` on init_mm through the
    /// library's `legacy_edit`: nothing is synced when it ends.
    Old,
    /// The library's `edit` (6.17's `*_populate_kernel()`), which copies new
    /// first-level entries into every root (arm32's sync mask is
    /// `PGTBL_PMD_MODIFIED`).
    New,
}

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Code::Old => "old",
            Code::New => "new",
        }
    }
}

/// One era.
#[derive(Clone, Copy, Debug)]
pub struct Era {
    /// The simulator's `Era::name()`, with an ASCII hyphen.
    pub name: &'static str,
    /// The code vmalloc, ioremap and the percpu first chunk run.
    pub code: Code,
}

/// Every era, oldest first. On arm32 `Era::populate()` is `Plain` for
/// vmalloc, ioremap and percpu in every era before 6.17: 5.8's
/// `arch_sync_kernel_mappings()` only bumps `init_mm.context.vmalloc_seq`
/// on arm (5.18+), leaving the copy to `switch_mm()` and to
/// `do_translation_fault()`.
pub const ERAS: [Era; 4] = [
    Era {
        name: "pre-9b861528a801",
        code: Code::Old,
    },
    Era {
        name: "pre-5.8",
        code: Code::Old,
    },
    Era {
        name: "5.8-6.16",
        code: Code::Old,
    },
    Era {
        name: "6.17+",
        code: Code::New,
    },
];

/// `do_translation_fault()` (`arch/arm/mm/fault.c`), in every era: a
/// translation fault at `addr >= TASK_SIZE` whose first-level entry
/// init_mm has is fixed by copying that entry into the faulting mm's table
/// and retrying the access. `task_size` is the library's `kernel_start()`
/// (0xBF00_0000).
pub fn fault_handler_covers(addr: u64, task_size: u64) -> bool {
    addr >= task_size
}
