//! arm32's kernel fault handler, as the scenarios apply it in every era
//! (the eras themselves and which code each runs are the shared table,
//! `pgtable_qemu_common::era`, whose verdicts `cargo xtask qemu` checks
//! against the simulator's `crates/pgtable-sim/VERDICTS.md`, column
//! `arm32/short`).

/// `do_translation_fault()` (`arch/arm/mm/fault.c`), in every era: a
/// translation fault at `addr >= TASK_SIZE` whose first-level entry
/// init_mm has is fixed by copying that entry into the faulting mm's table
/// and retrying the access. `task_size` is the library's `kernel_start()`
/// (0xBF00_0000).
pub fn fault_handler_covers(addr: u64, task_size: u64) -> bool {
    addr >= task_size
}
