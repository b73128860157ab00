//! The probes' exception table: which faulting instructions may resume, and
//! where; and the record of the last fault taken there.
//!
//! This is the bottom both sides use, so neither imports the other: the
//! probes (`probe.rs`) emit one entry per access into the `.pgq_extable`
//! section and read [`last_fault`]; the trap code (`interrupts.rs`) asks
//! [`fixup_exception`] where to resume. It is the idea of Linux's
//! exception table (`search_exception_tables()` in kernel/extable.c, used
//! by x86's `fixup_exception()` in arch/x86/mm/extable.c), with absolute
//! addresses because the image is linked at a fixed address.
//!
//! The table's contract: every listed instruction is a #PF/#GP-able access
//! whose address is in `rdi` (a #GP, e.g. for a non-canonical address, sets
//! no CR2, so the address is taken from there).

use crate::cpu::{cpu_index, MAX_CPUS};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::structures::idt::ExceptionVector;

/// #GP: what a non-canonical address raises.
pub const VECTOR_GP: u64 = ExceptionVector::GeneralProtection as u64;
/// #PF.
pub const VECTOR_PF: u64 = ExceptionVector::Page as u64;

/// One entry, as the probes' `PGQ_EXTABLE` assembler macro writes it.
#[repr(C)]
struct ExtableEntry {
    /// Address of the access that may fault.
    insn: u64,
    /// Where execution resumes after a fault there.
    fixup: u64,
}

extern "C" {
    // Bounds of `.pgq_extable`, from linker.ld.
    static __pgq_extable_start: ExtableEntry;
    static __pgq_extable_end: ExtableEntry;
}

fn entries() -> &'static [ExtableEntry] {
    let start = &raw const __pgq_extable_start;
    let end = &raw const __pgq_extable_end;
    // SAFETY: linker.ld places only `.pgq_extable` input sections, 8-byte
    // aligned, between the two symbols, and every entry there is two
    // `.quad`s written by `PGQ_EXTABLE`, so [start, end) is an array of
    // `ExtableEntry` in the read-only image, never written.
    unsafe {
        let len = (end as usize - start as usize) / core::mem::size_of::<ExtableEntry>();
        core::slice::from_raw_parts(start, len)
    }
}

/// A fault taken at a table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// 14 (#PF) or 13 (#GP, e.g. non-canonical address).
    pub vector: u64,
    /// CR2 for #PF; the probed address (`rdi`) for #GP.
    pub addr: u64,
    /// The CPU's error code (#PF: bit 0 present, 1 write, 2 user, 3 reserved
    /// bit, 4 instruction fetch).
    pub error_code: u64,
    /// Address of the faulting instruction.
    pub rip: u64,
}

impl Fault {
    pub fn is_page_fault(&self) -> bool {
        self.vector == VECTOR_PF
    }
    /// #PF error code bit 0: the page was present (protection violation).
    pub fn present(&self) -> bool {
        self.error_code & 1 != 0
    }
    /// #PF error code bit 1: the access was a write.
    pub fn write(&self) -> bool {
        self.error_code & 2 != 0
    }
}

/// The last fault of one CPU. Per CPU because in the SMP mode several
/// CPUs probe (and fault) at the same time: a shared record would hand one
/// CPU's fault to another's probe.
struct LastFault {
    vector: AtomicU64,
    addr: AtomicU64,
    error: AtomicU64,
    rip: AtomicU64,
}

static LAST: [LastFault; MAX_CPUS] = [const {
    LastFault {
        vector: AtomicU64::new(0),
        addr: AtomicU64::new(0),
        error: AtomicU64::new(0),
        rip: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Called by the exception dispatcher: if `vector` is #PF or #GP at a table
/// instruction `rip`, record the fault and return the address to resume at.
/// The fault address is CR2 for #PF and `rdi` (the table's contract) for
/// #GP.
pub fn fixup_exception(vector: u64, error_code: u64, rip: u64, rdi: u64) -> Option<u64> {
    if vector != VECTOR_PF && vector != VECTOR_GP {
        return None;
    }
    let fetch = FETCH_TARGET[cpu_index()].load(Ordering::SeqCst);
    let fixup = match entries().iter().find(|e| e.insn == rip) {
        Some(e) => e.fixup,
        // A fetch probe's #PF at its target: the fetch itself faulted.
        None if vector == VECTOR_PF && fetch != 0 && rip == fetch => {
            FETCH_TARGET[cpu_index()].store(0, Ordering::SeqCst);
            FETCH_FIXUP.load(Ordering::SeqCst)
        }
        None => return None,
    };
    let addr = if vector == VECTOR_PF {
        crate::cpu::read_cr2()
    } else {
        rdi
    };
    let last = &LAST[cpu_index()];
    last.vector.store(vector, Ordering::SeqCst);
    last.addr.store(addr, Ordering::SeqCst);
    last.error.store(error_code, Ordering::SeqCst);
    last.rip.store(rip, Ordering::SeqCst);
    Some(fixup)
}

/// The fault [`fixup_exception`] recorded last on this CPU.
pub fn last_fault() -> Fault {
    let last = &LAST[cpu_index()];
    Fault {
        vector: last.vector.load(Ordering::SeqCst),
        addr: last.addr.load(Ordering::SeqCst),
        error_code: last.error.load(Ordering::SeqCst),
        rip: last.rip.load(Ordering::SeqCst),
    }
}

/// Per CPU: the target of the fetch probe in progress (0: none). A #PF
/// whose RIP is that target resumes at [`FETCH_FIXUP`]: unlike the table's
/// entries, the faulting instruction is the target, not the probe's.
static FETCH_TARGET: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Where a fetch probe resumes after a #PF at its target.
static FETCH_FIXUP: AtomicU64 = AtomicU64::new(0);

/// Arm (`target` != 0, resuming at `fixup`) or disarm (0) this CPU's fetch
/// probe.
pub fn arm_fetch(target: u64, fixup: u64) {
    FETCH_FIXUP.store(fixup, Ordering::SeqCst);
    FETCH_TARGET[cpu_index()].store(target, Ordering::SeqCst);
}
