//! The x86_64 entry format.

use super::*;
use crate::addr::PhysAddr;
use crate::arch::{Decoded, EntryFormat};
use crate::prot::{Access, Prot};

impl EntryFormat for X86_64 {
    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(level, Level::Pud | Level::Pmd | Level::Pte)
    }

    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, user: bool) -> u64 {
        let mut f = KERNEL_TABLE;
        if user {
            f |= X86Flags::USER;
        }
        (table.0 & ADDR_MASK) | f.bits()
    }

    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let mut f = X86Flags::PRESENT | X86Flags::ACCESSED;
        let a = prot.access;
        if a.contains(Access::WRITE) {
            f |= X86Flags::WRITABLE | X86Flags::DIRTY;
        }
        if a.contains(Access::USER) {
            f |= X86Flags::USER;
        }
        if a.contains(Access::GLOBAL) {
            f |= X86Flags::GLOBAL;
        }
        if !a.contains(Access::EXEC) {
            f |= X86Flags::NO_EXECUTE;
        }
        let idx = Self::cache_index(prot.cache);
        let mut raw = f.bits() | (pa.0 & Self::leaf_addr_mask(level));
        raw |= ((idx & 1) * X86Flags::PWT.bits()) | (((idx >> 1) & 1) * X86Flags::PCD.bits());
        let pat = (idx >> 2) & 1;
        if level == Level::Pte {
            raw |= pat * PAT_SMALL;
        } else {
            raw |= X86Flags::HUGE.bits() | (pat * X86Flags::PAT_LARGE.bits());
        }
        raw
    }

    /// The address bits of the entry: the address itself, aligned.
    #[inline]
    fn leaf_addr_bits(&self, level: Level, pa: PhysAddr) -> Option<u64> {
        Some(pa.0 & Self::leaf_addr_mask(level))
    }

    #[inline(always)]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        let f = X86Flags::from_bits_retain(raw);
        if !f.contains(X86Flags::PRESENT) {
            return Decoded::None;
        }
        let leaf = level == Level::Pte || (self.leaf_allowed(level) && f.contains(X86Flags::HUGE));
        if !leaf {
            return Decoded::Table(PhysAddr(raw & ADDR_MASK));
        }
        let mut access = Access::empty();
        access.set(Access::WRITE, f.contains(X86Flags::WRITABLE));
        access.set(Access::USER, f.contains(X86Flags::USER));
        access.set(Access::GLOBAL, f.contains(X86Flags::GLOBAL));
        access.set(Access::EXEC, !f.contains(X86Flags::NO_EXECUTE));
        let pat = if level == Level::Pte {
            raw & PAT_SMALL != 0
        } else {
            f.contains(X86Flags::PAT_LARGE)
        };
        let idx = u64::from(f.contains(X86Flags::PWT))
            | u64::from(f.contains(X86Flags::PCD)) << 1
            | u64::from(pat) << 2;
        let pa = PhysAddr(raw & Self::leaf_addr_mask(level));
        Decoded::Leaf(pa, Prot::new(access, Self::cache_of(idx)))
    }

    /// P at the PTE level; P and PS where a level may hold a leaf
    /// (`pmd_leaf()`, `pud_leaf()`); never elsewhere, as [`decode`](Self::decode).
    #[inline]
    fn is_leaf(&self, level: Level, raw: u64) -> bool {
        let need = if level == Level::Pte {
            X86Flags::PRESENT.bits()
        } else if self.leaf_allowed(level) {
            (X86Flags::PRESENT | X86Flags::HUGE).bits()
        } else {
            return false;
        };
        raw & need == need
    }

    /// P and PS: all [`is_leaf`](Self::is_leaf) reads.
    #[inline]
    fn leaf_bits(&self, _level: Level) -> u64 {
        (X86Flags::PRESENT | X86Flags::HUGE).bits()
    }
}
