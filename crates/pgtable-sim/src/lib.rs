//! The simulated machine on which pgtable's scenarios run: sparse physical
//! memory, CPUs whose kernel accesses go through an independent software MMU
//! ([`pgtable_mmu`]) with a TLB, the kernel users that populate kernel page
//! tables, a checker, and the scenarios that reproduce Linux's historical
//! sync bugs.
//!
//! The verdict of every scenario, era and paging mode, with the Linux
//! function that decides it, follows (`VERDICTS.md`, checked by a test).
#![doc = include_str!("../VERDICTS.md")]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod arch;
mod bus;
pub mod checker;
pub mod cpu;
pub mod era;
mod frames;
pub mod json;
pub mod kernel;
pub mod layout;
pub mod machine;
pub mod ptdump;
mod readout;
pub mod report;
pub mod scenarios;
pub mod setup;
pub mod vocab;

pub use arch::SimArch;
pub use bus::{Bus, PageBus};
pub use era::Era;
pub use machine::{Machine, MachineConfig};
pub use report::{EraOutcome, Outcome, Run, Verdict};
pub use vocab::{Context, FaultRecord, SimError, Strategy, Variant};

/// The example of the workspace README, compiled and run as a doctest
/// here (the library's package holds only its own README).
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;
