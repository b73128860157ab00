//! One address, the real MMU against the software MMU: `ATS1CPR/CPW/CUR/
//! CUW` + PAR for the four stage-1 translations (PL1/PL0, read/write), real
//! accesses (`LDR`/`STR` at PL1, `LDRT`/`STRT` with PL0's rights) and a
//! real PL1 instruction fetch.
//!
//! A translation is compared as its output address, a fault as its
//! short-descriptor fault status (DDI 0406C table B3-23): PAR.FS (and
//! DFSR/IFSR.FS for accesses and fetches) against the code of the walker's
//! fault kind and level: translation 0b00101 (section) / 0b00111 (page),
//! domain 0b01001 / 0b01011, permission 0b01101 / 0b01111.
//!
//! Memory type: PAR's short-descriptor success format has fields for it
//! (B4.1.141: Inner\[6:4\], Outer\[3:2\], SH, NOS), which the check compares
//! with the walker's descriptor (TEX, C, B, S through table B3-10) whenever
//! the MMU fills them in. QEMU leaves them 0 (its `do_ats_write()`: "We do
//! not set any attribute bits in the PAR"), which [`Tally::attrs_unreported`]
//! counts.

use crate::cpu::{self, AtsOp};
use crate::machine::{PhysMem, Roots};
use crate::{data, frame, probe};
use alloc::format;
use alloc::string::String;
use pgtable_mmu::arm32::Arm32Mmu;
use pgtable_mmu::{Access, Fault, FaultKind, Mode};

/// A translation's outcome: `Ok((pa, leaf descriptor, its level))` or
/// `Err(FS)`.
pub type Outcome = Result<(u64, u32, u8), u8>;

/// The fault status code of a walker fault.
pub fn fs(f: &Fault) -> u8 {
    let section = f.level == 1;
    let domain = f.detail.starts_with("domain");
    match (f.kind, domain, section) {
        (FaultKind::Protection, true, true) => 0b01001,
        (FaultKind::Protection, true, false) => 0b01011,
        (FaultKind::Protection, false, true) => 0b01101,
        (FaultKind::Protection, false, false) => 0b01111,
        (_, _, true) => 0b00101,
        (_, _, false) => 0b00111,
    }
}

fn access_of(op: AtsOp) -> (Access, Mode) {
    match op {
        AtsOp::Pr => (Access::Read, Mode::Supervisor),
        AtsOp::Pw => (Access::Write, Mode::Supervisor),
        AtsOp::Ur => (Access::Read, Mode::User),
        AtsOp::Uw => (Access::Write, Mode::User),
    }
}

/// The software MMU's answer for `access` in `mode` at `va` with `roots`.
pub fn walk(mmu: &Arm32Mmu, roots: &Roots, va: u32, access: Access, mode: Mode) -> Outcome {
    match mmu.translate(
        &PhysMem,
        roots.ttbr0,
        roots.ttbr1,
        u64::from(va),
        access,
        mode,
    ) {
        Ok(leaf) => Ok((leaf.xlat.pa, leaf.entry as u32, leaf.level as u8)),
        Err(f) => Err(fs(&f)),
    }
}

/// The software MMU's answer for `op`.
pub fn software(mmu: &Arm32Mmu, roots: &Roots, op: AtsOp, va: u32) -> Outcome {
    let (access, mode) = access_of(op);
    walk(mmu, roots, va, access, mode)
}

/// PAR decoded: `Ok((pa, PAR))` or `Err(FS)` (B4.1.141: on an abort
/// FS\[4\] is bit 5 and FS\[3:0\] bits 4:1; on success a supersection sets
/// SS, bit 1, and gives PA\[31:24\]).
pub fn hardware(op: AtsOp, va: u32) -> Result<(u64, u32), u8> {
    let par = cpu::ats(op, va);
    if par & 1 != 0 {
        Err(((((par >> 5) & 1) << 4) | ((par >> 1) & 0xf)) as u8)
    } else if par & 2 != 0 {
        Ok((u64::from((par & 0xff00_0000) | (va & 0x00ff_ffff)), par))
    } else {
        Ok((u64::from((par & 0xffff_f000) | (va & 0xfff)), par))
    }
}

/// PAR's memory-attribute fields (Outer\[3:2\], Inner\[6:4\], SH bit 7,
/// NOS bit 10) for a leaf descriptor, TEX remap off (table B3-10).
/// `level` 1 is a section (TEX at 14:12, S at 16), 2 a small page (TEX at
/// 8:6, S at 10).
pub fn par_attrs(desc: u32, level: u8) -> u32 {
    let (tex, s) = if level == 1 {
        ((desc >> 12) & 7, desc & (1 << 16) != 0)
    } else {
        ((desc >> 6) & 7, desc & (1 << 10) != 0)
    };
    let cb = (desc >> 2) & 3; // C is bit 3, B bit 2
                              // (inner, outer, shareable)
    let (inner, outer, sh) = match (tex, cb) {
        (0b000, 0b00) => (0b001, 0b00, true),  // Strongly-ordered
        (0b000, 0b01) => (0b011, 0b00, true),  // Shareable Device
        (0b000, 0b10) => (0b110, 0b10, s),     // Normal WT, no write-allocate
        (0b000, 0b11) => (0b111, 0b11, s),     // Normal WB, no write-allocate
        (0b001, 0b00) => (0b000, 0b00, s),     // Normal non-cacheable
        (0b001, 0b11) => (0b101, 0b01, s),     // Normal WB write-allocate
        (0b010, 0b00) => (0b011, 0b00, false), // Non-shareable Device
        (t, c) if t & 0b100 != 0 => {
            let inner = [0b000, 0b101, 0b110, 0b111][c as usize];
            (inner, t & 3, s)
        }
        _ => (0, 0, false), // reserved
    };
    (outer << 2) | (inner << 4) | (u32::from(sh) << 7)
}

/// PAR bits that carry memory attributes (everything but PA, SS, F, NS).
const PAR_ATTR_MASK: u32 = 0x5fc;

/// Tally of one comparison run.
#[derive(Default)]
pub struct Tally {
    pub addresses: u64,
    pub translations: u64,
    pub probes: u64,
    pub fetches: u64,
    /// Fetches made at PL0, and fetches that ran the return page.
    pub fetches_pl0: u64,
    pub fetches_ran: u64,
    pub faults: u64,
    pub differences: u64,
    /// Successful translations whose PAR memory attributes matched the
    /// walker's descriptor / were left 0 by the MMU.
    pub attrs_compared: u64,
    pub attrs_unreported: u64,
    pub first: Option<String>,
    /// Outcomes seen: successes, and faults by FS (0 to 31).
    pub ok: u64,
    pub fss: [u64; 32],
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.addresses += o.addresses;
        self.translations += o.translations;
        self.probes += o.probes;
        self.fetches += o.fetches;
        self.fetches_pl0 += o.fetches_pl0;
        self.fetches_ran += o.fetches_ran;
        self.faults += o.faults;
        self.differences += o.differences;
        self.attrs_compared += o.attrs_compared;
        self.attrs_unreported += o.attrs_unreported;
        self.ok += o.ok;
        for (a, b) in self.fss.iter_mut().zip(o.fss.iter()) {
            *a += b;
        }
        if self.first.is_none() {
            self.first.clone_from(&o.first);
        }
    }

    /// `ok=N FS0x05=N ...` for the log.
    pub fn outcomes(&self) -> String {
        let mut s = format!("ok={}", self.ok);
        for (i, n) in self.fss.iter().enumerate().filter(|(_, n)| **n > 0) {
            s += &format!(" FS{i:#04x}={n}");
        }
        s
    }

    pub fn differ(&mut self, what: String) {
        self.differences += 1;
        if self.first.is_none() {
            self.first = Some(what);
        }
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Ok((pa, d, l)) => format!("pa={pa:#x} (level {l} descriptor {d:#010x})"),
        Err(fs) => format!("fault FS={fs:#04x}"),
    }
}

/// Whether a real access agrees with the walker: both succeed (and a read
/// of a tagged word returns its tag), or both fault with the same status
/// at `va`, a data abort with the right WnR.
fn access_agrees(
    sw: &Outcome,
    hw: &Result<u32, probe::Fault>,
    va: u32,
    read: bool,
) -> Result<(), String> {
    match (sw, hw) {
        (Ok((pa, _, _)), Ok(v)) => {
            if read && data::is_tagged(*pa) && *v != data::tag(*pa) {
                Err(format!("read {v:#x}, tag of pa {pa:#x} expected"))
            } else {
                Ok(())
            }
        }
        (Err(fs), Err(f)) => {
            if !f.prefetch && !f.lpae() && f.fs() == *fs && f.far == va && f.wnr() != read {
                Ok(())
            } else {
                Err(format!(
                    "real fault DFSR={:#x} DFAR={:#x}, walker FS={fs:#04x}",
                    f.fsr, f.far
                ))
            }
        }
        (Ok(_), Err(f)) => Err(format!(
            "real access faulted (DFSR={:#x} DFAR={:#x}), walker allows it ({})",
            f.fsr,
            f.far,
            show(sw)
        )),
        (Err(fs), Ok(_)) => Err(format!(
            "real access succeeded, walker faults (FS={fs:#04x})"
        )),
    }
}

/// Compare everything for `va` (4-byte aligned) with `roots` loaded.
/// Real accesses are made only where they are harmless: where the walker
/// faults, or reaches RAM (reads), or a tagged data block (writes, which
/// store the word's own tag back); fetches where the walker faults or
/// reaches a return page.
pub fn address(mmu: &Arm32Mmu, roots: &Roots, va: u32, t: &mut Tally) {
    let va = va & !3;
    t.addresses += 1;
    let mut sw = [Err(0); 4];
    for (i, op) in AtsOp::ALL.into_iter().enumerate() {
        let s = software(mmu, roots, op, va);
        let h = hardware(op, va);
        t.translations += 1;
        match (&s, &h) {
            (Ok((spa, d, level)), Ok((hpa, par))) if spa == hpa => {
                t.ok += 1;
                let (d, level) = (*d, *level);
                let attrs = par & PAR_ATTR_MASK;
                if attrs == 0 {
                    t.attrs_unreported += 1;
                } else if attrs != par_attrs(d, level) {
                    t.differ(format!(
                        "{} {va:#x} (TTBR0={:#x}): PAR={par:#x} attributes, descriptor {d:#010x} gives {:#x}",
                        op.name(),
                        roots.ttbr0,
                        par_attrs(d, level)
                    ));
                } else {
                    t.attrs_compared += 1;
                }
            }
            (Err(a), Err(b)) if a == b => t.fss[*a as usize & 31] += 1,
            _ => t.differ(format!(
                "{} {va:#x} (TTBR0={:#x}): PAR says {}, walker {}",
                op.name(),
                roots.ttbr0,
                match h {
                    Ok((pa, par)) => format!("pa={pa:#x} (PAR={par:#x})"),
                    Err(fs) => format!("fault FS={fs:#04x}"),
                },
                show(&s)
            )),
        }
        sw[i] = s;
    }
    for (pl0, r, w) in [(false, 0, 1), (true, 2, 3)] {
        let (sr, sw_) = (sw[r], sw[w]);
        let safe_read = match sr {
            Ok((pa, _, _)) => frame::is_ram(pa),
            Err(_) => true,
        };
        if !safe_read {
            continue;
        }
        t.probes += 1;
        let hr = probe::read(va, pl0);
        if hr.is_err() {
            t.faults += 1;
        }
        if let Err(e) = access_agrees(&sr, &hr, va, true) {
            t.differ(format!(
                "{} {va:#x} (TTBR0={:#x}): {e}",
                if pl0 { "LDRT" } else { "LDR" },
                roots.ttbr0
            ));
        }
        let write_ok = match sw_ {
            Ok((pa, _, _)) => data::is_tagged(pa),
            Err(_) => true,
        };
        if let (Ok(_), true) = (hr, write_ok) {
            let value = match sw_ {
                Ok((pa, _, _)) => data::tag(pa),
                Err(_) => hr.unwrap_or(0),
            };
            t.probes += 1;
            // SAFETY: either the walker says the write faults (and if the
            // MMU disagrees, the word gets the value just read from it), or
            // it lands in a tagged data block and stores the word's tag.
            let hw = unsafe { probe::write(va, value, pl0) };
            if hw.is_err() {
                t.faults += 1;
            }
            if let Err(e) = access_agrees(&sw_, &hw.map(|_| 0), va, false) {
                t.differ(format!(
                    "{} {va:#x} (TTBR0={:#x}): {e}",
                    if pl0 { "STRT" } else { "STR" },
                    roots.ttbr0
                ));
            }
        }
    }
    fetch(mmu, roots, va, t);
}

/// Where each process maps its PL0 fetch trampoline (a
/// [`data::tramp_page`]).
pub const TRAMP_VA: u32 = 0x53_0000;

/// Real instruction fetches at `va`, at PL1 and (where the running root
/// maps the trampoline) at PL0, against the walker's execute checks.
fn fetch(mmu: &Arm32Mmu, roots: &Roots, va: u32, t: &mut Tally) {
    fetch_at(mmu, roots, va, Mode::Supervisor, t);
    let tramp = walk(mmu, roots, TRAMP_VA, Access::Execute, Mode::User);
    if matches!(tramp, Ok((pa, _, _)) if data::is_tramp(pa)) {
        fetch_at(mmu, roots, va, Mode::User, t);
    }
}

/// One fetch at `va` in `mode`.
fn fetch_at(mmu: &Arm32Mmu, roots: &Roots, va: u32, mode: Mode, t: &mut Tally) {
    let sx = walk(mmu, roots, va, Access::Execute, mode);
    let safe = match sx {
        Ok((pa, _, _)) => data::is_ret(pa),
        Err(_) => true,
    };
    if !safe {
        return;
    }
    t.fetches += 1;
    t.fetches_pl0 += u64::from(mode == Mode::User);
    // SAFETY: the walker says the fetch faults, or it reaches a return page
    // (`bx lr`); the trampoline is mapped (checked by `fetch`).
    let hx = unsafe {
        match mode {
            Mode::Supervisor => probe::exec(va),
            Mode::User => probe::exec_user(va, TRAMP_VA),
        }
    };
    match hx {
        Ok(()) => t.fetches_ran += 1,
        Err(_) => t.faults += 1,
    }
    let agree = match (&sx, &hx) {
        (Ok(_), Ok(())) => true,
        (Err(fs), Err(f)) => f.prefetch && !f.lpae() && f.fs() == *fs && f.far == va,
        _ => false,
    };
    if !agree {
        t.differ(format!(
            "{} fetch {va:#x} (TTBR0={:#x}): real {}, walker {}",
            if mode == Mode::User { "PL0" } else { "PL1" },
            roots.ttbr0,
            match hx {
                Ok(()) => String::from("ran"),
                Err(f) => format!(
                    "IFSR={:#x} IFAR={:#x} (prefetch: {})",
                    f.fsr, f.far, f.prefetch
                ),
            },
            show(&sx)
        ));
    }
}
