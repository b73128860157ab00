//! One address, the real MMU against the software MMU. x86-32 has no
//! translate instruction, so the real side is a load and a store at CPL 0:
//! fault or not, CR2 and the error code (SDM vol. 3A 4.7: P, W/R, U/S,
//! RSVD, I/D), and for a load of a tagged data block the tag, which proves
//! the physical address the walker computed. With CR4.SMAP set (the
//! crosscheck) the load and store run with EFLAGS.AC clear and set, so the
//! U bit decides; the crosscheck also calls the page's fetch stub
//! ([`fetches`]) with CR4.SMEP clear and set: NX (PAE) and U for fetches.

use crate::bus::WalkBus;
use crate::{data, frame, probe};
use alloc::format;
use alloc::string::String;
use pgtable_mmu::x86_32::X86_32Mmu;
use pgtable_mmu::{Access, FaultKind, Mode, PhysBus};

/// Error-code bits: P (protection, not a missing entry), W/R, U/S, RSVD.
pub const ERR_P: u32 = 1;
pub const ERR_W: u32 = 2;
pub const ERR_U: u32 = 4;
pub const ERR_RSVD: u32 = 8;
pub const ERR_ID: u32 = 0x10;
/// The bits compared: P, W/R, U/S, RSVD, I/D.
const ERR_BITS: u32 = 0x1f;

/// The walker's answer: the physical address, or the fault.
pub type Outcome = Result<u64, pgtable_mmu::Fault>;

/// The software MMU's CPL-0 answer for `va` under `root`.
pub fn software(mmu: &X86_32Mmu, root: u64, va: u64, access: Access) -> Outcome {
    mmu.translate(&WalkBus::new(root), root, va, access, Mode::Supervisor)
        .map(|l| l.xlat.pa)
}

/// The error code the CPU pushes for the walker's fault `f` (SDM 4.7).
pub fn error_code(f: &pgtable_mmu::Fault) -> u32 {
    let mut e = 0;
    if f.kind != FaultKind::NotPresent {
        e |= ERR_P;
    }
    if f.access == Access::Write {
        e |= ERR_W;
    }
    if f.mode == Mode::User {
        e |= ERR_U;
    }
    if f.kind == FaultKind::ReservedBit {
        e |= ERR_RSVD;
    }
    // I/D: reported for fetches when PAE with NXE or SMEP is on (SDM 4.7).
    if f.access == Access::Execute {
        let m = crate::machine::software_mmu();
        if (m.pae && m.nxe) || m.smep {
            e |= ERR_ID;
        }
    }
    e
}

/// Whether the real fault is the walker's: CR2 = the address, same error
/// code.
pub fn same_fault(real: &probe::Fault, soft: &pgtable_mmu::Fault, va: u64) -> bool {
    u64::from(real.cr2) == va && real.error & ERR_BITS == error_code(soft)
}

/// Tally of one comparison run.
#[derive(Default)]
pub struct Tally {
    pub addresses: u64,
    pub walks: u64,
    pub probes: u64,
    pub faults: u64,
    pub tags: u64,
    /// Fetch probes, and those that returned from the stub.
    pub fetches: u64,
    pub fetched: u64,
    pub differences: u64,
    pub first: Option<String>,
    /// Real outcomes: [no fault, read #PF, write #PF].
    pub outcomes: [u64; 3],
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.addresses += o.addresses;
        self.walks += o.walks;
        self.probes += o.probes;
        self.faults += o.faults;
        self.tags += o.tags;
        self.fetches += o.fetches;
        self.fetched += o.fetched;
        self.differences += o.differences;
        for (a, b) in self.outcomes.iter_mut().zip(o.outcomes.iter()) {
            *a += b;
        }
        if self.first.is_none() {
            self.first.clone_from(&o.first);
        }
    }

    pub fn differ(&mut self, what: String) {
        self.differences += 1;
        if self.first.is_none() {
            self.first = Some(what);
        }
    }

    fn count<T>(&mut self, r: &Result<T, probe::Fault>) {
        self.probes += 1;
        let i = match r {
            Ok(_) => 0,
            Err(f) if f.error & ERR_W == 0 => 1,
            Err(_) => 2,
        };
        if i != 0 {
            self.faults += 1;
        }
        self.outcomes[i] += 1;
    }
}

pub fn show(o: &Outcome) -> String {
    match o {
        Ok(pa) => format!("pa {pa:#x}"),
        Err(f) => format!(
            "{} at level {} ({}), error code {:#x}",
            f.kind.name(),
            f.level,
            f.detail,
            error_code(f)
        ),
    }
}

/// Whether a real access agrees with the walker.
fn agrees<T: Copy + Into<u64>>(
    sw: &Outcome,
    hw: &Result<T, probe::Fault>,
    va: u64,
    read: bool,
    t: &mut Tally,
) -> Result<(), String> {
    match (sw, hw) {
        (Ok(pa), Ok(v)) => {
            if read && data::is_tagged(*pa) {
                t.tags += 1;
                let v: u64 = (*v).into();
                if v != u64::from(data::tag(*pa)) {
                    return Err(format!("read {v:#x}, tag of pa {pa:#x} expected"));
                }
            }
            Ok(())
        }
        (Err(s), Err(f)) if same_fault(f, s, va) => Ok(()),
        (Err(s), Err(f)) => Err(format!(
            "real #PF cr2={:#x} error={:#x}, walker: {}",
            f.cr2,
            f.error,
            show(&Err(*s))
        )),
        (Ok(_), Err(f)) => Err(format!(
            "real access faulted (cr2={:#x} error={:#x}), walker allows it ({})",
            f.cr2,
            f.error,
            show(sw)
        )),
        (Err(_), Ok(_)) => Err(format!("real access succeeded, walker: {}", show(sw))),
    }
}

/// A scenario touch's comparison.
pub enum WalkResult {
    Agree,
    Differ(String),
}

/// Whether a real read agrees with the walker's read outcome `sw`: both
/// fault with the same CR2 and error code, or both succeed (and a tagged
/// block returns its tag).
pub fn judge(sw: &Outcome, hw: &Result<u32, probe::Fault>, va: u64) -> WalkResult {
    let mut t = Tally::default();
    match agrees(sw, hw, va, true, &mut t) {
        Ok(()) => WalkResult::Agree,
        Err(e) => WalkResult::Differ(e),
    }
}

/// Compare `va` (made 4-byte aligned) with `root` loaded in CR3. Loads are
/// made where the walker faults or reaches RAM; stores where the walker
/// reaches a tagged block (storing the tag), where the load just faulted
/// (no x86 page is writable without being readable, so the store faults
/// too), or where the walker refuses the store after a load succeeded
/// (storing the value just read back).
pub fn address(mmu: &X86_32Mmu, root: u64, va: u64, t: &mut Tally) {
    let va = va & !3;
    if va > u64::from(u32::MAX) {
        return;
    }
    t.addresses += 1;
    if !mmu.smap {
        data_access(mmu, root, va, t, "");
        return;
    }
    for ac in [false, true] {
        crate::cpu::set_ac(ac);
        let m = X86_32Mmu { smap: !ac, ..*mmu };
        data_access(&m, root, va, t, if ac { ", AC=1" } else { ", AC=0" });
    }
    crate::cpu::set_ac(false);
}

/// The load and store of [`address`] under the current EFLAGS.AC.
fn data_access(mmu: &X86_32Mmu, root: u64, va: u64, t: &mut Tally, ac: &str) {
    let sr = software(mmu, root, va, Access::Read);
    let sw = software(mmu, root, va, Access::Write);
    t.walks += 2;
    let safe = match sr {
        Ok(pa) => frame::is_ram(pa),
        Err(_) => true,
    };
    if !safe {
        return;
    }
    let hr = probe::read(va as u32);
    t.count(&hr);
    if let Err(e) = agrees(&sr, &hr, va, true, t) {
        t.differ(format!("load {va:#x} (root {root:#x}{ac}): {e}"));
    }
    let value = match (&sw, &hr) {
        (Ok(pa), _) if data::is_tagged(*pa) => Some(data::tag(*pa)),
        (_, Err(_)) => Some(0),
        (Err(_), Ok(v)) => Some(*v),
        (Ok(_), Ok(_)) => None,
    };
    if let Some(value) = value {
        // SAFETY: see the function's comment: the store writes a tagged
        // word's own tag, or the value just read from the word, or follows
        // a faulting load of the same address.
        let hw = unsafe { probe::write(va as u32, value) }.map(|_| 0u32);
        t.count(&hw);
        if let Err(e) = agrees(&sw, &hw, va, false, t) {
            t.differ(format!("store {va:#x} (root {root:#x}{ac}): {e}"));
        }
    }
}

/// Compare a CPL-0 instruction fetch at the fetch stub of `va`'s page
/// (`data::FETCH_OFFSET`) under the current CR4.SMEP and EFER.NXE.
///
/// The call is made only where the fetch and load walks of the stub's
/// address (at CPL 0 and CPL 3, SMEP and SMAP off) all fault or reach a
/// tagged block, i.e. a fetch stub.
pub fn fetches(root: u64, va: u64, t: &mut Tally) {
    let target = (va & !0xfff) | data::FETCH_OFFSET;
    if target > u64::from(u32::MAX) {
        return;
    }
    let mmu = crate::machine::software_mmu();
    let open = X86_32Mmu {
        smep: false,
        smap: false,
        ..mmu
    };
    let bus = WalkBus::new(root);
    let safe = [Mode::Supervisor, Mode::User].into_iter().all(|mode| {
        [Access::Execute, Access::Read].into_iter().all(|a| {
            match open.translate(&bus, root, target, a, mode) {
                Ok(l) => data::is_tagged(l.xlat.pa),
                Err(_) => true,
            }
        })
    });
    if safe {
        fetch(&mmu, &bus, root, target, t);
    }
}

/// One CPL-0 fetch of `target` (a fetch stub's address, safe as in
/// [`fetches`]): the real MMU against `mmu` reading the tables from `bus`.
pub fn fetch(mmu: &X86_32Mmu, bus: &impl PhysBus, root: u64, target: u64, t: &mut Tally) {
    let sw = mmu
        .translate(bus, root, target, Access::Execute, Mode::Supervisor)
        .map(|l| l.xlat.pa);
    t.walks += 1;
    // SAFETY: the callers call only fetch stubs' addresses whose walks all
    // fault or reach a tagged block (`fetches`): a stub sets eax and
    // returns.
    let hw = unsafe { probe::fetch(target as u32) };
    t.probes += 1;
    t.fetches += 1;
    match &hw {
        Ok(_) => t.fetched += 1,
        Err(_) => t.faults += 1,
    }
    let err = match (&sw, &hw) {
        (Ok(pa), Ok(v)) if *v == data::fetch_value(*pa) => return,
        (Ok(pa), Ok(v)) => format!("stub returned {v:#x}, the stub of pa {pa:#x} expected"),
        (Err(s), Err(f)) if same_fault(f, s, target) => return,
        (Err(s), Err(f)) => format!(
            "real #PF cr2={:#x} error={:#x}, walker: {}",
            f.cr2,
            f.error,
            show(&Err(*s))
        ),
        (Ok(_), Err(f)) => format!(
            "real fetch faulted (cr2={:#x} error={:#x}), walker allows it ({})",
            f.cr2,
            f.error,
            show(&sw)
        ),
        (Err(_), Ok(_)) => format!("real fetch succeeded, walker: {}", show(&sw)),
    };
    t.differ(format!(
        "fetch {target:#x} (root {root:#x}, smep={}): {err}",
        mmu.smep as u8
    ));
}
