//! What a CPU loads to run on a set of tables: CR3, TTBR0/TTBR1, satp.
//!
//! [`PageTables::activation`](crate::PageTables::activation) gives the
//! values for an address space with an address-space identifier (x86 PCID,
//! arm ASID, riscv ASID), checked against what the architecture can hold;
//! the caller writes them to the registers and does the TLB maintenance its
//! ASID policy needs.

use crate::addr::PhysAddr;
use crate::error::{Error, Result};

/// Register values that make a CPU translate through a space's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Activation {
    /// x86: CR3 = the root's address, with the PCID in bits 11:0 (x86-64;
    /// the PCID is 0 without CR4.PCIDE and on 32-bit paging).
    X86 {
        /// The CR3 value.
        cr3: u64,
    },
    /// arm64: TTBR0_EL1 = the space's root with the ASID in bits 63:48
    /// (TCR_EL1.A1 = 0: the ASID comes from TTBR0, as Linux sets it), and
    /// TTBR1_EL1 = the kernel root. With 52-bit addresses (FEAT_LPA2) the
    /// table address bits 51:48 sit in bits 5:2.
    Arm64 {
        /// The TTBR0_EL1 value.
        ttbr0: u64,
        /// The TTBR1_EL1 value.
        ttbr1: u64,
    },
    /// riscv: satp = MODE (8 Sv39, 9 Sv48, 10 Sv57) in bits 63:60, the ASID
    /// in bits 59:44 and the root's page number in bits 43:0.
    Riscv {
        /// The satp value.
        satp: u64,
    },
    /// arm (short descriptors): TTBR0 = the root's address (16 KiB
    /// aligned); the kernel ORs in its walk cacheability bits (IRGN, RGN,
    /// S, NOS), which are a property of its memory, not of the tables. The
    /// ASID goes to CONTEXTIDR bits 7:0.
    Arm32 {
        /// The TTBR0 value, without walk attributes.
        ttbr0: u32,
        /// The CONTEXTIDR value.
        contextidr: u32,
    },
}

/// x86 CR3 for `root` with `pcid` (`pcid_bits` wide: 12 on x86-64, 0 on
/// 32-bit paging), the root below `1 << addr_bits` (32 on 32-bit paging,
/// where CR3 is a 32-bit register).
pub(crate) fn x86(
    root: PhysAddr,
    pcid: u16,
    pcid_bits: u32,
    align: u64,
    addr_bits: u32,
) -> Result<Activation> {
    if u64::from(pcid) >> pcid_bits != 0 {
        return Err(Error::UnsupportedMode("PCID out of range for this mode"));
    }
    if root.0 >> addr_bits != 0 {
        return Err(Error::PhysTooLarge(root));
    }
    if !root.is_aligned(align) {
        return Err(Error::Misaligned(root.0));
    }
    Ok(Activation::X86 {
        cr3: root.0 | u64::from(pcid),
    })
}

/// The TTBR base-address field for a table at `table`.
fn ttbr_baddr(table: PhysAddr, lpa2: bool) -> u64 {
    if lpa2 {
        // BADDR[47:6] in place, BADDR[51:48] in bits 5:2.
        (table.0 & 0x0000_ffff_ffff_ffc0) | ((table.0 >> 48) & 0xf) << 2
    } else {
        table.0 & 0x0000_ffff_ffff_fffe
    }
}

/// arm64 TTBR0/TTBR1.
pub(crate) fn arm64(root: PhysAddr, kernel: PhysAddr, asid: u16, lpa2: bool) -> Result<Activation> {
    for t in [root, kernel] {
        if !t.is_aligned(64) {
            return Err(Error::Misaligned(t.0));
        }
    }
    Ok(Activation::Arm64 {
        ttbr0: ttbr_baddr(root, lpa2) | u64::from(asid) << 48,
        ttbr1: ttbr_baddr(kernel, lpa2),
    })
}

/// riscv satp for `mode` (8, 9, 10).
pub(crate) fn riscv(root: PhysAddr, asid: u16, mode: u64) -> Result<Activation> {
    if !root.is_aligned(4096) {
        return Err(Error::Misaligned(root.0));
    }
    Ok(Activation::Riscv {
        satp: mode << 60 | u64::from(asid) << 44 | (root.0 >> 12) & ((1 << 44) - 1),
    })
}

/// arm TTBR0 and CONTEXTIDR.
pub(crate) fn arm32(root: PhysAddr, asid: u16) -> Result<Activation> {
    if asid > 0xff {
        return Err(Error::UnsupportedMode("arm ASIDs are 8 bits"));
    }
    if !root.is_aligned(16 << 10) || root.0 >> 32 != 0 {
        return Err(Error::Misaligned(root.0));
    }
    Ok(Activation::Arm32 {
        ttbr0: root.0 as u32,
        contextidr: u32::from(asid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_from_the_manuals() {
        // CR3: address | PCID (SDM vol. 3, 4.5 with CR4.PCIDE = 1).
        assert_eq!(
            x86(PhysAddr(0x12_3456_7000), 0xabc, 12, 4096, 52),
            Ok(Activation::X86 {
                cr3: 0x12_3456_7abc
            })
        );
        assert!(x86(PhysAddr(0x1000), 0x1000, 12, 4096, 52).is_err());
        assert!(
            x86(PhysAddr(0x1000), 1, 0, 32, 32).is_err(),
            "no PCID on 32-bit"
        );
        assert!(
            x86(PhysAddr(0x1_0000_0020), 0, 0, 32, 32).is_err(),
            "CR3 is 32 bits on 32-bit paging"
        );
        // TTBR: ASID in 63:48 (Arm ARM D19, TTBR0_EL1).
        assert_eq!(
            arm64(PhysAddr(0x4000_1000), PhysAddr(0x4000_2000), 0x42, false),
            Ok(Activation::Arm64 {
                ttbr0: 0x0042_0000_4000_1000,
                ttbr1: 0x4000_2000
            })
        );
        // LPA2: address bits 51:48 in TTBR bits 5:2.
        let Ok(Activation::Arm64 { ttbr0, .. }) =
            arm64(PhysAddr(0x000f_0000_4000_0080), PhysAddr(0x1000), 0, true)
        else {
            panic!()
        };
        assert_eq!(ttbr0, 0x4000_0080 | 0xf << 2);
        // satp: MODE 63:60, ASID 59:44, PPN 43:0 (privileged spec 4.1.11).
        assert_eq!(
            riscv(PhysAddr(0x8020_3000), 7, 8),
            Ok(Activation::Riscv {
                satp: 8 << 60 | 7 << 44 | 0x80203
            })
        );
        assert!(arm32(PhysAddr(0x4000_4000), 1).is_ok());
        assert!(arm32(PhysAddr(0x4000_1000), 1).is_err(), "16 KiB aligned");
        assert!(arm32(PhysAddr(0x4000_4000), 256).is_err());
    }
}
