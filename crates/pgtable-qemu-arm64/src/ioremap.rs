//! The simulator's `ioremap` scenario on split roots, under every era: the
//! PL011's page mapped into the kernel half by `ioremap()` (old code: the
//! legacy populate; new code: the library's edit), read from processes A
//! and B (made before), C (after) and init_mm with TTBR0 switched to each.
//! Each read is translated by the software MMU and by `AT S1E1R` first
//! (the same physical address and MAIR attribute, or the same fault), and
//! must return what the kernel's own mapping of the PL011 reads
//! (UARTPeriphID0/1, read-only registers without side effects). On arm64
//! the kernel half comes from TTBR1 whatever TTBR0 holds, so the old code
//! must not fault either.

use crate::compare;
use crate::cpu::AtOp;
use crate::data;
use crate::machine::{self, Machine};
use crate::probe;
use crate::report::{CheckResult, Checks};
use crate::uart::UART_PA;
use alloc::format;
use alloc::vec::Vec;
use pgtable::PageSize;
use pgtable::{CacheMode, PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 256;
/// The PL011's UARTPeriphID0 register.
const PERIPH_ID0: u64 = 0xfe0;

pub fn run(c: &mut Checks) {
    let name = "ioremap";
    for era in Era::ALL
        .into_iter()
        .filter(|e| e.exists(name, Family::Arm64))
    {
        let code = era.code(era::user_of(name), Family::Arm64);
        let r = scenario(code);
        machine::go_home();
        c.record(&format!("{name}/{}/{}", era.name(), code.name()), r);
    }
}

fn scenario(code: Code) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.load_kernel();
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
        // SAFETY: arm64 needs no sync (split roots), which is what this
        // scenario shows; the reads below are probes whose faults would be
        // caught, recorded and survived.
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
    spaces.push(m.pt.create_space().map_err(e)?);
    // The reference: the same registers through the kernel's own mapping.
    let want = probe::read(crate::uart::base() + PERIPH_ID0, false)
        .map_err(|f| format!("PL011 through the kernel's mapping: ESR={:#x}", f.esr))?;
    let addr = va + PERIPH_ID0;
    let (mut reads, mut faults, mut predicted) = (0u64, 0u64, 0u64);
    let names = ["A", "B", "C", "init_mm"];
    for (i, name) in names.iter().enumerate() {
        let space = spaces.get(i);
        m.enter(space);
        let roots = m.roots(space);
        reads += 1;
        let sw = compare::software(&m.mmu, &roots, AtOp::E1R, addr);
        let hw = compare::hardware(AtOp::E1R, addr);
        predicted += u64::from(sw.is_err());
        if sw != hw || sw.is_ok_and(|(p, _)| p != UART_PA + PERIPH_ID0) {
            return Err(format!("{name}: {addr:#x}: walker {sw:x?}, AT {hw:x?}"));
        }
        match probe::read(addr, false) {
            Ok(v) if v == want => {}
            Ok(v) => return Err(format!("{name}: {addr:#x} read {v:#x}, want {want:#x}")),
            Err(f) => {
                faults += 1;
                if sw.is_ok() || f.far != addr {
                    return Err(format!(
                        "{name}: {addr:#x}: FAULT ESR={:#x} FAR={:#x}, walker {sw:x?}",
                        f.esr, f.far
                    ));
                }
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
        "verdict={} reads={reads} faults={faults} predicted={predicted} from spaces A,B (made before), C (after) and init_mm with TTBR0 switched; ioremap(PL011 {UART_PA:#x}, 4 KiB) at {va:#x}, UARTPeriphID0/1={want:#x}; {}",
        // No arm64 fault handler fixes kernel faults: any fault is an oops.
        era::verdict(faults, 0),
        match code {
            Code::Old => "legacy populate, never synced",
            Code::New => "library edit",
        }
    ))
}
