//! arm32: the ARMv7-A short-descriptor translation table format.
//!
//! Written from the ARM Architecture Reference Manual ARMv7-A and ARMv7-R
//! edition (DDI 0406C), B3.5 "Short-descriptor translation table format"
//! (B3.5.1 descriptor formats, B3.5.4 selecting TTBR0 or TTBR1 with
//! TTBCR.N, B3.5.5 the translation flow), B3.7 "Memory access control"
//! (B3.7.1 access permissions with SCTLR.AFE = 0, B3.7.2 execute-never,
//! B3.7.3 domains) and B3.12 "Exception reporting" (fault kinds and
//! levels).
//!
//! Levels: 1 is the first-level table (4096 word entries, 1 MiB each:
//! sections, 16 MiB supersections, or page-table pointers), 2 the
//! second-level table (256 word entries: 4 KiB small pages, 64 KiB large
//! pages). Faults are reported as the architecture's "section" (level 1)
//! or "page" (level 2) faults.
//!
//! Out of scope: the long-descriptor (LPAE) format, SCTLR.AFE = 1 (access
//! flag), SCTLR.TRE remapping, WXN/UWXN, TTBCR.PD0/PD1, ASIDs, and memory
//! attributes beyond reporting the raw descriptor. Domains are modelled via
//! DACR (client/manager/no access).

pub mod desc;
mod enumerate;
mod walk;

#[cfg(test)]
pub(crate) mod build;

/// Which translation table base register a VA uses (B3.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Half {
    /// TTBR0: VA\[31:32-N\] all zero (every VA when N = 0).
    Lower,
    /// TTBR1: the rest (only when N > 0).
    Upper,
}

/// The translation-relevant CP15 state (TTBCR.N, DACR, features).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm32Mmu {
    /// TTBCR.N, 0 to 7: TTBR0 covers `[0, 2^(32-N))` with a first-level
    /// table of `4096 >> N` entries; TTBR1 covers the rest. So N = 1 is a
    /// 2G/2G split and N = 2 gives TTBR0 only the bottom 1 GiB (TTBR1 from
    /// 0x4000_0000): the short-descriptor format cannot express a 3G/1G
    /// user/kernel split.
    pub ttbcr_n: u8,
    /// DACR: two bits per domain: 0b00 no access (domain fault), 0b01
    /// client (permissions checked), 0b11 manager (not checked), 0b10
    /// reserved (treated as no access).
    pub dacr: u32,
    /// The Privileged execute-never bit is implemented (Large Physical
    /// Address Extension cores): bit 2 of page-table descriptors and bit 0
    /// of sections. Without it, `bits[1:0] = 0b11` at level 1 is reserved.
    pub pxn: bool,
    /// Supersections are implemented (optional in ARMv7).
    pub supersections: bool,
}

impl Default for Arm32Mmu {
    fn default() -> Self {
        Self::new()
    }
}

impl Arm32Mmu {
    /// TTBCR.N = 0 (TTBR0 only), every domain a client, PXN and
    /// supersections implemented.
    pub const fn new() -> Self {
        Arm32Mmu {
            ttbcr_n: 0,
            dacr: 0x5555_5555,
            pxn: true,
            supersections: true,
        }
    }

    /// TTBCR.N = `n` (0 to 7): TTBR1 from `2^(32-n)`.
    pub const fn with_n(n: u8) -> Self {
        Arm32Mmu {
            ttbcr_n: n,
            ..Self::new()
        }
    }

    /// First VA translated through TTBR1 (2^32 when N = 0: none).
    pub const fn boundary(&self) -> u64 {
        1 << (32 - self.ttbcr_n as u32)
    }

    /// Which TTBR translates `va` (a 32-bit VA).
    pub const fn half(&self, va: u64) -> Half {
        if va < self.boundary() {
            Half::Lower
        } else {
            Half::Upper
        }
    }

    /// Physical address of the first-level table from a TTBR value:
    /// TTBR0 bits \[31:14-N\], TTBR1 bits \[31:14\] (B4.1.154, B4.1.155);
    /// the low bits (cacheability, shareability) are ignored.
    pub const fn l1_base(&self, ttbr: u64, half: Half) -> u64 {
        let align_bits = match half {
            Half::Lower => 14 - self.ttbcr_n as u32,
            Half::Upper => 14,
        };
        ttbr & 0xffff_ffff & !((1 << align_bits) - 1)
    }

    /// The domain access control field of `domain`.
    pub const fn domain_access(&self, domain: u32) -> u32 {
        (self.dacr >> (2 * domain)) & 3
    }
}

#[cfg(test)]
mod tests;
