//! The paging modes the machine can run, as one type: the machine's page
//! tables are `PageTables<SimArch, _>` whatever the architecture, and each
//! mode brings its own independent MMU from `pgtable-mmu`.

use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::{Riscv64, SvMode};
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::{KernelLayout, PtdumpFormat, RegionKind, SyncMethod};
use pgtable::{
    Decoded, EntryFormat, KernelPolicy, Level, PagingGeometry, PhysAddr, Prot, SyncMask, VirtAddr,
    X86_64,
};
use pgtable_mmu::Mmu;
use std::ops::Range;

/// A paging mode of the simulated machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimArch {
    /// x86-64, 4- or 5-level.
    X86_64(X86_64),
    /// x86-32, 2-level or PAE.
    X86_32(X86_32),
    /// arm64, 4 KiB granule.
    Arm64(Arm64),
    /// riscv64, Sv39/48/57.
    Riscv64(Riscv64),
    /// arm, short descriptors.
    Arm32(Arm32),
}

macro_rules! each {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            SimArch::X86_64($a) => $e,
            SimArch::X86_32($a) => $e,
            SimArch::Arm64($a) => $e,
            SimArch::Riscv64($a) => $e,
            SimArch::Arm32($a) => $e,
        }
    };
}

impl SimArch {
    /// x86-64 with 4 or 5 levels.
    pub const fn x86_64(la57: bool) -> SimArch {
        SimArch::X86_64(X86_64 { la57 })
    }

    /// Every mode, in the order the command line runs them.
    pub fn all() -> Vec<SimArch> {
        vec![
            SimArch::x86_64(true),
            SimArch::x86_64(false),
            SimArch::X86_32(X86_32::TWO_LEVEL),
            SimArch::X86_32(X86_32::PAE),
            SimArch::X86_32(X86_32::PAE_UNSHARED_PMD),
            SimArch::Arm64(Arm64::VA_48),
            SimArch::Arm64(Arm64::VA_39),
            SimArch::Riscv64(Riscv64::SV57),
            SimArch::Riscv64(Riscv64::SV48),
            SimArch::Riscv64(Riscv64::SV39),
            SimArch::Arm32(Arm32::SHORT),
        ]
    }

    /// The mode named `name` (its [`PagingGeometry::name`]), or a short alias
    /// (`x86_64`, `x86_32`, `pae`, `arm64`, `riscv64`, `arm32`, ...).
    pub fn by_name(name: &str) -> Option<SimArch> {
        let all = Self::all();
        if let Some(a) = all.iter().find(|a| a.name().eq_ignore_ascii_case(name)) {
            return Some(*a);
        }
        let alias = match name.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "x86_64/4" => SimArch::x86_64(false),
            "x86_64/5" | "la57" => SimArch::x86_64(true),
            "x86_32" | "x86-32" | "i386" => SimArch::X86_32(X86_32::TWO_LEVEL),
            "pae" | "x86_32/pae" => SimArch::X86_32(X86_32::PAE),
            "pae-unshared" => SimArch::X86_32(X86_32::PAE_UNSHARED_PMD),
            "arm64" | "aarch64" | "arm64/48" => SimArch::Arm64(Arm64::VA_48),
            "arm64/39" => SimArch::Arm64(Arm64::VA_39),
            "riscv64" | "sv39" => SimArch::Riscv64(Riscv64::SV39),
            "sv48" => SimArch::Riscv64(Riscv64::SV48),
            "sv57" => SimArch::Riscv64(Riscv64::SV57),
            "arm32" | "arm" => SimArch::Arm32(Arm32::SHORT),
            _ => return None,
        };
        Some(alias)
    }

    /// The independent MMU of this mode, configured as Linux runs it.
    pub fn mmu(&self) -> Box<dyn Mmu + Send + Sync> {
        use pgtable_mmu::{arm32, arm64, riscv64, x86_32, x86_64};
        match self {
            SimArch::X86_64(a) if a.la57 => Box::new(x86_64::X86Mmu::new_la57()),
            SimArch::X86_64(_) => Box::new(x86_64::X86Mmu::new()),
            SimArch::X86_32(a) if a.pae => Box::new(x86_32::X86_32Mmu::new_pae()),
            SimArch::X86_32(_) => Box::new(x86_32::X86_32Mmu::new_32bit()),
            SimArch::Arm64(a) => Box::new(match a.va_bits() {
                39 => arm64::Arm64Mmu::new_39(),
                52 => arm64::Arm64Mmu::new_52(),
                _ => arm64::Arm64Mmu::new_48(),
            }),
            SimArch::Riscv64(a) => Box::new(riscv64::Riscv64Mmu::new(match a.mode {
                SvMode::Sv39 => riscv64::Scheme::Sv39,
                SvMode::Sv48 => riscv64::Scheme::Sv48,
                SvMode::Sv57 => riscv64::Scheme::Sv57,
            })),
            SimArch::Arm32(_) => Box::new(arm32::Arm32Mmu::new()),
        }
    }

    /// The name the architecture's manual gives a level in the MMU's
    /// numbering (a fault's `level`).
    pub fn level_name(&self, level: i8) -> &'static str {
        match (self, level) {
            (SimArch::X86_64(_), 5) => "PML5",
            (SimArch::X86_64(_), 4) => "PML4",
            (SimArch::X86_64(_) | SimArch::X86_32(_), 3) => "PDPT",
            (SimArch::X86_64(_) | SimArch::X86_32(_), 2) => "PD",
            (SimArch::X86_64(_) | SimArch::X86_32(_), _) => "PT",
            (SimArch::Arm64(_), -1) => "L-1",
            (SimArch::Arm64(_), 0) => "L0",
            (SimArch::Arm64(_), 1) => "L1",
            (SimArch::Arm64(_), 2) => "L2",
            (SimArch::Arm64(_), _) => "L3",
            (SimArch::Riscv64(_), 4) => "level 4",
            (SimArch::Riscv64(_), 3) => "level 3",
            (SimArch::Riscv64(_), 2) => "level 2",
            (SimArch::Riscv64(_), 1) => "level 1",
            (SimArch::Riscv64(_), _) => "level 0",
            (SimArch::Arm32(_), 1) => "L1",
            (SimArch::Arm32(_), _) => "L2",
        }
    }

    /// The x86-64 mode, for what only exists there (the x86 TLB model with
    /// its exact SDM behaviour, ptdump's x86 columns).
    pub fn as_x86_64(&self) -> Option<X86_64> {
        match self {
            SimArch::X86_64(a) => Some(*a),
            _ => None,
        }
    }

    /// Why a kernel change the processes' roots lack is (or is not) a fault
    /// on this mode: the sync rule in one line, for reports.
    pub fn sync_rule(&self) -> &'static str {
        match self {
            SimArch::X86_64(a) if a.la57 => "PGD-level sync: a new top-level kernel entry is copied into every root (sync_global_pgds)",
            SimArch::X86_64(_) => "P4D-level sync (the folded P4D is the top-level entry): copied into every root",
            SimArch::X86_32(a) if !a.pae => "PMD-level sync (the folded PMD is the top-level entry): copied into every root (pgtable-2level_types.h)",
            SimArch::X86_32(a) if a.shared_kernel_pmd => "PAE with a shared kernel PMD: every root points at the one kernel PMD table, so a new PMD entry needs no copy",
            SimArch::X86_32(_) => "PAE with per-process kernel PMDs (PTI): PMD-level sync copies each new kernel PMD entry into every process's copy",
            SimArch::Arm64(_) => "split roots: the kernel half is TTBR1's own table, shared by every process; the sync mask is empty and nothing is ever copied",
            SimArch::Riscv64(_) => "no sync mask: the level below the PGD is preallocated at boot for the kernel areas (preallocate_pgd_pages_range), so top-level entries never change there",
            SimArch::Arm32(_) => "PMD-level sync (the folded PMD is the 1 MiB first-level entry): copied into every process's 16 KiB table",
        }
    }
}

impl PagingGeometry for SimArch {
    fn name(&self) -> &'static str {
        each!(self, a => a.name())
    }
    fn level_bits(&self, level: Level) -> u32 {
        each!(self, a => a.level_bits(level))
    }
    fn level_shift(&self, level: Level) -> u32 {
        each!(self, a => a.level_shift(level))
    }
    fn entry_size(&self) -> u64 {
        each!(self, a => a.entry_size())
    }
    fn va_bits(&self) -> u32 {
        each!(self, a => a.va_bits())
    }
    fn phys_bits(&self) -> u32 {
        each!(self, a => a.phys_bits())
    }
    fn is_canonical(&self, va: VirtAddr) -> bool {
        each!(self, a => a.is_canonical(va))
    }
    fn table_bytes(&self, level: Level) -> u64 {
        each!(self, a => a.table_bytes(level))
    }
}

impl EntryFormat for SimArch {
    fn leaf_allowed(&self, level: Level) -> bool {
        each!(self, a => a.leaf_allowed(level))
    }
    fn encode_table(&self, level: Level, table: PhysAddr, user: bool) -> u64 {
        each!(self, a => a.encode_table(level, table, user))
    }
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        each!(self, a => a.encode_leaf(level, pa, prot))
    }
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        each!(self, a => a.decode(level, raw))
    }
}

impl KernelPolicy for SimArch {
    fn user_end(&self) -> u64 {
        each!(self, a => a.user_end())
    }
    fn kernel_start(&self) -> u64 {
        each!(self, a => a.kernel_start())
    }
    fn kernel_top_slots(&self) -> Range<usize> {
        each!(self, a => a.kernel_top_slots())
    }
    fn sync_mask(&self) -> SyncMask {
        each!(self, a => a.sync_mask())
    }
    fn sync_method(&self) -> SyncMethod {
        each!(self, a => a.sync_method())
    }
    fn layout(&self) -> KernelLayout {
        each!(self, a => a.layout())
    }
    fn ptdump_format(&self) -> PtdumpFormat {
        each!(self, a => a.ptdump_format())
    }
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> pgtable::Result<pgtable::Activation> {
        each!(self, a => a.activation(root, kernel_root, asid))
    }
    fn split_roots(&self) -> bool {
        each!(self, a => a.split_roots())
    }
    fn boot_prealloc(&self) -> &'static [RegionKind] {
        each!(self, a => a.boot_prealloc())
    }
    fn highpte(&self) -> bool {
        each!(self, a => a.highpte())
    }
}
