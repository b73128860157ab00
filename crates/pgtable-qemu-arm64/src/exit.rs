//! Leaving QEMU with a status through semihosting (`-semihosting`):
//! `SYS_EXIT` with `ADP_Stopped_ApplicationExit` makes QEMU exit with the
//! given code (33 pass, 35 fail, as the x86-64 kernel's isa-debug-exit).

use qemu_exit::QEMUExit;

/// The status `xtask` expects from a passing run.
pub const PASS: u32 = 33;
/// The status of a failing run.
pub const FAIL: u32 = 35;

pub fn pass() -> ! {
    qemu_exit::AArch64::new().exit(PASS)
}

pub fn fail() -> ! {
    qemu_exit::AArch64::new().exit(FAIL)
}
