//! `pgtable scenario NAME`: one scenario in detail on each mode named;
//! `scenario stress` compares the strategies; `scenario list` lists them.

use crate::args::{self, ScenarioArgs};
use crate::verdicts::{self, Skipped};
use crate::{out, print_json, progress, show, text, Failure};
use pgtable::PagingGeometry;
use pgtable_sim::scenarios::{self, stress, Config, SCENARIOS};
use pgtable_sim::{Outcome, SimArch, SimError, Strategy};
use serde::Serialize;

/// "unknown scenario ...", naming the valid ones (`ptdump`: all but
/// stress).
pub fn unknown_scenario(name: &str, ptdump: bool) -> String {
    format!("unknown scenario {name:?}; {}", valid_scenarios(ptdump))
}

/// Scenario `name` means nothing on `arch`, because of `why`.
pub fn not_applicable(name: &str, arch: SimArch, why: &str) -> String {
    format!("{name} does not apply to {}: {why}", arch.name())
}

/// "valid scenarios are: ..." (`ptdump`: all but stress).
pub fn valid_scenarios(ptdump: bool) -> String {
    let names: Vec<&str> = SCENARIOS
        .iter()
        .map(|i| i.name)
        .filter(|n| !(ptdump && *n == "stress"))
        .collect();
    format!(
        "valid scenarios are: {} (`pgtable scenario list` describes them)",
        names.join(", ")
    )
}

/// One scenario of `scenario list --json`.
#[derive(Serialize)]
struct ScenarioEntry {
    name: &'static str,
    commit: Option<&'static str>,
    summary: &'static str,
}

#[derive(Serialize)]
struct ListJson {
    scenarios: Vec<ScenarioEntry>,
}

/// `pgtable scenario list`.
fn list(json: bool) -> Result<bool, Failure> {
    if json {
        print_json(&ListJson {
            scenarios: SCENARIOS
                .iter()
                .map(|i| ScenarioEntry {
                    name: i.name,
                    commit: i.commit,
                    summary: i.summary,
                })
                .collect(),
        })?;
    } else {
        for info in SCENARIOS {
            match info.commit {
                Some(c) => out(format!("{} (Linux commit {c})\n", info.name)),
                None => out(format!("{}\n", info.name)),
            }
            out(text::wrap(info.summary, 4, 4));
        }
    }
    Ok(true)
}

fn config(a: &ScenarioArgs, arch: SimArch, strategy: Strategy) -> Config {
    let d = Config::default();
    Config {
        arch,
        strategy,
        cpus: a.cpus.map_or(d.cpus, |n| n as usize),
        spaces: a.spaces.map_or(d.spaces, |n| n as usize),
        steps: a.steps.unwrap_or(d.steps),
        seed: a.seed.unwrap_or(d.seed),
        pti: a.pti,
        layout: None,
    }
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    ok: bool,
    outcomes: &'a [Outcome],
    not_applicable: &'a [Skipped],
}

#[derive(Serialize)]
struct StressJson<'a> {
    ok: bool,
    reports: &'a [stress::StressReport],
    /// The process's peak resident set after every run, in bytes (Linux's
    /// `VmHWM`; null where the system does not say).
    peak_rss_bytes: Option<u64>,
}

/// The process's peak resident set in bytes, from `/proc/self/status`'s
/// `VmHWM` (Linux); `None` elsewhere.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `pgtable scenario NAME`.
pub fn scenario(a: &ScenarioArgs, json: bool) -> Result<bool, Failure> {
    let info = SCENARIOS.iter().find(|s| s.name == a.name);
    if info.is_none() && a.name != "list" {
        return Err(Failure::Usage(unknown_scenario(&a.name, false)));
    }
    args::check_scenario(a)?;
    let Some(info) = info else {
        return list(json);
    };
    let modes = a.mode.modes();
    if a.name == "stress" {
        return stress_cmd(a, &modes, json);
    }
    let strategy = a.strategy.map_or(Strategy::Eager, Strategy::from);
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for &arch in &modes {
        match scenarios::run(&a.name, &config(a, arch, strategy)) {
            Ok(o) => outcomes.push(o),
            // On every mode, a mode it means nothing on is reported; on
            // the one mode named, it is a usage error.
            Err(SimError::NotApplicable(why)) if modes.len() > 1 => skipped.push(Skipped {
                scenario: info.name,
                mode: arch.name(),
                why,
            }),
            Err(SimError::NotApplicable(why)) => {
                return Err(Failure::Usage(not_applicable(info.name, arch, why)))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let ok = outcomes.iter().all(|o| o.ok);
    if json {
        print_json(&ScenarioJson {
            ok,
            outcomes: &outcomes,
            not_applicable: &skipped,
        })?;
    } else {
        for (i, o) in outcomes.iter().enumerate() {
            if i > 0 {
                out("\n");
            }
            out(show::outcome_detail(o));
        }
        out(verdicts::not_applicable(&skipped));
    }
    Ok(ok)
}

/// `pgtable scenario stress`: one strategy, or all three compared.
fn stress_cmd(a: &ScenarioArgs, modes: &[SimArch], json: bool) -> Result<bool, Failure> {
    let strategies: Vec<Strategy> = match a.strategy {
        Some(s) => vec![s.into()],
        None => vec![Strategy::Eager, Strategy::Prealloc, Strategy::Lazy],
    };
    let mut reports = Vec::new();
    for &arch in modes {
        for &strategy in &strategies {
            let cfg = config(a, arch, strategy);
            let pb = progress::bar(json, cfg.steps, "stress");
            pb.set_message(format!("{} {}", arch.name(), show::strategy_name(strategy)));
            let r = stress::run(&cfg, &mut |done| pb.set_position(done.min(cfg.steps)));
            pb.finish_and_clear();
            reports.push(r?);
        }
    }
    let ok = reports.iter().all(|r| r.ok());
    if json {
        print_json(&StressJson {
            ok,
            reports: &reports,
            peak_rss_bytes: peak_rss_bytes(),
        })?;
    } else {
        for r in &reports {
            out(show::stress_detail(r));
            out("\n");
        }
        if strategies.len() > 1 {
            out("Strategies compared:\n");
            for chunk in reports.chunks(strategies.len()) {
                out(show::stress_table(chunk));
            }
        }
        out(&match peak_rss_bytes() {
            Some(b) => format!(
                "peak resident set: {:.1} MiB\n",
                b as f64 / (1 << 20) as f64
            ),
            None => "peak resident set: not reported by this system\n".to_string(),
        });
    }
    Ok(ok)
}
