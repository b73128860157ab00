//! Output and exit through OpenSBI: the legacy `console_putchar` call (the
//! SBI firmware owns the NS16550 UART of `virt`) and the System Reset
//! extension. OpenSBI implements a shutdown through QEMU's `sifive_test`
//! device: reason "none" writes FINISHER_PASS (QEMU exits 0), any other
//! reason FINISHER_FAIL (QEMU exits 1).

use core::fmt;

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            #[allow(deprecated)]
            sbi_rt::legacy::console_putchar(usize::from(b));
        }
        Ok(())
    }
}

pub fn print(args: fmt::Arguments) {
    use fmt::Write;
    let _g = LOCK.lock();
    let _ = Console.write_fmt(args);
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

fn reset(fail: bool) -> ! {
    if fail {
        sbi_rt::system_reset(sbi_rt::Shutdown, sbi_rt::SystemFailure);
    } else {
        sbi_rt::system_reset(sbi_rt::Shutdown, sbi_rt::NoReason);
    }
    // No SRST extension: the legacy shutdown (exit status 0 either way).
    #[allow(deprecated)]
    sbi_rt::legacy::shutdown()
}

/// Leave QEMU with status 0.
pub fn pass() -> ! {
    reset(false)
}

/// Leave QEMU with status 1.
pub fn fail() -> ! {
    reset(true)
}
