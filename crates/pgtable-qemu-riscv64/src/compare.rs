//! One address, the real MMU against the software MMU. riscv has no
//! translate instruction, so the real side is a load and a store in S-mode,
//! each with sstatus.SUM clear and set: fault or not, the cause (13 load
//! page fault, 15 store/AMO page fault) and stval (= the address), and for
//! a load of a tagged data block the tag, which proves the physical address
//! the walker computed. Then an instruction fetch in S-mode and in U-mode
//! at the fetch stub of the address's page (`data::FETCH_OFFSET`): fault
//! or not, cause 12 and stval, and the stub's value, which proves the
//! physical page the fetch reached.

use crate::machine::{self, PhysMem};
use crate::{data, frame, probe};
use alloc::format;
use alloc::string::String;
use pgtable_mmu::riscv64::Riscv64Mmu;
use pgtable_mmu::{Access, Mode, PhysBus};

/// Load page fault.
pub const LOAD_PF: u64 = 13;
/// Store/AMO page fault.
pub const STORE_PF: u64 = 15;

/// The walker's answer: the physical address, or the fault.
pub type Outcome = Result<u64, pgtable_mmu::Fault>;

/// The software MMU's S-mode answer for `va` under `root`.
pub fn software(mmu: &Riscv64Mmu, root: u64, va: u64, access: Access) -> Outcome {
    mmu.translate(&PhysMem, root, va, access, Mode::Supervisor)
        .map(|l| l.xlat.pa)
}

fn mode(user: bool) -> Mode {
    if user {
        Mode::User
    } else {
        Mode::Supervisor
    }
}

/// Tally of one comparison run.
#[derive(Default)]
pub struct Tally {
    pub addresses: u64,
    pub walks: u64,
    pub probes: u64,
    pub faults: u64,
    pub tags: u64,
    /// Fetch probes, and those that returned from the stub (S-mode, U-mode).
    pub fetches: u64,
    pub fetched: [u64; 2],
    pub differences: u64,
    pub first: Option<String>,
    /// Real outcomes: [no fault, cause 13, cause 15, other].
    pub outcomes: [u64; 4],
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.addresses += o.addresses;
        self.walks += o.walks;
        self.probes += o.probes;
        self.faults += o.faults;
        self.tags += o.tags;
        self.fetches += o.fetches;
        self.fetched[0] += o.fetched[0];
        self.fetched[1] += o.fetched[1];
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

    fn count(&mut self, r: &Result<u64, probe::Fault>) {
        self.probes += 1;
        let i = match r {
            Ok(_) => 0,
            Err(f) if f.scause == LOAD_PF => 1,
            Err(f) if f.scause == STORE_PF => 2,
            Err(_) => 3,
        };
        if i != 0 {
            self.faults += 1;
        }
        self.outcomes[i] += 1;
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Ok(pa) => format!("pa {pa:#x}"),
        Err(f) => format!("{} at level {} ({})", f.kind.name(), f.level, f.detail),
    }
}

/// Whether a real access agrees with the walker.
fn agrees(
    sw: &Outcome,
    hw: &Result<u64, probe::Fault>,
    va: u64,
    read: bool,
    t: &mut Tally,
) -> Result<(), String> {
    match (sw, hw) {
        (Ok(pa), Ok(v)) => {
            if read && data::is_tagged(*pa) {
                t.tags += 1;
                if *v != data::tag(*pa) {
                    return Err(format!("read {v:#x}, tag of pa {pa:#x} expected"));
                }
            }
            Ok(())
        }
        (Err(_), Err(f)) => {
            let want = if read { LOAD_PF } else { STORE_PF };
            if f.scause == want && f.stval == va {
                Ok(())
            } else {
                Err(format!(
                    "real fault scause={} stval={:#x}, walker: page fault (cause {want}) {}",
                    f.scause,
                    f.stval,
                    show(sw)
                ))
            }
        }
        (Ok(_), Err(f)) => Err(format!(
            "real access faulted (scause={} stval={:#x}), walker allows it ({})",
            f.scause,
            f.stval,
            show(sw)
        )),
        (Err(_), Ok(_)) => Err(format!("real access succeeded, walker: {}", show(sw))),
    }
}

/// Compare `va` (made 8-byte aligned) with `root` loaded in satp, with
/// SUM clear and set. Loads are made where the walker faults or reaches
/// RAM the kernel may touch; stores where the walker reaches a tagged
/// block (storing the tag), where the load just faulted (no riscv leaf is
/// writable without being readable, so the store faults too), or where the
/// load succeeded (storing the value just read back).
pub fn address(root: u64, va: u64, t: &mut Tally) {
    let va = va & !7;
    t.addresses += 1;
    for sum in [false, true] {
        let mmu = machine::software_mmu(sum);
        machine::set_sum(sum);
        let sr = software(&mmu, root, va, Access::Read);
        let sw = software(&mmu, root, va, Access::Write);
        t.walks += 2;
        let safe = match sr {
            Ok(pa) => frame::is_ram(pa),
            Err(_) => true,
        };
        if !safe {
            continue;
        }
        let hr = probe::read(va);
        t.count(&hr);
        if let Err(e) = agrees(&sr, &hr, va, true, t) {
            t.differ(format!(
                "load {va:#x} (root {root:#x}, SUM={}): {e}",
                sum as u8
            ));
        }
        let value = match (&sw, &hr) {
            (Ok(pa), _) if data::is_tagged(*pa) => Some(data::tag(*pa)),
            (_, Err(_)) => Some(0),
            (Err(_), Ok(v)) => Some(*v),
            (Ok(_), Ok(_)) => None,
        };
        if let Some(value) = value {
            // SAFETY: see the function's comment: the store writes a
            // tagged word's own tag, or the value just read from the word,
            // or follows a faulting load of the same address.
            let hw = unsafe { probe::write(va, value) }.map(|_| 0);
            t.count(&hw);
            if let Err(e) = agrees(&sw, &hw, va, false, t) {
                t.differ(format!(
                    "store {va:#x} (root {root:#x}, SUM={}): {e}",
                    sum as u8
                ));
            }
        }
    }
    machine::set_sum(false);
    fetches(root, va, t);
}

/// Compare instruction fetches at the fetch stub of `va`'s page, in
/// S-mode and in U-mode (sstatus.SUM does not apply to fetches).
///
/// The jump is made only where every S- and U-mode walk of the stub's
/// address (fetch, and load with SUM set) faults or reaches a tagged
/// block, i.e. a fetch stub: a fetch the walker allows runs a stub, and
/// one it refuses, were the real MMU to allow it, would run a stub too
/// unless the tables map the page nowhere at all.
pub fn fetches(root: u64, va: u64, t: &mut Tally) {
    let target = (va & !0xfff) | data::FETCH_OFFSET;
    let mmu = machine::software_mmu(true);
    let safe = [false, true].into_iter().all(|user| {
        [Access::Execute, Access::Read].into_iter().all(|a| {
            match mmu.translate(&PhysMem, root, target, a, mode(user)) {
                Ok(l) => data::is_tagged(l.xlat.pa),
                Err(_) => true,
            }
        })
    });
    if !safe {
        return;
    }
    for user in [false, true] {
        fetch(&PhysMem, root, target, user, t);
    }
}

/// One fetch of `target` (a fetch stub's address, safe as in [`fetches`]):
/// the real MMU against the software MMU reading the tables from `bus`.
pub fn fetch(bus: &impl PhysBus, root: u64, target: u64, user: bool, t: &mut Tally) {
    let mmu = machine::software_mmu(false);
    let sw = mmu
        .translate(bus, root, target, Access::Execute, mode(user))
        .map(|l| l.xlat.pa);
    t.walks += 1;
    // SAFETY: the callers jump only to fetch stubs' addresses whose walks
    // all fault or reach a tagged block (`fetches`); a stub sets a0 and
    // returns.
    let hw = unsafe { probe::fetch(target, user) };
    t.probes += 1;
    t.fetches += 1;
    match &hw {
        Ok(_) => t.fetched[user as usize] += 1,
        Err(_) => t.faults += 1,
    }
    let err = match (&sw, &hw) {
        (Ok(pa), Ok(v)) if *v == data::fetch_value(*pa) => return,
        (Ok(pa), Ok(v)) => format!("stub returned {v:#x}, the stub of pa {pa:#x} expected"),
        (Err(_), Err(f)) if f.scause == probe::FETCH_PF && f.stval == target => return,
        (Err(_), Err(f)) => format!(
            "real fault scause={} stval={:#x}, walker: fetch page fault {}",
            f.scause,
            f.stval,
            show(&sw)
        ),
        (Ok(_), Err(f)) => format!(
            "real fetch faulted (scause={} stval={:#x}), walker allows it ({})",
            f.scause,
            f.stval,
            show(&sw)
        ),
        (Err(_), Ok(_)) => format!("real fetch succeeded, walker: {}", show(&sw)),
    };
    let m = if user { "U" } else { "S" };
    t.differ(format!(
        "fetch {target:#x} (root {root:#x}, {m}-mode): {err}"
    ));
}
