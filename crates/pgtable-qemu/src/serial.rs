//! COM1 (16550 UART at port 0x3f8) through the `uart_16550` crate, and the
//! `print!` / `println!` macros.
//!
//! Output is not locked: only the BSP prints (in the SMP image an AP prints
//! only on its way to a fatal exit), with interrupts disabled,
//! and exception handlers must be able to print while the main code is in
//! the middle of a line (a lock held there would deadlock the handler). So
//! each print takes a fresh driver handle for the port instead of sharing
//! one behind a lock. A handle is software state only (the port, a
//! configuration, status bits it has seen) and makes no port access when
//! created; the device itself is programmed once, by [`init`].

use core::fmt;
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550, Uart16550Tty};

const COM1_PORT: u16 = 0x3f8;

/// A driver handle for COM1 (no port access).
const fn com1() -> Uart16550<PioBackend> {
    // SAFETY: COM1's eight ports belong to the UART of QEMU's PC machine and
    // nothing else in this kernel uses them.
    match unsafe { Uart16550::new_port(COM1_PORT) } {
        Ok(uart) => uart,
        // Evaluated at compile time (`COM1`): a bad port fails the build.
        Err(_) => panic!("COM1's port range is valid"),
    }
}

const COM1: Uart16550<PioBackend> = com1();

/// 115200 8N1 with the 14-byte FIFO on and no interrupts: the crate's
/// default apart from the rate (its docs say QEMU transmits nothing with
/// the FIFO off).
const CONFIG: Config = Config {
    baud_rate: BaudRate::Baud115200,
    ..Config::DEFAULT
};

/// Program COM1 and run the crate's loopback self-test. Without a working
/// serial port no check can be reported, so a failure exits QEMU with the
/// fail status at once.
pub fn init() {
    let mut uart = COM1;
    if uart.init(CONFIG).is_err() || uart.test_loopback().is_err() {
        crate::exit::fail()
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    // `Uart16550Tty` sends `\n` as `\r\n`. Sending polls the line status
    // register and fills the FIFO; of the handle's configuration it reads
    // only the FIFO and CTS settings, which `CONFIG` leaves at their
    // defaults, so a fresh handle sends as the one `init` used.
    let _ = fmt::Write::write_fmt(&mut Uart16550Tty::from_inner(COM1), args);
}

/// Print to COM1.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::serial::_print(format_args!($($arg)*)));
}

/// Print to COM1 with a newline.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::serial::_print(format_args!("{}\n", format_args!($($arg)*))));
}
