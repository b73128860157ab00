//! Check results in the line format `cargo xtask qemu` reads:
//! `CHECK <name> ok [detail]`, `CHECK <name> FAIL <detail>`, then
//! `SUMMARY <n> ok, <m> failed` and `RESULT pass|fail`.

use alloc::string::String;
use core::fmt::Arguments;

/// A check's outcome: the detail printed after `ok`, or why it failed.
pub type CheckResult = Result<String, String>;

/// Where a kernel prints and how it leaves QEMU.
pub trait Console {
    /// Print one line.
    fn line(args: Arguments<'_>);
    /// Leave QEMU with the architecture's pass status.
    fn pass() -> !;
    /// Leave QEMU with its failure status.
    fn fail() -> !;
}

/// The checks run so far.
pub struct Checks<C> {
    ok: usize,
    failed: usize,
    console: core::marker::PhantomData<C>,
}

impl<C> Default for Checks<C> {
    fn default() -> Self {
        Checks {
            ok: 0,
            failed: 0,
            console: core::marker::PhantomData,
        }
    }
}

impl<C: Console> Checks<C> {
    /// Print the `CHECK` line of `r`.
    pub fn record(&mut self, name: &str, r: CheckResult) {
        match r {
            Ok(d) if d.is_empty() => {
                self.ok += 1;
                C::line(format_args!("CHECK {name} ok"));
            }
            Ok(d) => {
                self.ok += 1;
                C::line(format_args!("CHECK {name} ok {d}"));
            }
            Err(e) => {
                self.failed += 1;
                C::line(format_args!("CHECK {name} FAIL {e}"));
            }
        }
    }

    /// Run `f` and record it as `name`.
    pub fn run(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        let r = f();
        self.record(name, r);
    }

    /// Checks failed so far.
    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Print the summary and leave QEMU.
    pub fn finish(self) -> ! {
        C::line(format_args!(
            "SUMMARY {} ok, {} failed",
            self.ok, self.failed
        ));
        if self.failed == 0 {
            C::line(format_args!("RESULT pass"));
            C::pass()
        } else {
            C::line(format_args!("RESULT fail"));
            C::fail()
        }
    }
}
