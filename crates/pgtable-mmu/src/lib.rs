//! An independent software MMU, written from the hardware manuals, used to
//! check a page-table library.
//!
//! The point of this crate is *independence*: it does not depend on the
//! library it checks (`pgtable`), shares no code, constants or types with it,
//! and follows the architecture manual rather than any kernel's helpers. A
//! bug in the library therefore cannot hide behind the same bug in the
//! checker.
//!
//! Contents:
//! - [`PhysBus`]: the physical memory the MMU reads paging-structure entries
//!   from and writes Accessed/Dirty bits into.
//! - [`Access`], [`Mode`], [`FaultKind`]: architecture-neutral vocabulary,
//!   shared by every MMU module.
//! - [`Mmu`], [`Roots`], [`Xlat`], [`Leaf`], [`Fault`]: an
//!   architecture-neutral view so a simulator can drive any model uniformly.
//! - [`x86_64`]: 4-level and 5-level paging per Intel SDM vol. 3A ch. 4
//!   ("Paging"), sections 4.5 to 4.10, plus a CPU helper that puts a TLB in
//!   front of the walker.
//! - [`x86_32`]: 32-bit and PAE paging (SDM vol. 3A 4.3, 4.4).
//! - [`arm64`]: VMSAv8-64 stage 1, 4 KiB granule, EL1&0 regime (Arm ARM
//!   DDI 0487, chapter D8 "The AArch64 Virtual Memory System Architecture").
//! - [`arm32`]: ARMv7-A short-descriptor format (Arm ARM DDI 0406C, B3.5).
//! - [`riscv64`]: Sv39/Sv48/Sv57 (RISC-V privileged spec, "Supervisor-Level
//!   ISA", sections on Sv32/Sv39/Sv48/Sv57 virtual memory).
//! - [`tlb`]: an architecture-neutral TLB model (SDM 4.10.2 for x86).
//!
//! The crate is `#![no_std]` (it is also linked into a bare-metal kernel) and
//! uses `alloc` only for the TLB's storage. There is no `unsafe` code.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod arm32;
pub mod arm64;
mod neutral;
pub mod riscv64;
pub mod tlb;
pub mod x86_32;
pub mod x86_64;

pub use neutral::{Fault, Leaf, Mmu, Roots, Xlat};

#[cfg(test)]
mod test_util;

/// Physical memory as seen by the page walker.
///
/// The MMU reads paging-structure entries through this trait and sets the
/// Accessed and Dirty flags through it (SDM 4.8). Methods take `&self`
/// because a simulated machine shares memory between CPUs: implementors use
/// interior mutability (atomics, cells, locks).
///
/// Addresses are byte addresses. x86-64 entries are 8-byte aligned
/// little-endian quadwords. Architectures with 32-bit entries (x86 32-bit
/// paging, riscv Sv32) can use [`PhysBus::read_u32`], whose default reads the
/// enclosing aligned quadword.
pub trait PhysBus {
    /// Reads the little-endian quadword at `pa` (8-byte aligned).
    fn read_u64(&self, pa: u64) -> u64;

    /// Writes the little-endian quadword at `pa` (8-byte aligned).
    fn write_u64(&self, pa: u64, value: u64);

    /// Sets `bits` in the quadword at `pa`, writing only if that changes it.
    ///
    /// The hardware updates A/D flags with a locked read-modify-write (SDM
    /// 4.8), so a racing store to the other bits of the entry is never lost.
    /// The default is a plain read-then-write, which is enough for a
    /// single-threaded simulator; buses backed by atomics should override it
    /// with `fetch_or` so the update is atomic as on hardware.
    fn set_bits_u64(&self, pa: u64, bits: u64) {
        let old = self.read_u64(pa);
        if old & bits != bits {
            self.write_u64(pa, old | bits);
        }
    }

    /// Reads the little-endian doubleword at `pa` (4-byte aligned).
    ///
    /// Reserved for 32-bit-entry paging modes. The default extracts it from
    /// the enclosing aligned quadword.
    fn read_u32(&self, pa: u64) -> u32 {
        let word = self.read_u64(pa & !7);
        let shift = (pa & 4) * 8;
        // Truncation is the point: take the selected half of the quadword.
        (word >> shift) as u32
    }

    /// Writes the little-endian doubleword at `pa` (4-byte aligned).
    ///
    /// The default is a read-modify-write of the enclosing aligned quadword
    /// that preserves its other half.
    fn write_u32(&self, pa: u64, value: u32) {
        let qa = pa & !7;
        let shift = (pa & 4) * 8;
        let word = self.read_u64(qa);
        let word = (word & !(0xffff_ffff << shift)) | (u64::from(value) << shift);
        self.write_u64(qa, word);
    }

    /// Sets `bits` in the doubleword at `pa`, writing only if that changes
    /// it: the A/D update of a 4-byte entry (SDM 4.8 for 32-bit paging).
    /// Same atomicity remarks as [`PhysBus::set_bits_u64`].
    fn set_bits_u32(&self, pa: u64, bits: u32) {
        let old = self.read_u32(pa);
        if old & bits != bits {
            self.write_u32(pa, old | bits);
        }
    }

    /// Clears `bits` in the quadword at `pa`, writing only if that changes
    /// it. Used by the arm64 hardware dirty-state update, which clears
    /// AP\[2\] (Arm ARM D8.5, "Hardware management of dirty state"); same
    /// atomicity remarks as
    /// [`PhysBus::set_bits_u64`].
    fn clear_bits_u64(&self, pa: u64, bits: u64) {
        let old = self.read_u64(pa);
        if old & bits != 0 {
            self.write_u64(pa, old & !bits);
        }
    }
}

/// A shared reference to a bus is a bus, so `&dyn PhysBus` can be handed to
/// the walkers that take `&impl PhysBus`.
impl<B: PhysBus + ?Sized> PhysBus for &B {
    fn read_u64(&self, pa: u64) -> u64 {
        (**self).read_u64(pa)
    }
    fn write_u64(&self, pa: u64, value: u64) {
        (**self).write_u64(pa, value)
    }
    fn set_bits_u64(&self, pa: u64, bits: u64) {
        (**self).set_bits_u64(pa, bits)
    }
    fn read_u32(&self, pa: u64) -> u32 {
        (**self).read_u32(pa)
    }
    fn write_u32(&self, pa: u64, value: u32) {
        (**self).write_u32(pa, value)
    }
    fn set_bits_u32(&self, pa: u64, bits: u32) {
        (**self).set_bits_u32(pa, bits)
    }
    fn clear_bits_u64(&self, pa: u64, bits: u64) {
        (**self).clear_bits_u64(pa, bits)
    }
}

/// The kind of memory access being translated.
///
/// Shared by all MMU models. On x86 it determines the W/R and I/D bits of
/// the page-fault error code (SDM 4.7) and which rights apply (SDM 4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

/// The privilege of the access (SDM 4.6: "supervisor-mode" accesses are
/// those made at CPL < 3, "user-mode" at CPL = 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Kernel (CPL 0-2 on x86, EL1 on arm64, S-mode on riscv).
    Supervisor,
    /// User (CPL 3 on x86, EL0 on arm64, U-mode on riscv).
    User,
}

/// Why a translation failed, in architecture-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// An entry on the walk was not present (x86: P = 0; SDM 4.7 error-code
    /// bit P = 0).
    NotPresent,
    /// The translation exists but its rights forbid the access (SDM 4.6).
    Protection,
    /// A present entry had a reserved bit set (SDM 4.5, table 4-15 onward;
    /// error-code bit RSVD = 1).
    ReservedBit,
    /// The address is not canonical. On x86 this is a #GP (or #SS), not a
    /// #PF, and no walk happens (SDM vol. 1 3.3.7.1; vol. 3A 4.5). On
    /// riscv64 it is a page fault raised before the walk (bits above the VA
    /// width must equal its top bit). arm64 reports an address outside both
    /// TTBR ranges as a translation fault ([`FaultKind::NotPresent`]), as
    /// the architecture does.
    NonCanonical,
    /// arm64 Access flag fault: a leaf with AF = 0 without hardware
    /// Access-flag management (Arm ARM D8.5, "Hardware management of the
    /// Access flag"). Also used for the riscv64
    /// Svade page fault on A = 0, or D = 0 for a store.
    AccessFlag,
    /// arm64 Address size fault: a table or output address, or the TTBR
    /// base, wider than the configured physical-address size (Arm ARM
    /// DDI 0487, D8 "MMU fault types: Address size fault").
    AddressSize,
}

impl FaultKind {
    /// A short human-readable name, e.g. for fault reports.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::NotPresent => "not present",
            FaultKind::Protection => "protection",
            FaultKind::ReservedBit => "reserved bit",
            FaultKind::NonCanonical => "non-canonical",
            FaultKind::AccessFlag => "access flag",
            FaultKind::AddressSize => "address size",
        }
    }
}
