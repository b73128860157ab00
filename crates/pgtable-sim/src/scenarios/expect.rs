//! What Linux does in each scenario, era and architecture: the expected
//! verdict and why, with the Linux functions and commits
//! (`docs/linux-baselines.md`). The runs must agree with it.

use crate::arch::SimArch;
use crate::era::{Era, User};
use crate::report::Verdict;
use pgtable::arch::x86_32::X86_32;

/// The expected verdict of a scenario in an era, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// What Linux does.
    pub verdict: Verdict,
    /// Why, naming the Linux functions (and commits) that decide it.
    pub why: &'static str,
}

const fn e(verdict: Verdict, why: &'static str) -> Expected {
    Expected { verdict, why }
}

use Verdict::{Fault, FixedByHandler as Fixed, NoFault, NotInEra};

/// The kernel user a scenario exercises.
pub fn user_of(scenario: &str) -> User {
    match scenario {
        "hotplug-new-slot" => User::DirectMap,
        "compound-devmap" => User::VmemmapCompound,
        "subpmd-clear" => User::Vmemmap,
        "vmalloc-new-slot" => User::Vmalloc,
        "ioremap" => User::Ioremap,
        "kasan-shadow" => User::KasanShadow,
        "percpu" => User::Percpu,
        _ => User::Vmalloc,
    }
}

const ARM64: &str = "split roots: the kernel half is TTBR1's swapper_pg_dir, \
     shared by every task, so nothing is ever copied";
const PAE_SHARED: &str = "every pgd points at the one kernel PMD table \
     (SHARED_KERNEL_PMD), so a new PMD entry needs no copy";
const PAE_SHARED_617: &str = "every pgd points at the one kernel PMD table of \
     this mode, so nothing is copied (6.16 removed SHARED_KERNEL_PMD: \
     PAE always syncs at PMD level since)";

/// The expected verdict of `scenario` in `era` on `arch`.
pub fn expect(scenario: &str, arch: SimArch, era: Era) -> Expected {
    // Architectures and paging modes younger than the era.
    match (arch, era) {
        (SimArch::Arm64(_), Era::Pre9b86) => return e(NotInEra, "arm64 was merged in 3.7"),
        (SimArch::Riscv64(_), Era::Pre9b86) => return e(NotInEra, "riscv was merged in 4.15"),
        (SimArch::X86_64(a), Era::Pre9b86) if a.la57 => {
            return e(NotInEra, "5-level paging arrived in 4.14")
        }
        _ => {}
    }
    // Code younger than the era.
    match (scenario, era) {
        ("compound-devmap", Era::Pre9b86 | Era::Pre58) => {
            return e(
                NotInEra,
                "vmemmap_populate_compound_pages() arrived in 5.19 (4917f55b4ef9)",
            )
        }
        ("subpmd-clear", Era::Pre9b86) => {
            return e(NotInEra, "device memory (ZONE_DEVICE, 4.3) did not exist")
        }
        ("kasan-shadow", Era::Pre9b86) => return e(NotInEra, "KASAN arrived in 4.0"),
        ("hotplug-new-slot" | "subpmd-clear", Era::Pre58)
            if matches!(arch, SimArch::Riscv64(_)) =>
        {
            return e(
                NotInEra,
                "riscv memory hotplug came in 6.11, with its boot preallocation \
                 (66673099f734; release inferred)",
            )
        }
        _ => {}
    }
    match arch {
        SimArch::X86_64(_) => x86_64(scenario, era),
        SimArch::X86_32(a) if a.pae && a.shared_kernel_pmd => e(
            NoFault,
            if era == Era::V617 {
                PAE_SHARED_617
            } else {
                PAE_SHARED
            },
        ),
        SimArch::X86_32(a) => x86_32(scenario, era, a),
        SimArch::Arm64(_) => e(NoFault, ARM64),
        SimArch::Riscv64(_) => riscv(scenario, era),
        SimArch::Arm32(_) => arm32(era),
    }
}

fn x86_64(scenario: &str, era: Era) -> Expected {
    const LAZY: &str = "the populate is plain and nothing syncs it; \
         vmalloc_fault() copies the missing top-level entry from init_mm on \
         first touch (arch/x86/mm/fault.c; removed in 5.8 by 7f0a002b5a21)";
    const PREALLOC: &str = "the vmalloc area's top level is preallocated at \
         boot (preallocate_vmalloc_pages(), arch/x86/mm/init_64.c, 5.9+; \
         5.8 synced it with arch_sync_kernel_mappings()), so no top-level \
         entry is new";
    const SYNCED_LATE: &str = "kernel_physical_mapping_init() and \
         vmemmap_populate() call sync_global_pgds() before the new memory is \
         used (9b861528a801, arch/x86/mm/init_64.c)";
    match (scenario, era) {
        ("vmalloc-new-slot" | "ioremap" | "percpu", Era::Pre9b86 | Era::Pre58) => e(Fixed, LAZY),
        ("vmalloc-new-slot" | "ioremap" | "percpu", Era::V58To616) => e(NoFault, PREALLOC),
        ("vmalloc-new-slot" | "ioremap", _) => e(
            NoFault,
            "the vmalloc area is still preallocated at boot, and \
             vmap_range_noflush()/vmap_pages_range_noflush() would sync a new \
             top-level entry (arch_sync_kernel_mappings(), 6659d0279980)",
        ),
        ("percpu", _) => e(
            NoFault,
            "pcpu_populate_pte() uses pgd/p4d_populate_kernel(), which sync \
             at once (f2d2f9598ebb), and the vmalloc area is preallocated",
        ),
        ("hotplug-new-slot", Era::Pre9b86) => e(
            Fault,
            "kernel_physical_mapping_init() and vmemmap_populate() install \
             new top-level entries in init_mm only and nothing syncs them; \
             9b861528a801 added sync_global_pgds() (arch/x86/mm/init_64.c)",
        ),
        ("hotplug-new-slot", Era::Pre58 | Era::V58To616) => e(NoFault, SYNCED_LATE),
        ("hotplug-new-slot", _) => e(
            NoFault,
            "vmemmap_p4d_populate() syncs at once through p4d_populate_kernel() \
             (f2d2f9598ebb); x86's own sync_global_pgds() calls remain and \
             find nothing left to copy",
        ),
        ("compound-devmap", Era::V58To616) => e(
            Fault,
            "from 5.19, vmemmap_populate_compound_pages() populates with plain \
             pgd/p4d_populate() and never calls sync_global_pgds() \
             (mm/sparse-vmemmap.c, 4917f55b4ef9)",
        ),
        ("compound-devmap", _) => e(
            NoFault,
            "vmemmap_pgd/p4d_populate() use pgd/p4d_populate_kernel(), which \
             sync at once (f2d2f9598ebb, 6659d0279980)",
        ),
        ("subpmd-clear", Era::Pre58) => e(
            NoFault,
            "vmemmap_populate() maps whole PMD blocks and calls \
             sync_global_pgds() before the memmap is touched; the sub-PMD \
             memset came in 5.13 (8d400913c231)",
        ),
        ("subpmd-clear", Era::V58To616) => e(
            Fault,
            "from 5.13, vmemmap_populate() populates with plain p4d_populate() \
             and syncs only after vmemmap_use_new_sub_pmd()'s memset \
             (arch/x86/mm/init_64.c, 8d400913c231)",
        ),
        ("subpmd-clear", _) => e(
            NoFault,
            "vmemmap_p4d_populate() syncs through p4d_populate_kernel() \
             before the memset (f2d2f9598ebb)",
        ),
        ("kasan-shadow", Era::V617) => e(
            NoFault,
            "kasan_populate_early_shadow() uses pgd/p4d_populate_kernel(), \
             which sync at once (f2d2f9598ebb)",
        ),
        ("kasan-shadow", _) => e(
            Fault,
            "kasan_populate_early_shadow() (from kasan_add_zero_shadow() for \
             device memory) installs top-level entries with plain \
             pgd/p4d_populate() and nothing syncs them (mm/kasan/init.c); \
             vmalloc_fault() never covered the shadow",
        ),
        _ => e(NoFault, "no kernel change outside the synced ranges"),
    }
}

fn x86_32(scenario: &str, era: Era, _a: X86_32) -> Expected {
    const LAZY: &str = "the populate is plain; vmalloc_fault() copies the \
         missing PMD entry from init_mm (vmalloc_sync_one(), \
         arch/x86/mm/fault.c)";
    match (scenario, era) {
        (_, Era::Pre9b86 | Era::Pre58) => e(Fixed, LAZY),
        ("vmalloc-new-slot" | "ioremap", Era::V58To616) => e(
            NoFault,
            "vmap_pages_range_noflush()/ioremap track PGTBL_PMD_MODIFIED and \
             call arch_sync_kernel_mappings() (arch/x86/mm/fault.c), which \
             copies the PMD entry into every pgd",
        ),
        (_, Era::V58To616) => e(
            Fixed,
            "pcpu_populate_pte() populates the PMD entry plainly; \
             vmalloc_fault() (back in 5.9, 4819e15f740e) copies it on first \
             touch",
        ),
        ("vmalloc-new-slot" | "ioremap", _) => e(
            NoFault,
            "unchanged: arch_sync_kernel_mappings() copies the new PMD entry \
             into every pgd (PGTBL_PMD_MODIFIED)",
        ),
        _ => e(
            NoFault,
            "the library's edit syncs the new PMD entry (6.17's helpers cover \
             only PGD/P4D; Linux leaves this to vmalloc_fault())",
        ),
    }
}

fn riscv(scenario: &str, era: Era) -> Expected {
    match (scenario, era) {
        ("vmalloc-new-slot" | "ioremap" | "percpu", Era::Pre58 | Era::V58To616) => e(
            NoFault,
            "modelled with the boot preallocation of 6.5+ \
             (preallocate_pgd_pages_range(), arch/riscv/mm/init.c, \
             7d3332be011e); before 6.5 riscv's vmalloc_fault() fixed such \
             faults lazily",
        ),
        (_, Era::Pre58) => e(
            NoFault,
            "modelled with the boot preallocation of 6.11+ \
             (preallocate_pgd_pages_range(), arch/riscv/mm/init.c)",
        ),
        (_, _) => e(
            NoFault,
            "preallocate_pgd_pages_range() fills the level below the PGD at \
             boot (arch/riscv/mm/init.c: vmalloc/modules 6.5, vmemmap/direct \
             map/KASAN 6.11, 66673099f734); no sync mask",
        ),
    }
}

fn arm32(era: Era) -> Expected {
    match era {
        Era::Pre9b86 | Era::Pre58 => e(
            Fixed,
            "the populate is plain; do_translation_fault() copies the missing \
             PMD pair from init_mm for any kernel address (arch/arm/mm/fault.c)",
        ),
        Era::V58To616 => e(
            Fixed,
            "the populate is plain; do_translation_fault() copies the missing \
             PMD pair (arch/arm/mm/fault.c); from 5.18 \
             arch_sync_kernel_mappings() only bumps vmalloc_seq for switch_mm",
        ),
        Era::V617 => e(
            NoFault,
            "the library's edit copies the new PMD entry into every pgd; Linux \
             6.17 still leaves it to do_translation_fault() and vmalloc_seq",
        ),
    }
}
