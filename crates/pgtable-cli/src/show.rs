//! Text output: tables and reports.

use crate::text::{wrap, wrap_prefixed, WIDTH};
use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use pgtable_sim::report::Figures;
use pgtable_sim::scenarios::SCENARIOS;
use pgtable_sim::{Era, EraOutcome, FaultRecord, Outcome, Run, Strategy, Verdict};
use std::fmt::Write as _;

mod stress;

pub use stress::{stress_detail, stress_table};

/// How many faults the detailed report lists before eliding.
const FAULTS_SHOWN: usize = 12;

/// A table at most [`WIDTH`] columns wide on a terminal, in a pipe and in
/// a file alike (comfy-table's dynamic arrangement wraps cells to fit).
fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(WIDTH as u16);
    t
}

fn right(t: &mut Table, cols: impl IntoIterator<Item = usize>) {
    for c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Eager => "eager",
        Strategy::Prealloc => "prealloc",
        Strategy::Lazy => "lazy",
    }
}

/// "cpu0 (process 0) write 0xffffea8000000000 not present at PML4".
fn fault_short(f: &FaultRecord) -> String {
    format!(
        "cpu{} ({}) {} {:#x} {} at {}",
        f.cpu, f.context, f.access, f.addr, f.kind, f.level
    )
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn accesses(r: &Run) -> u64 {
    r.cpus.iter().map(|c| c.accesses).sum()
}

/// What the MMU saw in a run, in one cell.
pub fn run_cell(r: &Run) -> String {
    if let (None, Some(f)) = (r.faults.first(), r.fixed.first()) {
        return format!(
            "{} fixed by the fault handler; first {}",
            plural(r.fixed.len(), "fault"),
            fault_short(f)
        );
    }
    match r.faults.first() {
        None if r.figures.lazy_fixes > 0 => format!(
            "clean, {} accesses ({} fixed lazily)",
            accesses(r),
            plural(r.figures.lazy_fixes as usize, "fault")
        ),
        None => format!("clean, {} accesses", accesses(r)),
        Some(f) => format!(
            "{}; first {}",
            plural(r.faults.len(), "fault"),
            fault_short(f)
        ),
    }
}

/// What a run showed, in words: the verdict and its first fault.
fn verdict_text(e: &EraOutcome) -> String {
    let run = e.run.as_ref();
    let mut s = match (e.verdict, run) {
        (Verdict::Fault, Some(r)) => {
            let f = &r.faults[0];
            format!(
                "{} at {:#x} (cpu{} {}, {} at {}; {})",
                e.verdict.describe(),
                f.addr,
                f.cpu,
                f.access,
                f.kind,
                f.level,
                plural(r.faults.len(), "fault")
            )
        }
        (Verdict::FixedByHandler, Some(r)) => {
            let handler = e
                .fault_handler
                .as_deref()
                .and_then(|h| h.rsplit(':').next())
                .unwrap_or("?");
            format!(
                "{} ({handler}(), {})",
                e.verdict.describe(),
                plural(r.fixed.len(), "fault")
            )
        }
        (v, _) => v.describe().to_string(),
    };
    if e.verdict != e.expected {
        s = format!("UNEXPECTED {s} [Linux: {}]", e.expected.describe());
    }
    if let Some(c) = run
        .and_then(|r| r.checker.as_deref())
        .filter(|_| e.era == Era::V617)
    {
        s.push_str(&format!(" [CHECKER: {c}]"));
    }
    if !e.ok && e.verdict == e.expected {
        s = format!("FAILED {s}");
    }
    s
}

/// One era's verdict line: "<verdict> — <era>: <why>".
pub fn era_line(e: &EraOutcome) -> String {
    format!("{} — {}: {}", verdict_text(e), e.era_name, e.why)
}

/// The verdicts of `pgtable` with no argument: per mode, per scenario, one
/// line per era, wrapped to 80 columns.
pub fn verdict_lines(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let mut mode = "";
    for o in outcomes {
        if o.mode != mode {
            if !mode.is_empty() {
                s.push('\n');
            }
            mode = o.mode;
            let _ = writeln!(s, "{mode}");
        }
        let head = match o.commit {
            Some(c) => format!("{} ({c})", o.scenario),
            None => o.scenario.to_string(),
        };
        s.push_str(&wrap(&head, 2, 4));
        for e in &o.eras {
            s.push_str(&wrap(&era_line(e), 4, 6));
        }
    }
    s
}

/// The eras, under the verdicts.
pub fn legend() -> String {
    let mut s =
        String::from("Eras (each verdict names the era, then what that release does and why):\n");
    for era in Era::ALL {
        s.push_str(&wrap(
            &format!("{}: {}; {}", era.name(), era.releases(), era.summary()),
            2,
            4,
        ));
    }
    s.push_str(&wrap(
        "A verdict is ok when the run shows what that release does; 6.17+ \
         (the pgtable library) must never fault, not even a fault the \
         handler fixes, and must pass the checker (every root's kernel half \
         equal to init_mm's). Sources: docs/linux-baselines.md.",
        0,
        0,
    ));
    s
}
fn figures_rows(t: &mut Table, cols: &[&Figures]) {
    type Get = fn(&Figures) -> String;
    let rows: [(&str, Get); 6] = [
        ("sync calls", |f| f.sync_calls.to_string()),
        ("entries copied", |f| f.entries_copied.to_string()),
        ("faults taken", |f| f.faults_taken.to_string()),
        ("lazy fixes", |f| f.lazy_fixes.to_string()),
        ("table pages", |f| f.table_pages.to_string()),
        ("table memory", |f| kib(f.table_bytes)),
    ];
    for (name, get) in rows {
        let mut row = vec![Cell::new(name)];
        row.extend(cols.iter().map(|f| Cell::new(get(f))));
        t.add_row(row);
    }
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes / 1024)
}

/// Item `n` of a numbered list, wrapped under its text.
fn numbered(n: usize, text: &str) -> String {
    wrap_prefixed(text, &format!("  {n:>3}. "), &" ".repeat(7))
}

fn run_detail(s: &mut String, name: &str, r: &Run) {
    s.push_str(&wrap(&format!("{name}: {}", run_cell(r)), 0, 2));
    if !r.cpus.is_empty() {
        let mut t = table();
        t.set_header(["cpu", "runs on", "accesses", "faults"]);
        for c in &r.cpus {
            t.add_row([
                format!("cpu{}", c.cpu),
                c.context.to_string(),
                c.accesses.to_string(),
                c.faults.to_string(),
            ]);
        }
        right(&mut t, [2, 3]);
        let _ = writeln!(s, "{t}");
    }
    if !r.faults.is_empty() {
        let _ = writeln!(s, "  faults:");
        for (i, f) in r.faults.iter().take(FAULTS_SHOWN).enumerate() {
            let line = format!(
                "cpu{} ({}) {} {:#x}: {} at {}, error code {:#x} [{}]",
                f.cpu, f.context, f.access, f.addr, f.kind, f.level, f.error_code, f.what
            );
            s.push_str(&numbered(i + 1, &line));
        }
        if r.faults.len() > FAULTS_SHOWN {
            let _ = writeln!(
                s,
                "       … {} more (--json lists them all)",
                r.faults.len() - FAULTS_SHOWN
            );
        }
    }
    if !r.fixed.is_empty() {
        let _ = writeln!(s, "  faults fixed by the fault handler:");
        for (i, f) in r.fixed.iter().take(FAULTS_SHOWN).enumerate() {
            s.push_str(&numbered(i + 1, &fault_short(f)));
        }
        if r.fixed.len() > FAULTS_SHOWN {
            let _ = writeln!(
                s,
                "       … {} more (--json lists them all)",
                r.fixed.len() - FAULTS_SHOWN
            );
        }
    }
    for n in &r.notes {
        s.push_str(&wrap(&format!("note: {n}"), 2, 4));
    }
    let checker = r
        .checker
        .as_deref()
        .unwrap_or("every root in sync with init_mm, every probe translates alike");
    s.push_str(&wrap(&format!("checker: {checker}"), 2, 4));
}

/// `pgtable scenario NAME` for one mode: every era in detail.
pub fn outcome_detail(o: &Outcome) -> String {
    let mut s = String::new();
    let info = SCENARIOS.iter().find(|i| i.name == o.scenario);
    let head = format!(
        "== {} on {}, strategy {}{}",
        o.scenario,
        o.mode,
        strategy_name(o.strategy),
        o.commit
            .map_or(String::new(), |c| format!(", Linux commit {c}"))
    );
    s.push_str(&wrap(&head, 0, 3));
    if let Some(info) = info {
        s.push_str(&wrap(info.summary, 0, 0));
    }
    for e in &o.eras {
        s.push('\n');
        s.push_str(&wrap(&format!("-- {} ({})", e.era_name, e.releases), 0, 3));
        s.push_str(&wrap(&format!("Linux: {}", e.linux_source), 0, 2));
        if let Some(h) = &e.fault_handler {
            s.push_str(&wrap(&format!("fault handler: {h}"), 0, 2));
        }
        s.push_str(&wrap(&format!("verdict: {}", era_line(e)), 0, 2));
        if let Some(r) = &e.run {
            run_detail(&mut s, "run", r);
        }
    }
    s.push('\n');
    let runs: Vec<&EraOutcome> = o.eras.iter().filter(|e| e.run.is_some()).collect();
    let mut t = table();
    let mut header = vec!["figures"];
    header.extend(runs.iter().map(|e| e.era_name));
    t.set_header(header);
    let cols: Vec<&Figures> = runs
        .iter()
        .filter_map(|e| e.run.as_ref().map(|r| &r.figures))
        .collect();
    figures_rows(&mut t, &cols);
    right(&mut t, 1..=cols.len());
    let _ = writeln!(s, "{t}");
    let _ = writeln!(s, "verdict: {}", if o.ok { "ok" } else { "FAILED" });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widest table the command draws, the three strategies on the
    /// longest mode name, fits 80 columns with every cell whole.
    #[test]
    fn the_stress_table_fits_80_columns() {
        let mut t = table();
        t.set_header(["x86_32/PAE-unshared-pmd", "eager", "prealloc", "lazy"]);
        t.add_row([
            "unhandled faults",
            "18446744073709551615",
            "1000000 KiB",
            "FAILED",
        ]);
        let out = t.to_string();
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(
            out.contains("18446744073709551615") && out.contains("x86_32/PAE-unshared-pmd"),
            "{out}"
        );
    }
}
