//! Check reporting on serial, in the format `cargo xtask qemu` parses:
//! `CHECK <name> ok`, `CHECK <name> FAIL <detail>`, then `RESULT pass` or
//! `RESULT fail` and the matching QEMU exit status. An `ok` may be followed
//! by a detail (`CHECK <name> ok faulted=1 ...`).

use crate::{exit, println};
use alloc::string::String;

/// Outcome of one check: `Err` carries a one-line detail.
pub type CheckResult = Result<(), String>;

/// `ensure!(cond, "detail {}", x)`: return `Err(format!(..))` from the
/// enclosing check when `cond` is false.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}

#[derive(Default)]
pub struct Checks {
    pub passed: u32,
    pub failed: u32,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Print one `CHECK` line for `result`.
    pub fn record(&mut self, name: &str, result: CheckResult) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("CHECK {name} ok");
            }
            Err(detail) => {
                self.failed += 1;
                // Keep the line a single line for the parser.
                let detail = detail.replace('\n', " ");
                println!("CHECK {name} FAIL {detail}");
            }
        }
    }

    /// Record an outcome that carries a detail on success too:
    /// `CHECK <name> ok <detail>`.
    pub fn record_detail(&mut self, name: &str, result: Result<String, String>) {
        match result {
            Ok(detail) => {
                self.passed += 1;
                println!("CHECK {name} ok {}", detail.replace('\n', " "));
            }
            Err(detail) => self.record(name, Err(detail)),
        }
    }

    /// Run `f` and record its outcome under `name`.
    pub fn run(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        let r = f();
        self.record(name, r);
    }

    /// Print the summary and `RESULT`, then exit QEMU (33 on pass).
    pub fn finish(&self) -> ! {
        println!("SUMMARY {} ok, {} failed", self.passed, self.failed);
        if self.failed == 0 {
            println!("RESULT pass");
            exit::pass()
        } else {
            println!("RESULT fail");
            exit::fail()
        }
    }
}
