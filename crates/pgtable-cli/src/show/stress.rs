//! Text output of the stress runs: one run in detail, and the strategies
//! side by side.

use super::{figures_rows, right, strategy_name, table, FAULTS_SHOWN};
use crate::text::wrap;
use comfy_table::Cell;
use pgtable_sim::report::Figures;
use pgtable_sim::scenarios::stress::StressReport;
use std::fmt::Write as _;

/// One stress run.
pub fn stress_detail(r: &StressReport) -> String {
    let mut s = String::new();
    let head = format!(
        "== stress on {}, strategy {}: {} steps (seed {}), {} translations compared",
        r.mode,
        strategy_name(r.strategy),
        r.steps,
        r.seed,
        r.compared
    );
    s.push_str(&wrap(&head, 0, 3));
    // On a line of its own: the one figure that varies from run to run.
    let _ = writeln!(s, "run time: {} ms", r.elapsed_ms);
    let end = format!(
        "processes alive at the end: {}; table frames balanced: {}",
        r.processes,
        if r.frames_balanced { "yes" } else { "NO" }
    );
    s.push_str(&wrap(&end, 0, 2));
    let ops: Vec<String> = r.ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
    s.push_str(&wrap(&format!("operations: {}", ops.join(", ")), 0, 2));
    if r.unhandled_faults.is_empty() {
        let _ = writeln!(s, "unhandled faults: none");
    } else {
        let _ = writeln!(s, "unhandled faults: {}", r.unhandled_faults.len());
        for f in r.unhandled_faults.iter().take(FAULTS_SHOWN) {
            s.push_str(&wrap(&f.to_string(), 2, 4));
        }
    }
    let checker = r.checker.as_deref().unwrap_or("clean after every step");
    s.push_str(&wrap(&format!("checker: {checker}"), 0, 2));
    let mut t = table();
    t.set_header(["figures", strategy_name(r.strategy)]);
    figures_rows(&mut t, &[&r.figures]);
    right(&mut t, [1]);
    let _ = writeln!(s, "{t}");
    let _ = writeln!(s, "verdict: {}", if r.ok() { "ok" } else { "FAILED" });
    s
}

/// The strategies side by side, one table per mode: a row per figure, a
/// column per strategy (80 columns hold three).
pub fn stress_table(reports: &[StressReport]) -> String {
    let mut s = String::new();
    let mut modes: Vec<&str> = reports.iter().map(|r| r.mode).collect();
    modes.dedup();
    for mode in modes {
        let runs: Vec<&StressReport> = reports.iter().filter(|r| r.mode == mode).collect();
        let mut t = table();
        let mut header = vec![mode];
        header.extend(runs.iter().map(|r| strategy_name(r.strategy)));
        t.set_header(header);
        type Get = fn(&StressReport) -> String;
        let rows: [(&str, Get); 3] = [
            ("steps", |r| r.steps.to_string()),
            ("unhandled faults", |r| r.unhandled_faults.len().to_string()),
            ("verdict", |r| {
                if r.ok() { "ok" } else { "FAILED" }.to_string()
            }),
        ];
        let figures: Vec<&Figures> = runs.iter().map(|r| &r.figures).collect();
        let (first, rest) = rows.split_at(1);
        for (name, get) in first {
            let mut row = vec![Cell::new(name)];
            row.extend(runs.iter().map(|r| Cell::new(get(r))));
            t.add_row(row);
        }
        figures_rows(&mut t, &figures);
        for (name, get) in rest {
            let mut row = vec![Cell::new(name)];
            row.extend(runs.iter().map(|r| Cell::new(get(r))));
            t.add_row(row);
        }
        right(&mut t, 1..=runs.len());
        let _ = writeln!(s, "{t}");
    }
    s
}
