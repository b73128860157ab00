//! The table of every (scenario, era, paging mode) verdict, from the
//! expectations the runs are checked against ([`super::expect`]), with the
//! Linux functions that decide them. `VERDICTS.md` at the crate root is this
//! table; a test regenerates it and fails on a difference.

use super::expect::{expect, user_of};
use super::{applies, SCENARIOS};
use crate::arch::SimArch;
use crate::era::Era;
use crate::report::Verdict;
use pgtable::PagingGeometry;
use std::fmt::Write;

fn cell(v: Verdict) -> &'static str {
    match v {
        Verdict::NoFault => "ok",
        Verdict::FixedByHandler => "fixed",
        Verdict::Fault => "**oops**",
        Verdict::NotInEra => "n/e",
    }
}

/// The verdict table as Markdown.
pub fn verdict_table() -> String {
    let modes = SimArch::all();
    let mut s = String::new();
    s.push_str(
        "# What each Linux release does, scenario by scenario\n\n\
         Generated from `src/scenarios/expect.rs` (the expectations every run of\n\
         `cargo run --release` is checked against) by\n\
         `UPDATE_GOLDEN=1 cargo test -p pgtable-sim --test verdict_table`;\n\
         the facts and their sources are in `docs/linux-baselines.md`.\n\n\
         `**oops**`: a kernel fault nothing fixes; `fixed`: faults the era's fault\n\
         handler fixes (`vmalloc_fault()`, `do_translation_fault()`); `ok`: no\n\
         fault; `n/e`: the code (or the architecture) does not exist in that era;\n\
         `n/a`: the scenario does not apply to the mode. `6.17+` is the pgtable\n\
         library (on x86-32 and arm32 it also syncs the PMD level, which Linux\n\
         6.17 leaves to the fault handler).\n\n",
    );
    let _ = write!(s, "| scenario | era |");
    for m in &modes {
        let _ = write!(s, " {} |", m.name());
    }
    s.push_str(" Linux source (per mode where it differs) |\n|---|---|");
    for _ in &modes {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for info in SCENARIOS.iter().filter(|i| i.name != "stress") {
        let user = user_of(info.name);
        for era in Era::ALL {
            let _ = write!(s, "| {} | {} |", info.name, era.name());
            let mut sources: Vec<(&str, Vec<&str>)> = Vec::new();
            for &m in &modes {
                if applies(info.name, m).is_err() {
                    s.push_str(" n/a |");
                    continue;
                }
                let _ = write!(s, " {} |", cell(expect(info.name, m, era).verdict));
                let src = era.source(user, m);
                match sources.iter_mut().find(|(x, _)| *x == src) {
                    Some((_, ms)) => ms.push(m.name()),
                    None => sources.push((src, vec![m.name()])),
                }
            }
            let src = if sources.len() == 1 {
                format!("`{}`", sources[0].0)
            } else {
                sources
                    .iter()
                    .map(|(x, ms)| format!("`{x}` ({})", ms.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let _ = writeln!(s, " {src} |");
        }
    }
    s
}
