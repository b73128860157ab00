//! Check results in the line format `cargo xtask qemu` reads:
//! `CHECK <name> ok [detail]`, `CHECK <name> FAIL <detail>`, then
//! `SUMMARY <n> ok, <m> failed` and `RESULT pass|fail`.

use alloc::string::String;

pub type CheckResult = Result<String, String>;

#[derive(Default)]
pub struct Checks {
    ok: usize,
    failed: usize,
}

impl Checks {
    pub fn record(&mut self, name: &str, r: CheckResult) {
        match r {
            Ok(d) if d.is_empty() => {
                self.ok += 1;
                crate::println!("CHECK {name} ok");
            }
            Ok(d) => {
                self.ok += 1;
                crate::println!("CHECK {name} ok {d}");
            }
            Err(e) => {
                self.failed += 1;
                crate::println!("CHECK {name} FAIL {e}");
            }
        }
    }

    pub fn run(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        let r = f();
        self.record(name, r);
    }

    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Print the summary and leave QEMU.
    pub fn finish(self) -> ! {
        crate::println!("SUMMARY {} ok, {} failed", self.ok, self.failed);
        if self.failed == 0 {
            crate::println!("RESULT pass");
            crate::console::pass()
        } else {
            crate::println!("RESULT fail");
            crate::console::fail()
        }
    }
}
