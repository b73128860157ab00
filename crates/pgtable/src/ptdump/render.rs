//! The line formats: x86's `note_page()` + `printk_prot()`, arm64's and
//! arm's `note_page()` + `dump_prot()`, riscv's `dump_addr()` +
//! `dump_prot()`.

use super::model::{arm, arm64, riscv, x86};
use super::{Format, RangeLine};
use core::fmt;

/// `%9lu%c` of a size: divided by 1024 while it stays whole. x86 counts
/// bytes (`"BKMGTPE"`), the others KiB (`"KMGTPE"`).
fn size(f: &mut fmt::Formatter<'_>, mut delta: u64, units: &[u8]) -> fmt::Result {
    let mut u = 0;
    while delta & 1023 == 0 && u + 1 < units.len() {
        delta >>= 10;
        u += 1;
    }
    write!(f, "{delta:>9}{}", char::from(units[u]))
}

fn addrs(f: &mut fmt::Formatter<'_>, r: &RangeLine) -> fmt::Result {
    let w = if r.word_bits() == 32 { 8 } else { 16 };
    write!(f, "0x{:0w$x}-0x{:0w$x}   ", r.start, r.end, w = w)
}

pub(super) fn range(r: &RangeLine, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    addrs(f, r)?;
    match r.format {
        Format::X86_64 | Format::X86_32 => {
            size(f, r.size(), b"BKMGTPE")?;
            f.write_str(" ")?;
            x86_prot(r, f)?;
            f.write_str(r.level_name)
        }
        Format::Arm64 => {
            size(f, r.size() >> 10, b"KMGTPE")?;
            write!(f, " {}", r.level_name)?;
            if r.prot != 0 {
                arm64_prot(r.prot, f)?;
            }
            Ok(())
        }
        Format::Riscv64 => {
            write!(f, " 0x{:016x} ", r.pa)?;
            size(f, r.size() >> 10, b"KMGTPE")?;
            write!(f, " {}", r.level_name)?;
            riscv_prot(r.prot, f)
        }
        Format::Arm32 => {
            size(f, r.size() >> 10, b"KMGTPE")?;
            write!(f, " {}", r.level_name)?;
            if let Some(d) = r.domain {
                write!(f, " {d}")?;
            }
            if r.level == crate::arch::Level::Pte {
                arm_pte_prot(r.prot, f)
            } else {
                arm_sect_prot(r.prot, f)
            }
        }
    }
}

/// `printk_prot()`.
fn x86_prot(r: &RangeLine, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use crate::arch::Level;
    let pr = r.prot;
    if pr & x86::PRESENT == 0 {
        return f.write_str("                              ");
    }
    let flag = |f: &mut fmt::Formatter<'_>, on: bool, s: &str, off: &str| {
        f.write_str(if on { s } else { off })
    };
    flag(f, pr & x86::USER != 0, "USR ", "    ")?;
    flag(f, pr & x86::RW != 0, "RW ", "ro ")?;
    flag(f, pr & x86::PWT != 0, "PWT ", "    ")?;
    flag(f, pr & x86::PCD != 0, "PCD ", "    ")?;
    // Bit 7 is PSE above the PTE level and PAT in a PTE.
    flag(
        f,
        r.level <= Level::Pmd && pr & x86::PSE != 0,
        "PSE ",
        "    ",
    )?;
    let pat = (r.level == Level::Pte && pr & x86::PAT != 0)
        || (matches!(r.level, Level::Pmd | Level::Pud) && pr & x86::PAT_LARGE != 0);
    flag(f, pat, "PAT ", "    ")?;
    flag(f, pr & x86::GLOBAL != 0, "GLB ", "    ")?;
    flag(f, r.nx && pr & x86::NX != 0, "NX ", "x  ")
}

/// arm64 `dump_prot()` over `pte_bits[]`.
fn arm64_prot(p: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use arm64::*;
    let bit = |f: &mut fmt::Formatter<'_>, mask: u64, val: u64, set: &str, clear: &str| {
        write!(f, " {}", if p & mask == val { set } else { clear })
    };
    bit(f, VALID, VALID, " ", "F")?;
    bit(f, USER, USER, "USR", "   ")?;
    bit(f, RDONLY, RDONLY, "ro", "RW")?;
    bit(f, PXN, PXN, "NX", "x ")?;
    bit(f, SHARED, SHARED, "SHD", "   ")?;
    bit(f, AF, AF, "AF", "  ")?;
    bit(f, NG, NG, "NG", "  ")?;
    bit(f, CONT, CONT, "CON", "   ")?;
    bit(f, TYPE_MASK, TYPE_SECT, "BLK", "   ")?;
    bit(f, UXN, UXN, "UXN", "   ")?;
    bit(f, GP, GP, "GP", "  ")?;
    let attr = match (p & ATTRINDX) >> 2 {
        3 => Some("DEVICE/nGnRnE"),
        4 => Some("DEVICE/nGnRE"),
        2 => Some("MEM/NORMAL-NC"),
        0 => Some("MEM/NORMAL"),
        1 => Some("MEM/NORMAL-TAGGED"),
        _ => None,
    };
    match attr {
        Some(a) => write!(f, " {a}"),
        None => Ok(()),
    }
}

/// riscv `dump_prot()`.
fn riscv_prot(p: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use riscv::*;
    f.write_str(if p & NAPOT != 0 { " N" } else { " ." })?;
    match p & MT_MASK {
        0 => f.write_str("   ..  ")?,
        MT_NC => f.write_str(" MT(NC)")?,
        MT_IO => f.write_str(" MT(IO)")?,
        _ => f.write_str(" MT(??)")?,
    }
    match p & SOFT {
        0 => f.write_str("   ..  ")?,
        s => write!(f, " RSW({})", s >> 8)?,
    }
    for (bit, set) in [
        (1 << 7, "D"),
        (1 << 6, "A"),
        (1 << 5, "G"),
        (1 << 4, "U"),
        (1 << 3, "X"),
        (1 << 2, "W"),
        (1 << 1, "R"),
        (1 << 0, "V"),
    ] {
        write!(f, " {}", if p & bit != 0 { set } else { "." })?;
    }
    Ok(())
}

/// arm `dump_prot()` over `section_bits[]` (ARMv6+, no LPAE).
fn arm_sect_prot(p: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use arm::*;
    let ap = match p & SECT_AP {
        x if x == SECT_APX | SECT_AP_WRITE => Some("    ro"),
        SECT_AP_WRITE => Some("    RW"),
        SECT_AP_READ => Some("USR ro"),
        x if x == SECT_AP_READ | SECT_AP_WRITE => Some("USR RW"),
        _ => None,
    };
    if let Some(ap) = ap {
        write!(f, " {ap}")?;
    }
    f.write_str(if p & SECT_XN != 0 { " NX" } else { " x " })?;
    f.write_str(if p & SECT_S != 0 { " SHD" } else { "    " })
}

/// arm `dump_prot()` over `pte_bits[]` (no LPAE).
fn arm_pte_prot(p: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use arm::*;
    f.write_str(if p & L_PTE_USER != 0 { " USR" } else { "    " })?;
    f.write_str(if p & L_PTE_RDONLY != 0 { " ro" } else { " RW" })?;
    f.write_str(if p & L_PTE_XN != 0 { " NX" } else { " x " })?;
    f.write_str(if p & L_PTE_SHARED != 0 {
        " SHD"
    } else {
        "    "
    })?;
    let mt = match p & MT_MASK {
        MT_UNCACHED => Some("SO/UNCACHED"),
        MT_BUFFERABLE => Some("MEM/BUFFERABLE/WC"),
        MT_WRITETHROUGH => Some("MEM/CACHED/WT"),
        MT_WRITEBACK => Some("MEM/CACHED/WBRA"),
        MT_MINICACHE => Some("MEM/MINICACHE"),
        MT_WRITEALLOC => Some("MEM/CACHED/WBWA"),
        MT_DEV_SHARED => Some("DEV/SHARED"),
        MT_DEV_NONSHARED => Some("DEV/NONSHARED"),
        MT_DEV_WC => Some("DEV/WC"),
        MT_DEV_CACHED => Some("DEV/CACHED"),
        _ => None,
    };
    match mt {
        Some(m) => write!(f, " {m}"),
        None => Ok(()),
    }
}
