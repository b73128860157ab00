//! SMP: the historical bugs and TLB shootdowns with real concurrent CPUs
//! (the `4-smp` mode, `-smp 4`, cargo feature `smp`).
//!
//! 1. `smp-boot`: the BSP starts every AP with INIT-SIPI-SIPI through its
//!    local APIC; each AP runs the real-mode trampoline (`trampoline.rs`)
//!    into long mode on the BSP's tables, loads its own GDT/TSS and the
//!    shared IDT, enables its APIC and waits for commands (`ap.rs`).
//! 2. `changes`: the BSP makes the scenarios' kernel changes (hot-added
//!    memory in a new top-level slot with its vmemmap; a KASAN shadow) as
//!    old code and new code while the APs, each on its own address space
//!    created before the change, keep touching the new addresses.
//! 3. `rounds`: thousands of map / sync / touch / unmap / shootdown rounds
//!    with every CPU active, the shootdown through the library's
//!    `TlbFlush`; then the negative control, an unmap whose flush reaches
//!    the BSP only.

mod ap;
mod changes;
mod control;
mod flush_hook;
mod rounds;
mod trampoline;
mod watch;

use crate::cpu::{self, MAX_CPUS};
use crate::report::Checks;
use crate::{apic, println};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Each AP's stack.
const AP_STACK_SIZE: usize = 64 * 1024;
/// Cycles to wait after INIT and between the STARTUPs (the SDM's 10 ms and
/// 200 µs, rounded up for a TSC of up to 4 GHz; QEMU does not need them).
const INIT_DELAY: u64 = 40_000_000;
const SIPI_DELAY: u64 = 800_000;

#[repr(C, align(16))]
struct Stack([u8; AP_STACK_SIZE]);

fn delay(cycles: u64) {
    let t0 = cpu::rdtsc();
    while cpu::rdtsc().wrapping_sub(t0) < cycles {
        core::hint::spin_loop();
    }
}

/// Start APIC IDs 1 .. MAX_CPUS; returns the CPU indexes that came online
/// and the number of STARTUP IPIs sent.
fn start_aps() -> Result<(Vec<usize>, u32), String> {
    if cpu::cpuid(1).3 & (1 << 9) == 0 {
        return Err("CPUID.1:EDX.APIC is clear".into());
    }
    apic::check_xapic()?;
    let bsp = apic::id();
    if bsp != 0 || cpu::cpu_index() != 0 {
        return Err(format!("BSP has APIC ID {bsp}, expected 0"));
    }
    apic::enable(crate::shootdown::VECTOR_SPURIOUS);
    trampoline::install();
    let mut online = Vec::new();
    let mut sipis = 0;
    for ap in 1..MAX_CPUS {
        let stack = Box::leak(Box::new(Stack([0; AP_STACK_SIZE])));
        let stack_top = stack.0.as_ptr() as u64 + AP_STACK_SIZE as u64;
        trampoline::set_params(&trampoline::Params {
            cr3: cpu::read_cr3(),
            cr4: cpu::read_cr4(),
            cr0: cpu::read_cr0(),
            efer: cpu::read_efer() & (cpu::EFER_LME | cpu::EFER_NXE),
            stack_top,
            cpu: ap as u64,
            entry: ap::entry as *const () as u64,
        });
        let id = ap as u32;
        if !apic::send_init(id) {
            return Err(format!("INIT to APIC ID {id} stayed pending"));
        }
        delay(INIT_DELAY);
        for _ in 0..2 {
            if ap::ONLINE[ap].load(Ordering::Acquire) {
                break;
            }
            if !apic::send_startup(id, trampoline::SIPI_VECTOR) {
                return Err(format!("STARTUP to APIC ID {id} stayed pending"));
            }
            sipis += 1;
            delay(SIPI_DELAY);
        }
        let up = ap::wait(&format!("APIC ID {id} coming online"), || {
            ap::ONLINE[ap].load(Ordering::Acquire)
        });
        if up.is_ok() {
            // Its APIC ID register and CPUID's initial APIC ID must both
            // be the ID it was started by (the per-CPU index relies on it).
            let ids = ap::IDS[ap].load(Ordering::Relaxed);
            if ids != u64::from(id) << 32 | u64::from(id) {
                return Err(format!(
                    "APIC ID {id} came up as APIC ID {} / CPUID initial APIC ID {}",
                    ids >> 32,
                    ids & 0xffff_ffff
                ));
            }
            online.push(ap);
        }
    }
    Ok((online, sipis))
}

/// Run the SMP checks; `cmdline` may ask for `pgq.smp=stuck-ap`.
pub fn run(c: &mut Checks, cmdline: &str) {
    let stuck = cmdline.split_whitespace().any(|w| w == "pgq.smp=stuck-ap");
    rounds::STUCK_AP.store(stuck, Ordering::Relaxed);
    let t0 = cpu::rdtsc();
    let aps = match start_aps() {
        Ok((aps, sipis)) if aps.len() == MAX_CPUS - 1 => {
            let ids: Vec<u64> = aps
                .iter()
                .map(|&ap| ap::IDS[ap].load(Ordering::Relaxed) & 0xffff_ffff)
                .collect();
            c.record_detail(
                "smp-boot",
                Ok(format!(
                    "cpus={} aps={aps:?} apic_ids={ids:?} (= CPUID's) trampoline={:#x}+{:#x} \
                     sipi_vector={:#x} startup_ipis={sipis}",
                    aps.len() + 1,
                    trampoline::AP_BASE,
                    trampoline::len(),
                    trampoline::SIPI_VECTOR
                )),
            );
            aps
        }
        Ok((aps, _)) => {
            c.record(
                "smp-boot",
                Err(format!(
                    "{} of {} APs came online ({aps:?}); run with -smp {MAX_CPUS}",
                    aps.len(),
                    MAX_CPUS - 1
                )),
            );
            return;
        }
        Err(e) => {
            c.record("smp-boot", Err(e));
            return;
        }
    };
    changes::run(c, &aps);
    rounds::run(c, &aps, control::run);
    println!(
        "SMP done in {} M TSC cycles",
        cpu::rdtsc().wrapping_sub(t0) / 1_000_000
    );
}

/// An AP's share of a command, run from its loop (`ap::entry`): here so
/// that `ap`, which the commands use, does not depend on them.
fn ap_work(kind: ap::Kind, me: usize, seq: u64) {
    match kind {
        ap::Kind::Watch => watch::ap_loop(me, seq),
        ap::Kind::Rounds => rounds::ap_loop(me, seq),
        _ => {}
    }
}
