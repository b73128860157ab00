//! The real MMU against the software MMU (and the library's own walk) over
//! the same table memory, for thousands of addresses in every root.
//!
//! For each root (init_mm and every process) and each sample address the
//! software MMU walks the tables first; then the CPU, with that root in CR3,
//! reads the address. They must agree on fault or no fault and on the error
//! code; where mapped, the word read must be the tag of the physical
//! address the software MMU computed (tagged RAM holds its own address), and
//! on read-only pages a write must fault as the software MMU says.

mod fetch;
mod sample;
pub mod setup;

use crate::data;
use crate::probe;
use crate::report::Checks;
use crate::space::{self, Machine, PhysMem};
use crate::touch::{self, same_fault};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;
use pgtable::{PhysAddr, VirtAddr};

/// Comparisons the check must reach.
const MIN_COMPARED: u64 = 10_000;

#[derive(Default)]
struct Tally {
    compared: u64,
    mapped: u64,
    faults: u64,
    writes: u64,
    skipped: u64,
    library: u64,
    /// Fetch probes (`fetch::check`), and those that returned from the stub.
    fetches: u64,
    fetched: u64,
    differences: Vec<String>,
    /// Per address, a bit per root in which the software MMU maps it.
    mapped_in: Vec<u32>,
}

impl Tally {
    fn differ(&mut self, what: String) {
        self.differences.push(what);
    }
}

pub fn run(c: &mut Checks, main: &setup::Main) {
    c.record_detail("crosscheck", crosscheck(main));
    c.record_detail("crosscheck-fetch-negative", fetch::negative(main));
}

fn crosscheck(main: &setup::Main) -> Result<String, String> {
    let m = &main.m;
    let mut roots = alloc::vec![m.pt.kernel_root(), m.home.root()];
    roots.extend(main.spaces.iter().map(|s| s.root()));
    let arch = m.pt.arch();
    let dm = arch
        .layout()
        .get(RegionKind::DirectMap)
        .map_or(0, |r| r.start);
    let addrs = sample::addresses(&m.mmu, arch, &roots, dm);
    let mut t = Tally {
        mapped_in: alloc::vec![0; addrs.len()],
        ..Tally::default()
    };
    for (i, &root) in roots.iter().enumerate() {
        space::switch_to(root);
        for (j, &va) in addrs.iter().enumerate() {
            if compare(m, root, va, &mut t) {
                t.mapped_in[j] |= 1 << i;
            }
            fetch::check(&m.mmu, &PhysMem, root, va, &mut t);
        }
    }
    space::go_home();
    // Addresses mapped in some roots only: the unsynced legacy mapping and
    // the processes' own user pages.
    let all = (1u32 << roots.len()) - 1;
    let root_dependent = t.mapped_in.iter().filter(|&&b| b != 0 && b != all).count();
    let detail = format!(
        "compared={} differences={} roots={} addresses={} root_dependent={root_dependent} \
         mapped={} faults={} ro_writes={} skipped_non_ram={} library_agrees={} \
         fetches={} (returned {})",
        t.compared,
        t.differences.len(),
        roots.len(),
        addrs.len(),
        t.mapped,
        t.faults,
        t.writes,
        t.skipped,
        t.library,
        t.fetches,
        t.fetched
    );
    if let Some(first) = t.differences.first() {
        return Err(format!("{detail}; first: {first}"));
    }
    if t.compared < MIN_COMPARED {
        return Err(format!("{detail}: fewer than {MIN_COMPARED}"));
    }
    Ok(detail)
}

/// One address through the root in CR3; returns whether it is mapped.
fn compare(m: &Machine, root: PhysAddr, va: u64, t: &mut Tally) -> bool {
    let soft = touch::soft(&m.mmu, root, va, false);
    let lib =
        m.pt.translate(root, VirtAddr(va))
            .map(|l| l.translate(VirtAddr(va)).0);
    let here = |what: &str| format!("root {:#x} va {va:#x}: {what}", root.0);
    match soft {
        Ok(tr) if !data::is_ram(tr.pa) => {
            // Device or absent memory behind a valid mapping: not read.
            t.skipped += 1;
            true
        }
        Ok(tr) => {
            t.compared += 1;
            t.mapped += 1;
            match probe::read_u64(va) {
                Err(f) => t.differ(here(&format!("real {f:x?}, soft pa {:#x}", tr.pa))),
                Ok(v) if data::tag_at(tr.pa).is_some_and(|w| w != v) => {
                    t.differ(here(&format!("read tag {v:#x}, soft pa {:#x}", tr.pa)))
                }
                Ok(_) => {}
            }
            if lib == Some(tr.pa) {
                t.library += 1;
            } else {
                t.differ(here(&format!("library {lib:x?}, soft pa {:#x}", tr.pa)));
            }
            if !tr.writable || data::is_tagged(tr.pa) {
                write_check(m, root, va, t);
            }
            true
        }
        Err(f) => {
            t.compared += 1;
            t.faults += 1;
            match probe::read_u64(va) {
                Err(r) if same_fault(&r, &f, va) => {}
                real => t.differ(here(&format!(
                    "real {real:x?}, soft {:?}@{} err {:#x}",
                    f.kind,
                    f.level,
                    f.error_code()
                ))),
            }
            if lib.is_some() {
                t.differ(here(&format!("library maps it at {lib:x?}, soft faults")));
            } else {
                t.library += 1;
            }
            false
        }
    }
}

/// A write probe (rewrites the byte it read) against the software MMU.
fn write_check(m: &Machine, root: PhysAddr, va: u64, t: &mut Tally) {
    let soft = touch::soft(&m.mmu, root, va, true);
    let real = probe::probe(va, true);
    t.compared += 1;
    if soft.is_err() {
        t.writes += 1;
    }
    let agree = match (&real, &soft) {
        (Ok(()), Ok(_)) => true,
        (Err(r), Err(s)) => same_fault(r, s, va),
        _ => false,
    };
    if !agree {
        t.differ(format!(
            "root {:#x} va {va:#x} write: real {real:x?}, soft {soft:x?}",
            root.0
        ));
    }
}
