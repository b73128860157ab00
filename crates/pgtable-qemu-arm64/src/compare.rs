//! One address, the real MMU against the software MMU: `AT` + PAR_EL1 for
//! the four stage-1 translations (EL1/EL0, read/write) and real accesses
//! (`LDR`/`STR` at EL1, `LDTR`/`STTR` with EL0's rights).
//!
//! A translation is compared as (output address, MAIR attribute byte):
//! PAR_EL1.PA and PAR_EL1.ATTR against the walker's address and the
//! MAIR_EL1 byte of the leaf's AttrIndx. A fault is compared as its fault
//! status code: PAR_EL1.FST (and ESR_EL1.DFSC for accesses) against the
//! code of the walker's fault kind and level (Arm ARM D17 "ESR_EL1.DFSC":
//! 0b0000LL address size, 0b0001LL translation, 0b0010LL access flag,
//! 0b0011LL permission; level -1: 0b101001, 0b101011).

use crate::cpu::{self, AtOp};
use crate::machine::PhysMem;
use crate::{data, frame, probe};
use alloc::format;
use alloc::string::String;
use pgtable_mmu::arm64::{desc, Arm64Mmu};
use pgtable_mmu::{Access, Fault, FaultKind, Mode, Roots};

/// A translation's outcome: `Ok((pa, MAIR attribute))` or `Err(FST)`.
pub type Outcome = Result<(u64, u8), u8>;

/// The fault status code of a walker fault.
pub fn fst(f: &Fault) -> u8 {
    let level = f.level;
    match (f.kind, level) {
        (FaultKind::AddressSize, -1) => 0b10_1001,
        (_, -1) => 0b10_1011,
        (FaultKind::AddressSize, l) => l as u8 & 3,
        (FaultKind::AccessFlag, l) => 0b00_1000 | (l as u8 & 3),
        (FaultKind::Protection, l) => 0b00_1100 | (l as u8 & 3),
        (_, l) => 0b00_0100 | (l as u8 & 3),
    }
}

fn access_of(op: AtOp) -> (Access, Mode) {
    match op {
        AtOp::E1R => (Access::Read, Mode::Supervisor),
        AtOp::E1W => (Access::Write, Mode::Supervisor),
        AtOp::E0R => (Access::Read, Mode::User),
        AtOp::E0W => (Access::Write, Mode::User),
    }
}

/// The software MMU's answer for `op` at `va` with `roots` loaded.
pub fn software(mmu: &Arm64Mmu, roots: &Roots, op: AtOp, va: u64) -> Outcome {
    let (access, mode) = access_of(op);
    match mmu.translate_opt(&PhysMem, Some(roots.user), roots.kernel, va, access, mode) {
        Ok(leaf) => Ok((leaf.xlat.pa, cpu::mair_attr(desc::attr_index(leaf.entry)))),
        Err(f) => Err(fst(&f)),
    }
}

/// The real MMU's answer (`AT` with the roots currently loaded).
pub fn hardware(op: AtOp, va: u64) -> Outcome {
    let par = cpu::at(op, va);
    if par & 1 != 0 {
        Err(((par >> 1) & 0x3f) as u8)
    } else {
        Ok((
            (par & 0x000f_ffff_ffff_f000) | (va & 0xfff),
            (par >> 56) as u8,
        ))
    }
}

/// Tally of one comparison run.
pub struct Tally {
    pub addresses: u64,
    pub translations: u64,
    pub probes: u64,
    pub faults: u64,
    pub differences: u64,
    pub first: Option<String>,
    /// PAR_EL1 outcomes seen: successes by ATTR byte, faults by FST.
    pub attrs: [u64; 256],
    pub fsts: [u64; 64],
    /// EL1 fetch probes (`fetch.rs`), those that returned from the stub,
    /// and the others' instruction fault status codes.
    pub fetches: u64,
    pub fetched: u64,
    pub ifscs: [u64; 64],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            addresses: 0,
            translations: 0,
            probes: 0,
            faults: 0,
            differences: 0,
            first: None,
            attrs: [0; 256],
            fsts: [0; 64],
            fetches: 0,
            fetched: 0,
            ifscs: [0; 64],
        }
    }
}

impl Tally {
    /// Add `o`'s counts (not its first difference).
    pub fn merge(&mut self, o: &Tally) {
        self.addresses += o.addresses;
        self.translations += o.translations;
        self.probes += o.probes;
        self.faults += o.faults;
        self.differences += o.differences;
        self.fetches += o.fetches;
        self.fetched += o.fetched;
        for (a, b) in self.ifscs.iter_mut().zip(o.ifscs.iter()) {
            *a += b;
        }
        self.merge_outcomes(o);
    }

    fn merge_outcomes(&mut self, o: &Tally) {
        for (a, b) in self.attrs.iter_mut().zip(o.attrs.iter()) {
            *a += b;
        }
        for (a, b) in self.fsts.iter_mut().zip(o.fsts.iter()) {
            *a += b;
        }
    }

    /// `attr0xff=N ... FST0x05=N ... fetch-IFSC0x0f=N ...` for the log.
    pub fn outcomes(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.attrs.iter().enumerate().filter(|(_, n)| **n > 0) {
            s += &format!("attr{i:#04x}={n} ");
        }
        for (i, n) in self.fsts.iter().enumerate().filter(|(_, n)| **n > 0) {
            s += &format!("FST{i:#04x}={n} ");
        }
        for (i, n) in self.ifscs.iter().enumerate().filter(|(_, n)| **n > 0) {
            s += &format!("fetch-IFSC{i:#04x}={n} ");
        }
        s.trim_end().into()
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
        Ok((pa, attr)) => format!("pa={pa:#x} attr={attr:#04x}"),
        Err(fst) => format!("fault FST={fst:#04x}"),
    }
}

/// Whether a real access agrees with the walker: both succeed (and a read
/// of a tagged word returns its tag), or both fault with the same status
/// code at `va`.
fn access_agrees(
    sw: &Outcome,
    hw: &Result<u64, probe::Fault>,
    va: u64,
    read: bool,
) -> Result<(), String> {
    match (sw, hw) {
        (Ok((pa, _)), Ok(v)) => {
            if read && data::is_tagged(*pa) && *v != data::tag(*pa) {
                Err(format!("read {v:#x}, tag of pa {pa:#x} expected"))
            } else {
                Ok(())
            }
        }
        (Err(fst), Err(f)) => {
            if f.ec() == probe::EC_DATA_ABORT && f.dfsc() == *fst && f.far == va && f.wnr() != read
            {
                Ok(())
            } else {
                Err(format!(
                    "real fault ESR={:#x} FAR={:#x}, walker FST={fst:#04x}",
                    f.esr, f.far
                ))
            }
        }
        (Ok(_), Err(f)) => Err(format!(
            "real access faulted (ESR={:#x} FAR={:#x}), walker allows it ({})",
            f.esr,
            f.far,
            show(sw)
        )),
        (Err(fst), Ok(_)) => Err(format!(
            "real access succeeded, walker faults (FST={fst:#04x})"
        )),
    }
}

/// Compare everything for `va` (8-byte aligned) with `roots` loaded.
/// Real accesses are made only where they are harmless: where the walker
/// faults, or reaches RAM (reads), or a tagged data block (writes, which
/// store the word's own tag back).
pub fn address(mmu: &Arm64Mmu, roots: &Roots, va: u64, t: &mut Tally) {
    let va = va & !7;
    t.addresses += 1;
    let mut sw = [Err(0); 4];
    for (i, op) in AtOp::ALL.into_iter().enumerate() {
        let s = software(mmu, roots, op, va);
        let h = hardware(op, va);
        t.translations += 1;
        match h {
            Ok((_, attr)) => t.attrs[attr as usize] += 1,
            Err(fst) => t.fsts[fst as usize & 63] += 1,
        }
        if s != h {
            t.differ(format!(
                "AT {} {va:#x} (TTBR0={:#x}): PAR says {}, walker {}",
                op.name(),
                roots.user,
                show(&h),
                show(&s)
            ));
        }
        sw[i] = s;
    }
    for (el0, r, w) in [(false, 0, 1), (true, 2, 3)] {
        let (sr, sw_) = (sw[r], sw[w]);
        let safe_read = match sr {
            Ok((pa, _)) => frame::is_ram(pa),
            Err(_) => true,
        };
        if !safe_read {
            continue;
        }
        t.probes += 1;
        let hr = probe::read(va, el0);
        if hr.is_err() {
            t.faults += 1;
        }
        if let Err(e) = access_agrees(&sr, &hr, va, true) {
            t.differ(format!(
                "{} {va:#x} (TTBR0={:#x}): {e}",
                if el0 { "LDTR" } else { "LDR" },
                roots.user
            ));
        }
        let write_ok = match sw_ {
            Ok((pa, _)) => data::is_tagged(pa),
            Err(_) => true,
        };
        if let (Ok(_), true) = (hr, write_ok) {
            let value = match sw_ {
                Ok((pa, _)) => data::tag(pa),
                Err(_) => hr.unwrap_or(0),
            };
            t.probes += 1;
            // SAFETY: either the walker says the write faults (and if the
            // MMU disagrees, the word gets the value just read from it), or
            // it lands in a tagged data block and stores the word's tag.
            let hw = unsafe { probe::write(va, value, el0) };
            if hw.is_err() {
                t.faults += 1;
            }
            if let Err(e) = access_agrees(&sw_, &hw.map(|_| 0), va, false) {
                t.differ(format!(
                    "{} {va:#x} (TTBR0={:#x}): {e}",
                    if el0 { "STTR" } else { "STR" },
                    roots.user
                ));
            }
        }
    }
}
