//! The riscv64 entry format.

use super::*;
use crate::addr::PhysAddr;
use crate::arch::{Decoded, EntryFormat};
use crate::prot::{Access, CacheMode, Prot};

impl EntryFormat for Riscv64 {
    /// Any level may hold a leaf (a superpage of its size, which must be
    /// aligned to it).
    #[inline]
    fn leaf_allowed(&self, _level: Level) -> bool {
        true
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

    /// The PPN field (`pfn << _PAGE_PFN_SHIFT`), aligned to the superpage.
    #[inline]
    fn leaf_addr_bits(&self, level: Level, pa: PhysAddr) -> Option<u64> {
        let size = 1u64 << (12 + 9 * self.spec_level(level));
        Some(ppn(pa.0 & !(size - 1)))
    }

    /// What the walk does with the entry: V = 0, a malformed entry (W
    /// without R, reserved bits, PBMT 3 or PBMT in a pointer), a pointer at
    /// the PTE level and a misaligned superpage all fault and decode as
    /// [`Decoded::None`]; R or X makes a leaf; otherwise a table.
    #[inline(always)]
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

    /// [`decode`](Self::decode)'s leaf as three tests on the bits: V set,
    /// no reserved bit and a superpage's PPN aligned; R, W, X a leaf's
    /// (R or X, and no W without R); PBMT not 3.
    #[inline]
    fn is_leaf(&self, level: Level, raw: u64) -> bool {
        let misaligned = ((1u64 << (9 * self.spec_level(level))) - 1) << 10;
        let plain =
            raw & (RiscvFlags::VALID.bits() | RESERVED | misaligned) == RiscvFlags::VALID.bits();
        let rwx = LEAF_VRWX >> (raw & 0xf) & 1 != 0;
        plain & rwx & (raw & PBMT_MASK != PBMT_MASK)
    }

    /// Every bit but the PPN's, and the PPN bits a superpage of `level`
    /// must have clear.
    #[inline]
    fn leaf_bits(&self, level: Level) -> u64 {
        !PPN_MASK | ((1u64 << (9 * self.spec_level(level))) - 1) << 10
    }
}

/// Bit `n` set where the low four bits `n` (V, R, W, X from bit 0) are a
/// leaf's: V, R or X, and not W without R.
const LEAF_VRWX: u16 = {
    let mut bits = 0;
    let mut n = 0;
    while n < 16 {
        let (v, r, w, x) = (n & 1 != 0, n & 2 != 0, n & 4 != 0, n & 8 != 0);
        if v && (r || x) && !(w && !r) {
            bits |= 1 << n;
        }
        n += 1;
    }
    bits
};
