//! The kernel eras `pgtable-sim` models (`crates/pgtable-sim/src/era.rs`),
//! as the test kernels run them: for a scenario on an architecture, whether
//! the code existed in the era, and whether the kernel user's populate is
//! old code (plain, through the library's `legacy_edit`) or new code (the
//! library's `edit`), with x86-64's late `sync_global_pgds()`.
//!
//! The simulator is a `std` crate and cannot be linked into a kernel, so
//! its era *behaviour* is restated here (it is the input of each run). The
//! *verdicts* the real MMU then shows are not restated: `cargo xtask qemu`
//! checks every `CHECK <scenario>/<era>/<code> ok verdict=<v>` line against
//! the simulator's table (`crates/pgtable-sim/VERDICTS.md`), `n/e` included,
//! so this copy cannot drift from the simulator unnoticed.

/// A range of Linux releases (the simulator's `Era`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Era {
    /// Before 9b861528a801 (believed 2.6.37).
    Pre9b86,
    /// 9b861528a801 to 5.7.
    Pre58,
    /// 5.8 to 6.16.
    V58To616,
    /// 6.17 and later: the library's edit everywhere.
    V617,
}

/// Which code a kernel user runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Plain `pXd_populate()` on init_mm through the library's
    /// `legacy_edit`: nothing is synced when it ends.
    Old,
    /// The library's `edit` (6.17's `*_populate_kernel()`).
    New,
}

impl Code {
    /// As check names print it.
    pub fn name(self) -> &'static str {
        match self {
            Code::Old => "old",
            Code::New => "new",
        }
    }
}

/// The paging family a kernel runs, as far as the eras differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// x86-64; `la57`: 5-level paging (4.14+).
    X86_64 { la57: bool },
    /// x86-32 (2-level or PAE).
    X86_32,
    /// arm64 (3.7+): split roots, nothing synced.
    Arm64,
    /// riscv64 (4.15+).
    Riscv64,
    /// arm32 short descriptors.
    Arm32,
}

/// The simulated kernel users (the simulator's `User`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    Vmalloc,
    Ioremap,
    Vmemmap,
    VmemmapCompound,
    DirectMap,
    KasanShadow,
    Percpu,
}

/// The kernel user a simulator scenario exercises (`expect.rs:user_of`).
pub fn user_of(scenario: &str) -> User {
    match scenario {
        "hotplug-new-slot" => User::DirectMap,
        "compound-devmap" => User::VmemmapCompound,
        "subpmd-clear" => User::Vmemmap,
        "ioremap" => User::Ioremap,
        "kasan-shadow" => User::KasanShadow,
        "percpu" => User::Percpu,
        _ => User::Vmalloc,
    }
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 4] = [Era::Pre9b86, Era::Pre58, Era::V58To616, Era::V617];

    /// The simulator's `Era::name()`, with an ASCII hyphen.
    pub fn name(self) -> &'static str {
        match self {
            Era::Pre9b86 => "pre-9b861528a801",
            Era::Pre58 => "pre-5.8",
            Era::V58To616 => "5.8-6.16",
            Era::V617 => "6.17+",
        }
    }

    /// Whether `scenario` on `family` existed in this era (`expect.rs`:
    /// the `NotInEra` rules; `n/e` in VERDICTS.md).
    pub fn exists(self, scenario: &str, family: Family) -> bool {
        let family_too_young = matches!(
            (family, self),
            (Family::Arm64 | Family::Riscv64, Era::Pre9b86)
                | (Family::X86_64 { la57: true }, Era::Pre9b86)
        );
        let code_too_young = match (scenario, self) {
            ("compound-devmap", Era::Pre9b86 | Era::Pre58) => true,
            ("subpmd-clear" | "kasan-shadow", Era::Pre9b86) => true,
            // riscv memory hotplug came in 6.11.
            ("hotplug-new-slot" | "subpmd-clear", Era::Pre58) => family == Family::Riscv64,
            _ => false,
        };
        !(family_too_young || code_too_young)
    }

    /// The simulator's `Era::populate()`: new code in 6.17+, and in 5.8 to
    /// 6.16 for vmalloc and ioremap on x86-32 (`arch_sync_kernel_mappings()`
    /// for `PGTBL_PMD_MODIFIED`); old code otherwise.
    pub fn code(self, user: User, family: Family) -> Code {
        match (self, user) {
            (Era::V617, _) => Code::New,
            (Era::V58To616, User::Vmalloc | User::Ioremap) if family == Family::X86_32 => Code::New,
            _ => Code::Old,
        }
    }

    /// The simulator's `Era::late_sync()`: x86-64's `sync_global_pgds()`
    /// after the direct map's and `vmemmap_populate()`'s populate
    /// (9b861528a801 to 6.16).
    pub fn late_sync(self, user: User, family: Family) -> bool {
        matches!(family, Family::X86_64 { .. })
            && matches!(self, Era::Pre58 | Era::V58To616)
            && matches!(user, User::Vmemmap | User::DirectMap)
    }

    /// The simulator's `Era::subpmd_memset()`: `vmemmap_use_new_sub_pmd()`
    /// clears the unused part of a new PMD block inside the populate,
    /// before `vmemmap_populate()`'s sync (8d400913c231, 5.13).
    pub fn subpmd_memset(self) -> bool {
        matches!(self, Era::V58To616 | Era::V617)
    }

    /// The simulator's `Era::prealloc_vmalloc()`: x86-64 preallocates the
    /// vmalloc area's top level at boot (`preallocate_vmalloc_pages()`,
    /// 5.9+).
    pub fn prealloc_vmalloc(self, family: Family) -> bool {
        matches!(family, Family::X86_64 { .. }) && self >= Era::V58To616
    }

    /// The simulator's `Era::fault_handler()` presence: x86-64's
    /// `vmalloc_fault()` until 5.8, x86-32's and arm32's in every era;
    /// the range it covers is the kernel's to apply.
    pub fn lazy_fault_fix(self, family: Family) -> bool {
        match family {
            Family::X86_64 { .. } => self <= Era::Pre58,
            Family::X86_32 | Family::Arm32 => true,
            Family::Arm64 | Family::Riscv64 => false,
        }
    }
}

/// The `verdict=` a scenario run reports: `ok` (no fault), `fixed` (every
/// fault fixed by the era's fault handler) or `oops` (a fault nothing
/// fixes), as VERDICTS.md spells them.
pub fn verdict(faults: u64, fixed: u64) -> &'static str {
    if faults == 0 {
        "ok"
    } else if fixed == faults {
        "fixed"
    } else {
        "oops"
    }
}
