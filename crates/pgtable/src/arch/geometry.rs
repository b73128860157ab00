//! The shape of a paging mode: its levels, their widths and what an address
//! is made of (Linux's `PGDIR_SHIFT`, `PTRS_PER_*`, `pgtable-nop4d.h` and
//! friends, `__VIRTUAL_MASK_SHIFT`, `__PHYSICAL_MASK_SHIFT`).

use crate::addr::VirtAddr;
use crate::level::Level;

/// Whether bits 63 down to `bits - 1` of `va` are all equal: `va` is the
/// sign extension of its low `bits` bits (x86-64's canonical form, riscv's
/// "bits 63 down to VA width all equal", arm64's TTBR0/TTBR1 ranges with
/// `bits` one wider than the range).
#[inline]
#[must_use]
pub const fn sign_extends(va: u64, bits: u32) -> bool {
    let unused = 64 - bits;
    (((va << unused) as i64) >> unused) as u64 == va
}

/// The geometry of a paging mode.
///
/// Levels are the five logical [`Level`]s; a level whose
/// [`level_bits`](PagingGeometry::level_bits) is 0 is folded into its
/// parent. The entry that a chain of folded levels shares *belongs* to the
/// lowest level of the chain: with x86-64 4-level paging the top-level
/// hardware entry is the P4D entry and the PGD level is a pass-through
/// (`pgd_none()` is always false), exactly as `pgtable-nop4d.h` arranges
/// it.
pub trait PagingGeometry {
    /// A short name for tables and logs ("x86_64/4-level").
    fn name(&self) -> &'static str;
    /// Number of index bits of a level (`PTRS_PER_*` is `1 << bits`); 0
    /// when folded.
    fn level_bits(&self, level: Level) -> u32;
    /// The lowest address bit that selects an entry at this level
    /// (`PGDIR_SHIFT`, `P4D_SHIFT`, …). A folded level reports its parent's
    /// shift, so `*_addr_end()` spans the parent.
    fn level_shift(&self, level: Level) -> u32;
    /// Bytes per entry (8, or 4 for 32-bit formats).
    #[inline]
    fn entry_size(&self) -> u64 {
        8
    }
    /// Width of a virtual address in bits.
    fn va_bits(&self) -> u32;
    /// Width of a physical address in bits.
    fn phys_bits(&self) -> u32;
    /// Whether `va` is canonical (sign-extended where the mode requires
    /// it). The default is the sign extension of the top
    /// [`va_bits`](PagingGeometry::va_bits) bit, as x86-64 and riscv64
    /// require.
    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        sign_extends(va.0, self.va_bits())
    }

    /// Whether `level` is folded into its parent.
    #[inline]
    fn is_folded(&self, level: Level) -> bool {
        self.level_bits(level) == 0
    }
    /// Whether `level` only passes through to a folded child: its "entry" is
    /// the child's, so it is never none and populating it does nothing.
    #[inline]
    fn is_passthrough(&self, level: Level) -> bool {
        match level.next() {
            Some(child) => self.is_folded(child),
            None => false,
        }
    }
    /// Bytes of the table indexed by `level`'s bits (a level that is not
    /// folded; the root is indexed by [`Level::Pgd`]): 4 KiB for most, 32
    /// for x86-32 PAE's PDPT, 16 KiB and 1 KiB for arm32's short-descriptor
    /// first and second level. The table's alignment is its size.
    #[inline]
    fn table_bytes(&self, level: Level) -> u64 {
        self.entry_size() << self.level_bits(level)
    }
    /// Bytes one entry of `level` maps (`PGDIR_SIZE` … `PAGE_SIZE`).
    #[inline]
    fn level_size(&self, level: Level) -> u64 {
        1u64 << self.level_shift(level)
    }
    /// Index of `va` in a table of `level` (0 for a folded level).
    #[inline]
    fn index(&self, level: Level, va: u64) -> u64 {
        (va >> self.level_shift(level)) & ((1u64 << self.level_bits(level)) - 1)
    }
    /// Number of real (not folded) levels.
    #[inline]
    fn levels(&self) -> usize {
        Level::ALL.iter().filter(|l| !self.is_folded(**l)).count()
    }
    /// The largest physical address + 1.
    #[inline]
    fn phys_limit(&self) -> u64 {
        1u64 << self.phys_bits()
    }
    /// The real level of the root table (the first level that is not a
    /// pass-through).
    #[inline]
    fn top_level(&self) -> Level {
        self.entry_level(Level::Pgd)
    }
    /// The real level whose entry `level` stands for: `level` itself, or,
    /// for a pass-through level, the lowest level of its folded chain.
    #[inline]
    fn entry_level(&self, level: Level) -> Level {
        let mut l = level;
        while self.is_passthrough(l) {
            l = l.next().unwrap_or(Level::Pte);
        }
        l
    }
}
