//! What every bare-metal test kernel (`crates/pgtable-qemu*`) shares, so
//! each kernel keeps only its architecture: the check report that
//! `cargo xtask qemu` reads, the simulator's kernel eras as the kernels run
//! them, and the library's leaf sizes for the shifts the kernels' tables
//! use.
#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod era;
mod report;

pub use report::{CheckResult, Checks, Console};

/// The library's largest-leaf size for a leaf shift of a kernel's tables
/// (12 or less: base pages; 30 or more: 1 GiB; anything between: the
/// mode's first huge leaf).
pub fn leaf(shift: u32) -> pgtable::PageSize {
    match shift {
        0..=12 => pgtable::PageSize::Base,
        30.. => pgtable::PageSize::Pud,
        _ => pgtable::PageSize::Pmd,
    }
}

/// The report of one kernel: `CheckResult`, a console type `Out` that
/// prints with the kernel's `crate::println!` and leaves through
/// `crate::<exit>::pass()` / `fail()`, and `Checks` over it. Invoked once,
/// in the kernel's `report` module.
// `crate::` is meant to name the kernel that invokes it (its println! and
// its exit module), not this crate.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! kernel_report {
    ($exit:ident) => {
        pub use $crate::CheckResult;

        /// This kernel's console, for the report.
        pub struct Out;

        impl $crate::Console for Out {
            fn line(args: core::fmt::Arguments<'_>) {
                crate::println!("{args}");
            }
            fn pass() -> ! {
                crate::$exit::pass()
            }
            fn fail() -> ! {
                crate::$exit::fail()
            }
        }

        /// The checks of this kernel.
        pub type Checks = $crate::Checks<Out>;
    };
}
