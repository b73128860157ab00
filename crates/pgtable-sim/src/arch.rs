//! The paging modes the machine can run, as one type: the machine's page
//! tables are `PageTables<SimArch, _>` whatever the architecture, and each
//! mode brings its own independent MMU from `pgtable-mmu`.

use pgtable::arch::{KernelLayout, SyncMethod};
use pgtable::{Arch, Decoded, Level, PhysAddr, Prot, SyncMask, VirtAddr, X86_64};
use pgtable_mmu::Mmu;
use std::ops::Range;

/// A paging mode of the simulated machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimArch {
    /// x86-64, 4- or 5-level.
    X86_64(X86_64),
}

macro_rules! each {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            SimArch::X86_64($a) => $e,
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
        vec![SimArch::x86_64(true), SimArch::x86_64(false)]
    }

    /// The independent MMU of this mode, configured as Linux runs it.
    pub fn mmu(&self) -> Box<dyn Mmu + Send + Sync> {
        match self {
            SimArch::X86_64(a) if a.la57 => Box::new(pgtable_mmu::x86_64::X86Mmu::new_la57()),
            SimArch::X86_64(_) => Box::new(pgtable_mmu::x86_64::X86Mmu::new()),
        }
    }

    /// Whether kernel and user halves have separate roots (arm64 TTBR1/0).
    pub fn split_roots(&self) -> bool {
        false
    }

    /// The name the architecture's manual gives a level in the MMU's
    /// numbering (a fault's `level`).
    pub fn level_name(&self, level: i8) -> &'static str {
        match (self, level) {
            (SimArch::X86_64(_), 5) => "PML5",
            (SimArch::X86_64(_), 4) => "PML4",
            (SimArch::X86_64(_), 3) => "PDPT",
            (SimArch::X86_64(_), 2) => "PD",
            (SimArch::X86_64(_), _) => "PT",
        }
    }

    /// The x86-64 mode, for what only exists there (the x86 TLB model with
    /// its exact SDM behaviour, ptdump's x86 columns).
    pub fn as_x86_64(&self) -> Option<X86_64> {
        match self {
            SimArch::X86_64(a) => Some(*a),
        }
    }
}

impl Arch for SimArch {
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
    fn user_end(&self) -> u64 {
        each!(self, a => a.user_end())
    }
    fn kernel_start(&self) -> u64 {
        each!(self, a => a.kernel_start())
    }
    fn kernel_top_slots(&self) -> Range<usize> {
        each!(self, a => a.kernel_top_slots())
    }
    fn leaf_allowed(&self, level: Level) -> bool {
        each!(self, a => a.leaf_allowed(level))
    }
    fn sync_mask(&self) -> SyncMask {
        each!(self, a => a.sync_mask())
    }
    fn sync_method(&self) -> SyncMethod {
        each!(self, a => a.sync_method())
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
    fn layout(&self) -> KernelLayout {
        each!(self, a => a.layout())
    }
}
