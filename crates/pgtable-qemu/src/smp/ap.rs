//! What the application processors run, and how the BSP tells them.
//!
//! The BSP posts a command (a sequence number and a kind) in [`CMD`]; each
//! AP runs it and stores the sequence number in its `DONE` slot. Loop
//! commands (`Watch`, `Rounds`) run until the BSP posts the next command.
//! Every BSP wait is bounded ([`wait`]): an AP that stops answering is a
//! failed check ("deadlock"), not a hang.

use crate::cpu::{self, MAX_CPUS};
use crate::{apic, gdt, interrupts, shootdown, space};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use pgtable::PhysAddr;

/// About 3.3 s at the 2.6 GHz TSC QEMU's TCG shows on this host (it
/// counts at the host's rate, `cpu::rdtsc`).
pub const TIMEOUT_CYCLES: u64 = 1 << 33;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Kind {
    Idle = 0,
    /// Load `ROOT[cpu]` into CR3.
    Switch = 1,
    /// The concurrent kernel-change check (`changes`, `watch`).
    Watch = 2,
    /// The edit rounds (`rounds`).
    Rounds = 3,
}

static CMD: AtomicU64 = AtomicU64::new(0);
static ROOT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static DONE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
pub static ONLINE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Each AP's (APIC ID register, CPUID initial APIC ID) as it saw them.
pub static IDS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; MAX_CPUS];

/// Whether the command `seq` is still the current one (loops end when not).
pub fn current(seq: u64) -> bool {
    CMD.load(Ordering::Acquire) >> 8 == seq
}

/// Post a command and wake the APs; returns its sequence number.
pub fn post(kind: Kind) -> u64 {
    let seq = (CMD.load(Ordering::Relaxed) >> 8) + 1;
    CMD.store(seq << 8 | kind as u64, Ordering::Release);
    let online: Vec<usize> = (1..MAX_CPUS)
        .filter(|&ap| ONLINE[ap].load(Ordering::Acquire))
        .collect();
    wake(&online);
    seq
}

/// Send the wake-up IPI to `aps` (after publishing what they wait for).
pub fn wake(aps: &[usize]) {
    for &ap in aps {
        // A wake-up that stays pending shows as the waiter's timeout.
        let _ = apic::send_fixed(ap as u32, shootdown::VECTOR_WAKE);
    }
}

/// Halt this AP until `ready()`. Waiting in `hlt` rather than spinning
/// lets QEMU park the vCPU's thread, so the CPUs that have work get the
/// host's cores (a spinning vCPU on a loaded 2-core host made each handoff
/// cost a scheduler time slice). Interrupts are off while `ready` is
/// checked and `sti; hlt` re-enables them atomically (the one-instruction
/// shadow of `sti`), so a wake-up sent after the check still ends the halt.
pub fn sleep_until(mut ready: impl FnMut() -> bool) {
    loop {
        x86_64::instructions::interrupts::disable();
        if ready() {
            x86_64::instructions::interrupts::enable();
            return;
        }
        x86_64::instructions::interrupts::enable_and_hlt();
    }
}

/// Spin until `done()` or the timeout; `Err` names what did not happen.
pub fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let t0 = cpu::rdtsc();
    while !done() {
        if cpu::rdtsc().wrapping_sub(t0) > TIMEOUT_CYCLES {
            return Err(format!(
                "deadlock: {what} not within {TIMEOUT_CYCLES} TSC cycles"
            ));
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// Post `kind` and wait until every AP in `aps` has finished it (loop
/// commands finish when the next command is posted).
pub fn run(kind: Kind, aps: &[usize]) -> Result<u64, String> {
    let seq = post(kind);
    if kind != Kind::Watch && kind != Kind::Rounds {
        wait_done(seq, aps)?;
    }
    Ok(seq)
}

/// Wait until every AP in `aps` finished command `seq`.
pub fn wait_done(seq: u64, aps: &[usize]) -> Result<(), String> {
    for &ap in aps {
        wait(&format!("cpu {ap} finishing command {seq}"), || {
            DONE[ap].load(Ordering::Acquire) >= seq
        })?;
    }
    Ok(())
}

/// Make each AP `aps[i]` run on `roots[i]`.
pub fn switch(aps: &[usize], roots: &[PhysAddr]) -> Result<(), String> {
    for (&ap, root) in aps.iter().zip(roots) {
        ROOT[ap].store(root.0, Ordering::Relaxed);
    }
    run(Kind::Switch, aps).map(|_| ())
}

/// The Rust entry of an AP, called by the trampoline on its own stack.
pub extern "C" fn entry(cpu: u64) -> ! {
    let me = (cpu as usize).min(MAX_CPUS - 1);
    let cpuid_id = u64::from(crate::cpu::cpuid(1).1 >> 24);
    IDS[me].store(u64::from(apic::id()) << 32 | cpuid_id, Ordering::Relaxed);
    gdt::init_ap(me);
    interrupts::load_on_ap();
    apic::enable(shootdown::VECTOR_SPURIOUS);
    ONLINE[me].store(true, Ordering::Release);
    // Shootdown IPIs arrive from here on.
    x86_64::instructions::interrupts::enable();
    let mut done = 0;
    loop {
        sleep_until(|| CMD.load(Ordering::Acquire) >> 8 != done);
        let cmd = CMD.load(Ordering::Acquire);
        let seq = cmd >> 8;
        match cmd & 0xff {
            k if k == Kind::Switch as u64 => {
                space::switch_to(PhysAddr(ROOT[me].load(Ordering::Relaxed)))
            }
            k if k == Kind::Watch as u64 => super::ap_work(Kind::Watch, me, seq),
            k if k == Kind::Rounds as u64 => super::ap_work(Kind::Rounds, me, seq),
            _ => {}
        }
        DONE[me].store(seq, Ordering::Release);
        done = seq;
    }
}
