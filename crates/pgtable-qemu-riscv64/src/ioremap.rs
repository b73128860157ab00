//! The simulator's `ioremap` scenario on riscv's single root, under every
//! era: the page of `virt`'s NS16550A UART (physical 0x1000_0000, unused
//! by this kernel, whose console is SBI's) mapped into the kernel half by
//! `ioremap()` (old code: the legacy populate; new code: the library's
//! edit), read from processes A and B (made before), C (after) and init_mm
//! with satp switched to each. The software MMU is asked first; a read
//! must succeed exactly where it translates (to the UART's address), and
//! every read must return what init_mm's read returned (QEMU's 16550
//! answers an 8-byte load at offset 0 with RBR alone; nothing is received,
//! so it stays put). The vmalloc area, where ioremap maps, is preallocated
//! at boot, so the old code must not fault either.

use crate::compare::{self, LOAD_PF};
use crate::data;
use crate::machine::{self, Machine};
use crate::probe;
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::vec::Vec;
use pgtable::PageSize;
use pgtable::{CacheMode, PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_mmu::Access;
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 256;
/// `virt`'s NS16550A.
const UART_PA: u64 = 0x1000_0000;

pub fn run(c: &mut Checks) {
    let name = "ioremap";
    for era in Era::ALL
        .into_iter()
        .filter(|e| e.exists(name, Family::Riscv64))
    {
        let code = era.code(era::user_of(name), Family::Riscv64);
        let r = scenario(code);
        machine::go_home();
        c.record(&format!("{name}/{}/{}", era.name(), code.name()), r);
    }
}

fn scenario(code: Code) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.enter(None);
    let block = data::block_2m()?;
    let e = |x: pgtable::Error| format!("{x:?}");
    let mut spaces = Vec::new();
    for _ in 0..2 {
        let mut s = m.pt.create_space().map_err(e)?;
        m.pt.user(&mut s)
            .and_then(|mut u| {
                u.map_range(
                    VirtAddr(0x40_0000),
                    PhysAddr(block),
                    PAGE_SIZE,
                    Prot::USER_RW,
                    PageSize::Base,
                )
            })
            .map_err(|x| format!("user map: {x:?}"))?;
        spaces.push(s);
    }
    let pa = PhysAddr(UART_PA);
    let mut kernel = m.pt.kernel();
    let va = match code {
        // SAFETY: the old code path on purpose; the reads below are probes
        // whose faults are caught, recorded and survived.
        Code::Old => unsafe {
            kernel.legacy_edit(|ed| ed.ioremap(pa, 0x1000, CacheMode::Uncached))
        },
        Code::New => {
            kernel
                .edit(|ed| ed.ioremap(pa, 0x1000, CacheMode::Uncached))
                .0
        }
    }
    .map_err(e)?
    .0;
    machine::flush();
    spaces.push(m.pt.create_space().map_err(e)?);
    let mmu = machine::software_mmu(false);
    let (mut reads, mut faults, mut predicted) = (0u64, 0u64, 0u64);
    let mut want = None;
    for (name, space) in [
        ("init_mm", None),
        ("A", spaces.first()),
        ("B", spaces.get(1)),
        ("C", spaces.get(2)),
    ] {
        m.enter(space);
        let root = m.root(space);
        reads += 1;
        let sw = compare::software(&mmu, root, va, Access::Read);
        predicted += u64::from(sw.is_err());
        let hw = probe::read(va);
        match (&sw, &hw) {
            (Ok(p), Ok(v)) if *p == UART_PA && *want.get_or_insert(*v) == *v => {}
            (Err(_), Err(f)) if f.scause == LOAD_PF && f.stval == va => faults += 1,
            _ => {
                return Err(format!(
                    "{name}: {va:#x}: walker {sw:x?}, real {hw:x?}, init_mm read {want:x?}"
                ))
            }
        }
    }
    machine::go_home();
    for s in spaces {
        // This kernel flushes the whole TLB on every switch of roots.
        m.pt.destroy_space(s)
            .map_err(|_| "destroy_space refused")?
            .ignore();
    }
    Ok(format!(
        "verdict={} reads={reads} faults={faults} predicted={predicted} from init_mm, A, B (made before), C (after) with satp switched; ioremap(UART {UART_PA:#x}, 4 KiB) at {va:#x}; {}",
        // No riscv fault handler fixes kernel faults: any fault is an oops.
        era::verdict(faults, 0),
        match code {
            Code::Old => "legacy populate, never synced",
            Code::New => "library edit",
        }
    ))
}
