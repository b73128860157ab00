//! `pgtable` without a command: every scenario on every mode (or on the one
//! `--arch` names), one verdict line per mode, scenario and era.

use crate::{out, print_json, progress, show, text, Failure};
use pgtable::PagingGeometry;
use pgtable_sim::scenarios::{self, Config, SCENARIOS};
use pgtable_sim::{Outcome, SimArch, SimError};
use serde::Serialize;

/// A scenario that means nothing on a mode, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub scenario: &'static str,
    pub mode: &'static str,
    pub why: &'static str,
}

#[derive(Serialize)]
struct AllJson<'a> {
    ok: bool,
    outcomes: &'a [Outcome],
    not_applicable: &'a [Skipped],
}

/// `pgtable`: every scenario on every mode.
pub fn all(json: bool, arch: Option<SimArch>) -> Result<bool, Failure> {
    let modes = arch.map_or_else(SimArch::all, |a| vec![a]);
    let pb = progress::bar(json, (modes.len() * SCENARIOS.len()) as u64, "scenarios");
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for &arch in &modes {
        for info in SCENARIOS {
            pb.set_message(format!("{} on {}", info.name, arch.name()));
            let cfg = Config {
                arch,
                ..Config::default()
            };
            match scenarios::run(info.name, &cfg) {
                Ok(o) => outcomes.push(o),
                Err(SimError::NotApplicable(why)) => skipped.push(Skipped {
                    scenario: info.name,
                    mode: arch.name(),
                    why,
                }),
                Err(e) => return Err(e.into()),
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let ok = outcomes.iter().all(|o| o.ok);
    if json {
        print_json(&AllJson {
            ok,
            outcomes: &outcomes,
            not_applicable: &skipped,
        })?;
        return Ok(ok);
    }
    out(show::verdict_lines(&outcomes));
    out("\n");
    out(show::legend());
    out(not_applicable(&skipped));
    out("\n");
    let eras: Vec<_> = outcomes.iter().flat_map(|o| &o.eras).collect();
    let bad = eras.iter().filter(|e| !e.ok).count();
    let line = if bad == 0 {
        format!(
            "All {} verdicts ok ({} runs, {} not in their era, {} scenarios not applicable); \
             the library (6.17+) never faulted.",
            eras.len(),
            eras.iter().filter(|e| e.run.is_some()).count(),
            eras.iter().filter(|e| e.run.is_none()).count(),
            skipped.len()
        )
    } else {
        format!("{bad} of {} verdicts FAILED.", eras.len())
    };
    out(text::wrap(&line, 0, 0));
    Ok(ok)
}

/// The "Not applicable:" section (empty when nothing was skipped).
pub fn not_applicable(skipped: &[Skipped]) -> String {
    let mut s = String::new();
    if !skipped.is_empty() {
        s.push_str("\nNot applicable:\n");
        for k in skipped {
            s.push_str(&text::wrap(
                &format!("{} on {}: {}", k.scenario, k.mode, k.why),
                2,
                4,
            ));
        }
    }
    s
}
