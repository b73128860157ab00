//! PL011 UART of QEMU `virt` (physical 0x0900_0000), transmit only. QEMU's
//! model needs no set-up: writing the data register sends the byte.

use core::fmt;

/// Physical address of the PL011.
pub const UART_PA: u64 = 0x0900_0000;
const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// The PL011 through the kernel's own mapping (`KBASE + UART_PA`).
pub fn base() -> u64 {
    crate::frame::KBASE + UART_PA
}

fn put(b: u8) {
    // SAFETY: KBASE + UART_PA maps the PL011 as Device memory in the boot
    // tables and in every kernel root this kernel loads; FR and DR are its
    // 32-bit flag and data registers.
    unsafe {
        while core::ptr::read_volatile((base() + FR) as *const u32) & FR_TXFF != 0 {}
        core::ptr::write_volatile((base() + DR) as *mut u32, u32::from(b));
    }
}

struct Uart;

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                put(b'\r');
            }
            put(b);
        }
        Ok(())
    }
}

pub fn print(args: fmt::Arguments) {
    use fmt::Write;
    let _g = LOCK.lock();
    let _ = Uart.write_fmt(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::uart::print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::uart::print(format_args!("{}\n", format_args!($($arg)*))));
}
