//! Output on COM1 (16550 UART at port 0x3f8, `uart_16550`) and the exit
//! status through QEMU's isa-debug-exit device (port 0xf4, `qemu-exit`):
//! QEMU exits with `(value << 1) | 1`, so 33 for pass and 35 for fail, as
//! the x86-64 kernel.

use core::fmt;
use qemu_exit::QEMUExit;
use uart_16550::{Config, Uart16550Tty};

type Uart = Uart16550Tty<uart_16550::backend::PioBackend>;

static UART: spin::Mutex<Option<Uart>> = spin::Mutex::new(None);

/// isa-debug-exit's port (xtask: `-device isa-debug-exit,iobase=0xf4`)
/// and the statuses of pass and fail.
const EXIT_PORT: u16 = 0xf4;
const STATUS_PASS: u32 = 33;
const STATUS_FAIL: u32 = 35;

/// Set up COM1.
pub fn init() {
    // SAFETY: 0x3f8 is COM1 on QEMU's pc machine; only this module touches
    // its ports, behind the lock.
    let uart = unsafe { Uart16550Tty::new_port(0x3f8, Config::default()) };
    *UART.lock() = uart.ok();
}

pub fn print(args: fmt::Arguments) {
    use fmt::Write;
    if let Some(u) = UART.lock().as_mut() {
        let _ = u.write_fmt(args);
    }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::print(format_args!("{}\n", format_args!($($arg)*))));
}

fn exit() -> qemu_exit::X86 {
    // SAFETY: xtask starts QEMU with isa-debug-exit at EXIT_PORT.
    unsafe { qemu_exit::X86::new(EXIT_PORT, STATUS_PASS) }
}

/// Leave QEMU with status 33.
pub fn pass() -> ! {
    exit().exit_success()
}

/// Leave QEMU with status 35 (isa-debug-exit value 0x11).
pub fn fail() -> ! {
    exit().exit(STATUS_FAIL >> 1)
}
