//! Leave QEMU with a status through the isa-debug-exit device
//! (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`), with the `qemu-exit`
//! crate: writing `v` makes QEMU exit with status `(v << 1) | 1`.

use qemu_exit::QEMUExit;

/// The I/O port xtask gives the isa-debug-exit device.
const DEBUG_EXIT_PORT: u16 = 0xf4;
/// QEMU's exit status for a passing run (value 0x10 written).
pub const PASS_STATUS: u32 = 33;
/// The value written for a failing run: QEMU exits with 35.
const FAIL_VALUE: u32 = 0x11;

/// The isa-debug-exit device at `DEBUG_EXIT_PORT`.
fn device() -> qemu_exit::X86 {
    // SAFETY: xtask (and the README's command line) create the device at
    // this port; the kernel writes nothing else there.
    unsafe { qemu_exit::X86::new(DEBUG_EXIT_PORT, PASS_STATUS) }
}

/// Exit with status 33 (halts if the device is absent).
pub fn pass() -> ! {
    device().exit_success()
}

/// Exit with status 35 (halts if the device is absent).
pub fn fail() -> ! {
    device().exit(FAIL_VALUE)
}
