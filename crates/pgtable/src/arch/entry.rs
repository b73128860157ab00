//! The entry format of a paging mode: how a table pointer and a leaf are
//! written and read back (Linux's `pfn_pte()`, `pmd_populate()`,
//! `pte_pfn()`, `pte_pgprot()` and the `*_leaf()` tests).

use crate::addr::PhysAddr;
use crate::level::Level;
use crate::prot::Prot;

/// What an entry holds, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not present.
    None,
    /// Points at the table of the next real level.
    Table(PhysAddr),
    /// Maps a page (or block) at this level.
    Leaf(PhysAddr, Prot),
}

/// How entries of a paging mode are encoded, level by level.
pub trait EntryFormat {
    /// Whether a leaf may be written at this real level (Linux's
    /// `pud_leaf()`/`pmd_leaf()` being possible there at all).
    fn leaf_allowed(&self, level: Level) -> bool;
    /// Encode a table entry at real level `level` pointing at `table`.
    /// `user` says the table belongs to a user address space.
    fn encode_table(&self, level: Level, table: PhysAddr, user: bool) -> u64;
    /// Encode a leaf at real level `level`. The caller has checked
    /// [`leaf_allowed`](EntryFormat::leaf_allowed) and alignment.
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64;
    /// Decode an entry of real level `level`.
    fn decode(&self, level: Level, raw: u64) -> Decoded;
    /// The address part of the leaf of real level `level` for `pa`, when
    /// the format writes a leaf as the address part or'ed into the leaf of
    /// the same protection for address 0, the address part being linear
    /// in the frame number: for every `prot` and every `pa` aligned to
    /// `level_size(level)` below `phys_limit()`,
    /// `encode_leaf(level, pa, prot) == encode_leaf(level, PhysAddr(0), prot) | bits(pa)`
    /// and `bits(pa) == pa / level_size(level) * bits(level_size(level))`.
    /// The map walk then writes a run of leaves with one encoding and an
    /// addition per entry (`pfn_pte()` of the next frame, as Linux's
    /// `set_ptes()` advances a PTE by `1 << PFN_PTE_SHIFT`). `None`, the
    /// default: each leaf is encoded in full.
    #[inline]
    fn leaf_addr_bits(&self, _level: Level, _pa: PhysAddr) -> Option<u64> {
        None
    }
    /// Whether `raw` is a leaf of real level `level`: exactly
    /// `matches!(self.decode(level, raw), Decoded::Leaf(..))` for every
    /// `raw`, as a test of a few bits (`tests/is_leaf.rs` holds each mode
    /// to it). The unmap walk's check runs it over every entry it is asked
    /// to clear. The default decodes.
    #[inline]
    fn is_leaf(&self, level: Level, raw: u64) -> bool {
        matches!(self.decode(level, raw), Decoded::Leaf(..))
    }
    /// The bits of an entry of real level `level` that
    /// [`is_leaf`](EntryFormat::is_leaf) reads: two entries equal in these
    /// bits are both leaves or both not. The unmap walk's check then tests
    /// a run of entries with an xor and an or each against its first, and
    /// only a run that differs there entry by entry. The default, every
    /// bit, is true of any format.
    #[inline]
    fn leaf_bits(&self, _level: Level) -> u64 {
        u64::MAX
    }
}
