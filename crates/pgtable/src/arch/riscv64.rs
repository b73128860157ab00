//! riscv64: Sv39, Sv48 and Sv57 paging.
//!
//! Entry format from the RISC-V privileged specification ("Sv39", "Sv48",
//! "Sv57" and the Svpbmt chapter) with the bits Linux sets from
//! `arch/riscv/include/asm/pgtable-bits.h`, `pgtable-64.h` and
//! `pgtable.h`; memory map from `Documentation/arch/riscv/vm-layout.rst`.
//!
//! Sync: Linux's riscv defines no `ARCH_PAGE_TABLE_SYNC_MASK`, so
//! [`Arch::sync_mask`] is empty and [`Arch::sync_method`] is
//! [`SyncMethod::None`]: `pgd_alloc()` copies the kernel's top-level entries
//! into a new PGD once (`arch/riscv/include/asm/pgalloc.h`) and nothing
//! copies them later. What keeps the spaces right instead is
//! `pgtable_cache_init()` in `arch/riscv/mm/init.c`: at boot,
//! `preallocate_pgd_pages_range()` allocates the level below the PGD over
//! the vmalloc area, the modules/BPF area (`CONFIG_MODULES`) and, with
//! `CONFIG_MEMORY_HOTPLUG`, over vmemmap, the direct map and (with
//! `CONFIG_KASAN`) the KASAN shadow, so every top-level entry there exists
//! before the first process and never changes afterwards
//! ([`Arch::boot_prealloc`] returns those five, the configuration whose
//! memory map [`Arch::layout`] gives). A new top-level entry anywhere else
//! in the kernel half (the fixmap/PCI I/O slot, the kernel image's slots,
//! the unused slots at the bottom of the half) reaches only the spaces
//! created after it: Linux maps those at boot and never there again.

use super::{Arch, Decoded, KernelLayout, Level, Region, RegionKind, SyncMethod};
use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};
use core::ops::Range;

bitflags::bitflags! {
    /// Sv39/Sv48/Sv57 page-table entry bits, with Linux's names in the docs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RiscvFlags: u64 {
        /// V, bit 0: valid (`_PAGE_PRESENT`).
        const VALID = 1 << 0;
        /// R, bit 1: readable. R = W = X = 0 makes a pointer to the next
        /// level.
        const READ = 1 << 1;
        /// W, bit 2: writable (reserved without R).
        const WRITE = 1 << 2;
        /// X, bit 3: executable.
        const EXEC = 1 << 3;
        /// U, bit 4: accessible to U-mode (`_PAGE_USER`).
        const USER = 1 << 4;
        /// G, bit 5: global mapping (`_PAGE_GLOBAL`).
        const GLOBAL = 1 << 5;
        /// A, bit 6: accessed (`_PAGE_ACCESSED`).
        const ACCESSED = 1 << 6;
        /// D, bit 7: dirty (`_PAGE_DIRTY`).
        const DIRTY = 1 << 7;
        /// Svpbmt NC, bits 62:61 = 1: non-cacheable, idempotent, weakly
        /// ordered main memory (`_PAGE_NOCACHE_SVPBMT`).
        const PBMT_NC = 1 << 61;
        /// Svpbmt IO, bits 62:61 = 2: non-cacheable, non-idempotent, strongly
        /// ordered I/O (`_PAGE_IO_SVPBMT`).
        const PBMT_IO = 1 << 62;
    }
}

/// Bits 53:10: the physical page number (a 44-bit PPN, 56-bit PAs).
pub const PPN_MASK: u64 = ((1 << 44) - 1) << 10;
/// Bits 62:61: Svpbmt's memory type; 3 is reserved.
const PBMT_MASK: u64 = 3 << 61;
/// Bits 60:54 are reserved and bit 63 is Svnapot's N, which Linux sets only
/// for NAPOT mappings it never makes here: a walk faults on either.
const RESERVED: u64 = (0x7f << 54) | (1 << 63);

/// The translation scheme (satp.MODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SvMode {
    /// 3 levels, 39-bit VAs.
    Sv39,
    /// 4 levels, 48-bit VAs.
    Sv48,
    /// 5 levels, 57-bit VAs.
    Sv57,
}

/// riscv64 paging in one of the Sv modes, as Linux picks at boot
/// (`pgtable_l4_enabled`, `pgtable_l5_enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Riscv64 {
    /// The scheme.
    pub mode: SvMode,
}

impl Riscv64 {
    /// Sv39: the root is indexed by VA\[38:30\] and its entries are PUD
    /// entries (P4D and PUD folded into it, `pgtable-nop4d.h` and
    /// `pgtable-nopud.h`); then PMD and PTE.
    pub const SV39: Riscv64 = Riscv64 { mode: SvMode::Sv39 };
    /// Sv48: 4 levels, P4D folded as with x86-64 4-level paging.
    pub const SV48: Riscv64 = Riscv64 { mode: SvMode::Sv48 };
    /// Sv57: 5 levels.
    pub const SV57: Riscv64 = Riscv64 { mode: SvMode::Sv57 };

    /// Number of levels (the specification's `LEVELS`).
    #[inline]
    const fn hw_levels(&self) -> u32 {
        match self.mode {
            SvMode::Sv39 => 3,
            SvMode::Sv48 => 4,
            SvMode::Sv57 => 5,
        }
    }

    /// A level's distance from the bottom: PTE 0 … PGD 4.
    #[inline]
    const fn depth(level: Level) -> u32 {
        4 - level as u32
    }

    /// The specification's level `i` (0 for 4 KiB leaves, 1 for megapages,
    /// …) of an entry of `level`. A pass-through level stands for the
    /// lowest level of its folded chain, whose entry it really is.
    #[inline]
    fn spec_level(&self, level: Level) -> u32 {
        let mut l = level;
        while self.is_passthrough(l) {
            l = l.next().unwrap_or(Level::Pte);
        }
        Self::depth(l)
    }

    /// Svpbmt type of a memory type, as Linux uses it when the extension is
    /// present: PMA for normal memory, NC for `pgprot_writecombine()`
    /// (`ioremap_wc()`), IO for `pgprot_noncached()` and `_PAGE_IOREMAP`
    /// (`ioremap()`). riscv defines no `ioremap_wt()`, so the generic
    /// fallback `ioremap_wt() = ioremap()` applies: write-through is IO and
    /// decodes as [`CacheMode::Uncached`].
    #[inline]
    const fn pbmt(cache: CacheMode) -> RiscvFlags {
        match cache {
            CacheMode::WriteBack => RiscvFlags::empty(),
            CacheMode::WriteCombining => RiscvFlags::PBMT_NC,
            CacheMode::Uncached | CacheMode::WriteThrough => RiscvFlags::PBMT_IO,
        }
    }

    /// Whether a walk faults on `raw` as malformed: W without R, reserved
    /// bits or N, PBMT 3, or PBMT in a pointer.
    #[inline]
    fn malformed(raw: u64) -> bool {
        let f = RiscvFlags::from_bits_retain(raw);
        let pointer = !f.intersects(RiscvFlags::READ | RiscvFlags::EXEC);
        (f.contains(RiscvFlags::WRITE) && !f.contains(RiscvFlags::READ))
            || raw & RESERVED != 0
            || raw & PBMT_MASK == PBMT_MASK
            || (pointer && raw & PBMT_MASK != 0)
    }
}

/// PTE bits of a physical address (`pfn << _PAGE_PFN_SHIFT`).
#[inline]
const fn ppn(pa: u64) -> u64 {
    (pa >> 12) << 10 & PPN_MASK
}

/// The physical address a PTE designates.
#[inline]
const fn pa_of(raw: u64) -> u64 {
    (raw & PPN_MASK) >> 10 << 12
}

impl Arch for Riscv64 {
    #[inline]
    fn name(&self) -> &'static str {
        match self.mode {
            SvMode::Sv39 => "riscv64/sv39",
            SvMode::Sv48 => "riscv64/sv48",
            SvMode::Sv57 => "riscv64/sv57",
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        if level == Level::Pgd || Self::depth(level) < self.hw_levels() - 1 {
            9
        } else {
            0
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        let d = Self::depth(level);
        if d < self.hw_levels() - 1 {
            12 + 9 * d
        } else {
            // The root, and the levels folded into it.
            12 + 9 * (self.hw_levels() - 1)
        }
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        12 + 9 * self.hw_levels()
    }

    /// A 44-bit PPN: 56-bit physical addresses in every mode.
    #[inline]
    fn phys_bits(&self) -> u32 {
        56
    }

    /// Bits 63 down to `va_bits` equal bit `va_bits - 1` ("or else a
    /// page-fault exception will occur").
    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        let unused = 64 - self.va_bits();
        (((va.0 << unused) as i64) >> unused) as u64 == va.0
    }

    /// `TASK_SIZE`: the lower half.
    #[inline]
    fn user_end(&self) -> u64 {
        1u64 << (self.va_bits() - 1)
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        !0u64 << (self.va_bits() - 1)
    }

    /// `USER_PTRS_PER_PGD..PTRS_PER_PGD`, what `pgd_alloc()` copies.
    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        256..512
    }

    /// Any level may hold a leaf (a superpage of its size, which must be
    /// aligned to it).
    #[inline]
    fn leaf_allowed(&self, _level: Level) -> bool {
        true
    }

    #[inline]
    fn sync_mask(&self) -> SyncMask {
        SyncMask::empty()
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::None
    }

    /// `pgtable_cache_init()` with `CONFIG_MODULES`, `CONFIG_MEMORY_HOTPLUG`
    /// and `CONFIG_KASAN`, region by region. Linux preallocates the direct
    /// map from `PAGE_OFFSET` up to `KASAN_SHADOW_START`; under Sv39 that
    /// also covers the 4 GiB (four top-level slots) between
    /// `vm-layout.rst`'s direct map and the shadow, which stay empty here
    /// (Sv48 and Sv57 have no such gap).
    #[inline]
    fn boot_prealloc(&self) -> &'static [RegionKind] {
        &[
            RegionKind::Vmalloc,
            RegionKind::Modules,
            RegionKind::Vmemmap,
            RegionKind::DirectMap,
            RegionKind::KasanShadow,
        ]
    }

    /// `_PAGE_TABLE`: V and the PPN, R = W = X = 0, and U, A, D clear
    /// (reserved in a pointer) for kernel and user tables alike.
    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, _user: bool) -> u64 {
        ppn(table.0) | RiscvFlags::VALID.bits()
    }

    /// A leaf: V, R (reads are always allowed), W and X as asked, A always
    /// so no Svade fault is taken; D on every kernel leaf (`_PAGE_KERNEL`
    /// sets `_PAGE_DIRTY`, read-only ones too) and on writable user leaves
    /// (mapped dirty, as x86's writable leaves are); U for user pages, G
    /// for global ones; PBMT from the memory type. The PPN is aligned to
    /// the superpage size.
    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let a = prot.access;
        let mut f = RiscvFlags::VALID | RiscvFlags::READ | RiscvFlags::ACCESSED;
        f |= Self::pbmt(prot.cache);
        if a.contains(Access::WRITE) {
            f |= RiscvFlags::WRITE | RiscvFlags::DIRTY;
        }
        if a.contains(Access::EXEC) {
            f |= RiscvFlags::EXEC;
        }
        if a.contains(Access::USER) {
            f |= RiscvFlags::USER;
        } else {
            f |= RiscvFlags::DIRTY;
        }
        if a.contains(Access::GLOBAL) {
            f |= RiscvFlags::GLOBAL;
        }
        let size = 1u64 << (12 + 9 * self.spec_level(level));
        ppn(pa.0 & !(size - 1)) | f.bits()
    }

    /// What the walk does with the entry: V = 0, a malformed entry (W
    /// without R, reserved bits, PBMT 3 or PBMT in a pointer), a pointer at
    /// the PTE level and a misaligned superpage all fault and decode as
    /// [`Decoded::None`]; R or X makes a leaf; otherwise a table.
    #[inline]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        let f = RiscvFlags::from_bits_retain(raw);
        if !f.contains(RiscvFlags::VALID) || Self::malformed(raw) {
            return Decoded::None;
        }
        let i = self.spec_level(level);
        if !f.intersects(RiscvFlags::READ | RiscvFlags::EXEC) {
            return if i == 0 {
                Decoded::None
            } else {
                Decoded::Table(PhysAddr(pa_of(raw)))
            };
        }
        let pa = pa_of(raw);
        if pa & ((1u64 << (12 + 9 * i)) - 1) != 0 {
            return Decoded::None;
        }
        let mut access = Access::empty();
        access.set(Access::WRITE, f.contains(RiscvFlags::WRITE));
        access.set(Access::EXEC, f.contains(RiscvFlags::EXEC));
        access.set(Access::USER, f.contains(RiscvFlags::USER));
        access.set(Access::GLOBAL, f.contains(RiscvFlags::GLOBAL));
        let cache = match raw & PBMT_MASK {
            0 => CacheMode::WriteBack,
            m if m == RiscvFlags::PBMT_NC.bits() => CacheMode::WriteCombining,
            _ => CacheMode::Uncached,
        };
        Decoded::Leaf(PhysAddr(pa), Prot::new(access, cache))
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: match self.mode {
                SvMode::Sv39 => &LAYOUT_SV39,
                SvMode::Sv48 => &LAYOUT_SV48,
                SvMode::Sv57 => &LAYOUT_SV57,
            },
        }
    }

    #[inline]
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> crate::Result<crate::Activation> {
        let _ = kernel_root;
        crate::activate::riscv(
            root,
            asid,
            match self.mode {
                SvMode::Sv39 => 8,
                SvMode::Sv48 => 9,
                SvMode::Sv57 => 10,
            },
        )
    }

    fn ptdump_format(&self) -> crate::ptdump::Format {
        crate::ptdump::Format::Riscv64
    }
}

const fn region(kind: RegionKind, name: &'static str, start: u64, last: u64) -> Region {
    Region {
        kind,
        name,
        start,
        last,
    }
}

// `vm-layout.rst`; the PCI I/O window (16 MiB between the fixmap and
// vmemmap) is left out. The modules/BPF area and the kernel are the same top
// 4 GiB in every mode.
const MODULES: Region = region(
    RegionKind::Modules,
    "Modules",
    0xffff_ffff_0000_0000,
    0xffff_ffff_7fff_ffff,
);
const KERNEL: Region = region(
    RegionKind::KernelText,
    "Kernel",
    0xffff_ffff_8000_0000,
    0xffff_ffff_ffff_ffff,
);

/// `vm-layout.rst`, Sv39.
static LAYOUT_SV39: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffc4_fea0_0000,
        0xffff_ffc4_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_ffc5_0000_0000,
        0xffff_ffc5_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xffff_ffc6_0000_0000,
        0xffff_ffd5_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xffff_ffd6_0000_0000,
        0xffff_fff5_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_fff7_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];

/// `vm-layout.rst`, Sv48.
static LAYOUT_SV48: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_8d7f_fea0_0000,
        0xffff_8d7f_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_8d80_0000_0000,
        0xffff_8f7f_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xffff_8f80_0000_0000,
        0xffff_af7f_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xffff_af80_0000_0000,
        0xffff_ef7f_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_ef80_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];

/// `vm-layout.rst`, Sv57.
static LAYOUT_SV57: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xff1b_ffff_fea0_0000,
        0xff1b_ffff_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xff1c_0000_0000_0000,
        0xff1f_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xff20_0000_0000_0000,
        0xff5f_ffff_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xff60_0000_0000_0000,
        0xffde_ffff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffdf_0000_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [Riscv64; 3] = [Riscv64::SV39, Riscv64::SV48, Riscv64::SV57];
    const CACHES: [CacheMode; 3] = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::Uncached,
    ];

    #[test]
    fn folding_levels_and_tables() {
        let a = Riscv64::SV39;
        assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
        assert_eq!(a.top_level(), Level::Pud);
        assert_eq!(a.levels(), 3);
        assert_eq!(Level::ALL.map(|l| a.level_shift(l)), [30, 30, 30, 21, 12]);
        let b = Riscv64::SV48;
        assert!(b.is_folded(Level::P4d) && !b.is_folded(Level::Pud));
        assert_eq!(b.top_level(), Level::P4d);
        assert_eq!(b.levels(), 4);
        assert_eq!(Level::ALL.map(|l| b.level_shift(l)), [39, 39, 30, 21, 12]);
        let c = Riscv64::SV57;
        assert_eq!(c.top_level(), Level::Pgd);
        assert_eq!(c.levels(), 5);
        assert_eq!(Level::ALL.map(|l| c.level_shift(l)), [48, 39, 30, 21, 12]);
        for m in MODES {
            let bits: u32 = Level::ALL.iter().map(|l| m.level_bits(*l)).sum();
            assert_eq!(bits + 12, m.va_bits(), "{}", m.name());
            for l in Level::ALL.into_iter().filter(|l| !m.is_folded(*l)) {
                assert_eq!(m.table_bytes(l), 4096);
            }
            assert_eq!(m.phys_bits(), 56);
            assert_eq!(m.kernel_top_slots(), 256..512);
        }
        assert_eq!((a.va_bits(), b.va_bits(), c.va_bits()), (39, 48, 57));
    }

    #[test]
    fn canonical_and_halves() {
        let a = Riscv64::SV39;
        assert!(a.is_canonical(VirtAddr(0x0000_003f_ffff_f000)));
        assert!(!a.is_canonical(VirtAddr(0x0000_0040_0000_0000)));
        assert!(a.is_canonical(VirtAddr(0xffff_ffc0_0000_0000)));
        assert!(!a.is_canonical(VirtAddr(0xffff_ffbf_ffff_ffff)));
        assert_eq!(a.user_end(), 0x40_0000_0000);
        assert_eq!(a.kernel_start(), 0xffff_ffc0_0000_0000);
        let b = Riscv64::SV48;
        assert_eq!(b.user_end(), 0x8000_0000_0000);
        assert_eq!(b.kernel_start(), 0xffff_8000_0000_0000);
        assert!(!b.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
        let c = Riscv64::SV57;
        assert_eq!(c.kernel_start(), 0xff00_0000_0000_0000);
        assert!(c.is_canonical(VirtAddr(0x00ff_ffff_ffff_f000)));
        assert!(!c.is_canonical(VirtAddr(0x0100_0000_0000_0000)));
    }

    #[test]
    fn index_of_known_addresses() {
        let a = Riscv64::SV39;
        // The kernel half starts at slot 256 in every mode.
        assert_eq!(a.index(Level::Pgd, a.kernel_start()), 256);
        assert_eq!(a.index(Level::Pgd, 0xffff_ffc6_0000_0000), 280);
        assert_eq!(a.index(Level::Pgd, 0xffff_ffc4_fea0_0000), 275);
        assert_eq!(a.index(Level::Pmd, 0xffff_ffc4_fea0_0000), 501);
        let b = Riscv64::SV48;
        assert_eq!(b.index(Level::Pgd, b.kernel_start()), 256);
        assert_eq!(b.index(Level::Pgd, 0xffff_8d7f_fea0_0000), 282);
        assert_eq!(b.index(Level::Pud, 0xffff_ffff_8000_0000), 510);
        let c = Riscv64::SV57;
        assert_eq!(c.index(Level::Pgd, c.kernel_start()), 256);
        assert_eq!(c.index(Level::Pgd, 0xff60_0000_0000_0000), 352);
        assert_eq!(c.index(Level::P4d, 0xffff_ffff_8000_0000), 511);
    }

    #[test]
    fn no_sync_but_boot_preallocation() {
        for m in MODES {
            assert!(m.sync_mask().is_empty());
            assert_eq!(m.sync_method(), SyncMethod::None);
            assert!(!m.split_roots());
            let l = m.layout();
            for kind in m.boot_prealloc() {
                assert!(l.get(*kind).is_some(), "{kind:?}");
            }
            // The fixmap's slot is not preallocated: that is the gap.
            let fixmap = l.get(RegionKind::Fixmap).unwrap();
            let slot = m.index(Level::Pgd, fixmap.start);
            for kind in m.boot_prealloc() {
                let r = l.get(*kind).unwrap();
                let (first, last) = (m.index(Level::Pgd, r.start), m.index(Level::Pgd, r.last));
                assert!(!(first..=last).contains(&slot), "{} {kind:?}", m.name());
            }
        }
    }

    #[test]
    fn leaf_round_trips_with_cache_modes() {
        let prots = [
            Prot::KERNEL,
            Prot::KERNEL_RO,
            Prot::KERNEL_ROX,
            Prot::KERNEL_EXEC,
            Prot::new(Access::WRITE, CacheMode::WriteBack),
            Prot::USER_RW,
            Prot::USER_RO,
            Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack),
        ];
        for m in MODES {
            // Leaves at every real level, with a high PA bit set.
            let top = m.top_level();
            let mut cases = [(Level::Pte, 0x80_1234_5000u64); 5];
            for (n, level) in Level::ALL
                .into_iter()
                .filter(|l| !m.is_folded(*l) && *l >= top)
                .enumerate()
            {
                cases[n] = (level, 0x80_0000_0000_0000 | (1 << m.level_shift(level)));
            }
            for cache in CACHES {
                for base in prots {
                    let prot = base.with_cache(cache);
                    for (level, pa) in cases {
                        let raw = m.encode_leaf(level, PhysAddr(pa), prot);
                        assert_eq!(
                            m.decode(level, raw),
                            Decoded::Leaf(PhysAddr(pa), prot),
                            "{} {level} {prot:?}",
                            m.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn write_through_is_io_as_linux_ioremap_wt() {
        let a = Riscv64::SV48;
        let wt = Prot::KERNEL.with_cache(CacheMode::WriteThrough);
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000_0000), wt);
        assert_eq!(raw & PBMT_MASK, RiscvFlags::PBMT_IO.bits());
        assert_eq!(
            a.decode(Level::Pte, raw),
            Decoded::Leaf(
                PhysAddr(0x1000_0000),
                Prot::KERNEL.with_cache(CacheMode::Uncached)
            )
        );
    }

    #[test]
    fn pte_bits_follow_linux() {
        let a = Riscv64::SV39;
        let f = |raw| RiscvFlags::from_bits_retain(raw);
        // PAGE_KERNEL: V R W A D G, no X, no U, PMA.
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x8020_0000), Prot::KERNEL);
        assert_eq!(raw & PPN_MASK, (0x8020_0000 >> 12) << 10);
        assert_eq!(
            f(raw & 0xff),
            RiscvFlags::VALID
                | RiscvFlags::READ
                | RiscvFlags::WRITE
                | RiscvFlags::ACCESSED
                | RiscvFlags::DIRTY
                | RiscvFlags::GLOBAL
        );
        assert_eq!(raw & PBMT_MASK, 0);
        // Read-only kernel text keeps A and D (Svade never faults on it).
        let rox = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX));
        assert!(rox.contains(RiscvFlags::ACCESSED | RiscvFlags::DIRTY | RiscvFlags::EXEC));
        assert!(!rox.contains(RiscvFlags::WRITE));
        // User: U, A; D only when writable; never G.
        let ro = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RO));
        assert!(ro.contains(RiscvFlags::USER | RiscvFlags::ACCESSED | RiscvFlags::READ));
        assert!(!ro.intersects(RiscvFlags::DIRTY | RiscvFlags::GLOBAL | RiscvFlags::WRITE));
        let rw = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RW));
        assert!(rw.contains(RiscvFlags::DIRTY | RiscvFlags::WRITE));
        // ioremap_wc: NC; ioremap: IO.
        let wc = Prot::KERNEL.with_cache(CacheMode::WriteCombining);
        let wc = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wc);
        assert_eq!(wc & PBMT_MASK, 1 << 61);
        let io = Prot::KERNEL.with_cache(CacheMode::Uncached);
        let io = a.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), io);
        assert_eq!(io & PBMT_MASK, 2 << 61);
        // A superpage's PPN is aligned to its size.
        let big = a.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
        assert_eq!(pa_of(big), 0x4000_0000);
    }

    #[test]
    fn table_entries() {
        for m in MODES {
            for level in [m.top_level(), Level::Pmd] {
                for user in [false, true] {
                    let t = m.encode_table(level, PhysAddr(0x8000_5000), user);
                    // V only: R = W = X = 0, and U, A, D, G clear.
                    assert_eq!(t & 0x3ff, RiscvFlags::VALID.bits());
                    assert_eq!(m.decode(level, t), Decoded::Table(PhysAddr(0x8000_5000)));
                }
            }
        }
    }

    #[test]
    fn faulting_entries_decode_as_none() {
        let a = Riscv64::SV48;
        let v = RiscvFlags::VALID.bits();
        assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
        // A pointer at the last level.
        assert_eq!(a.decode(Level::Pte, ppn(0x5000) | v), Decoded::None);
        // W without R.
        let w = RiscvFlags::WRITE.bits();
        assert_eq!(a.decode(Level::Pte, ppn(0x5000) | v | w), Decoded::None);
        // Reserved bits, N, PBMT 3, PBMT in a pointer.
        let leaf = a.encode_leaf(Level::Pte, PhysAddr(0x5000), Prot::KERNEL);
        assert_eq!(a.decode(Level::Pte, leaf | 1 << 54), Decoded::None);
        assert_eq!(a.decode(Level::Pte, leaf | 1 << 63), Decoded::None);
        assert_eq!(a.decode(Level::Pte, leaf | PBMT_MASK), Decoded::None);
        let table = a.encode_table(Level::Pmd, PhysAddr(0x5000), false);
        assert_eq!(a.decode(Level::Pmd, table | 1 << 61), Decoded::None);
        // A misaligned megapage.
        let r = RiscvFlags::READ.bits();
        assert_eq!(a.decode(Level::Pmd, ppn(0x20_1000) | v | r), Decoded::None);
        assert!(matches!(
            a.decode(Level::Pmd, ppn(0x20_0000) | v | r),
            Decoded::Leaf(PhysAddr(0x20_0000), _)
        ));
    }

    #[test]
    fn layout_sorted_and_in_the_kernel_half() {
        for m in MODES {
            let l = m.layout();
            for r in l.regions {
                assert!(r.start >= m.kernel_start(), "{} {}", m.name(), r.name);
                assert!(r.start <= r.last);
                assert!(m.is_canonical(VirtAddr(r.start)) && m.is_canonical(VirtAddr(r.last)));
            }
            for w in l.regions.windows(2) {
                assert!(w[0].last < w[1].start, "{} {}", m.name(), w[1].name);
            }
            let vm = l.get(RegionKind::Vmalloc).unwrap();
            let dm = l.get(RegionKind::DirectMap).unwrap();
            // VMALLOC_END = PAGE_OFFSET - 1.
            assert_eq!(vm.last + 1, dm.start);
            assert_eq!(l.get(RegionKind::KernelText).unwrap().last, u64::MAX);
        }
        let sizes = |m: Riscv64| {
            let l = m.layout();
            [
                RegionKind::Vmemmap,
                RegionKind::Vmalloc,
                RegionKind::DirectMap,
            ]
            .map(|k| l.get(k).unwrap().size())
        };
        assert_eq!(sizes(Riscv64::SV39), [4 << 30, 64 << 30, 128 << 30]);
        assert_eq!(sizes(Riscv64::SV48), [2 << 40, 32 << 40, 64 << 40]);
        // "32 PB" in the document; the direct map stops one top-level slot
        // short, where the KASAN shadow begins.
        assert_eq!(sizes(Riscv64::SV57), [1 << 50, 16 << 50, 0x7f << 48]);
    }
}
