//! Text output: tables and reports.

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use pgtable_sim::report::Figures;
use pgtable_sim::scenarios::stress::StressReport;
use pgtable_sim::scenarios::SCENARIOS;
use pgtable_sim::{FaultRecord, Outcome, Run, Strategy};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::IsTerminal;

/// How many faults the detailed report lists before eliding.
const FAULTS_SHOWN: usize = 12;

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    // Wrap to the terminal's width; in a pipe or a file keep lines whole.
    if std::io::stdout().is_terminal() {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
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

fn verdict(o: &Outcome) -> String {
    if o.ok {
        return match (&o.old, o.expect_old_fault) {
            (None, _) => "ok".into(),
            (Some(_), true) => "ok: bug reproduced, fixed".into(),
            (Some(_), false) => "ok: old code survives".into(),
        };
    }
    let mut why = Vec::new();
    if let Some(old) = &o.old {
        if old.faults.is_empty() && o.expect_old_fault {
            why.push("old code did not fault");
        }
        if !old.faults.is_empty() && !o.expect_old_fault {
            why.push("old code faulted");
        }
    }
    if !o.new.faults.is_empty() {
        why.push("new code faulted");
    }
    if o.new.checker.is_some() {
        why.push("checker");
    }
    format!("FAILED: {}", why.join(", "))
}

/// The table of `pgtable` with no argument.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let mut t = table();
    t.set_header([
        "mode",
        "scenario",
        "Linux commit",
        "old code",
        "new code",
        "verdict",
    ]);
    for o in outcomes {
        t.add_row([
            o.mode.to_string(),
            o.scenario.to_string(),
            o.commit.unwrap_or("—").to_string(),
            o.old.as_ref().map_or("—".to_string(), run_cell),
            run_cell(&o.new),
            verdict(o),
        ]);
    }
    t.to_string()
}

/// The "why" under the table.
pub fn legend(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    s.push_str("Why:\n");
    s.push_str(
        "  old code  the kernel change written as before Linux 6.17: plain pgd/p4d_populate, sync late or never\n",
    );
    s.push_str(
        "  new code  the same change through pgd/p4d_populate_kernel and the edit guard, which syncs every root\n",
    );
    let whys: BTreeSet<(&str, &str, bool, &str)> = outcomes
        .iter()
        .filter(|o| o.old.is_some())
        .map(|o| {
            (
                o.mode,
                strategy_name(o.strategy),
                o.expect_old_fault,
                o.why.as_str(),
            )
        })
        .collect();
    for (mode, strategy, fault, why) in whys {
        let _ = writeln!(
            s,
            "  {mode} {strategy}: old code {}: {why}",
            if fault {
                "must fault"
            } else {
                "must not fault"
            }
        );
    }
    s.push_str("  verdict   ok when the old code faulted exactly when expected, the new code took no fault,\n");
    s.push_str("            and the checker found every root's kernel half equal to init_mm's\n");
    s.push_str("Scenarios:\n");
    for info in SCENARIOS {
        let _ = writeln!(s, "  {:<17} {}", info.name, info.summary);
    }
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

fn run_detail(s: &mut String, name: &str, r: &Run) {
    let _ = writeln!(s, "{name}: {}", run_cell(r));
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
            let _ = writeln!(
                s,
                "  {:>3}. cpu{} ({}) {} {:#x}: {} at {}, error code {:#x} [{}]",
                i + 1,
                f.cpu,
                f.context,
                f.access,
                f.addr,
                f.kind,
                f.level,
                f.error_code,
                f.what
            );
        }
        if r.faults.len() > FAULTS_SHOWN {
            let _ = writeln!(
                s,
                "       … {} more (--json lists them all)",
                r.faults.len() - FAULTS_SHOWN
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let _ = writeln!(
        s,
        "  checker: {}",
        r.checker
            .as_deref()
            .unwrap_or("every root in sync with init_mm, every probe translates alike")
    );
}

/// `pgtable scenario NAME` for one mode.
pub fn outcome_detail(o: &Outcome) -> String {
    let mut s = String::new();
    let info = SCENARIOS.iter().find(|i| i.name == o.scenario);
    let _ = writeln!(
        s,
        "== {} on {}, strategy {}{}",
        o.scenario,
        o.mode,
        strategy_name(o.strategy),
        o.commit
            .map_or(String::new(), |c| format!(", Linux commit {c}"))
    );
    if let Some(info) = info {
        let _ = writeln!(s, "{}", info.summary);
    }
    let _ = writeln!(
        s,
        "expected: old code {}: {}",
        if o.expect_old_fault {
            "faults"
        } else {
            "survives"
        },
        o.why
    );
    s.push('\n');
    if let Some(old) = &o.old {
        run_detail(&mut s, "old code", old);
        s.push('\n');
    }
    run_detail(&mut s, "new code", &o.new);
    s.push('\n');
    let mut t = table();
    let mut cols = Vec::new();
    let mut header = vec!["figures"];
    if let Some(old) = &o.old {
        header.push("old code");
        cols.push(&old.figures);
    }
    header.push("new code");
    cols.push(&o.new.figures);
    t.set_header(header);
    figures_rows(&mut t, &cols);
    right(&mut t, 1..=cols.len());
    let _ = writeln!(s, "{t}");
    let _ = writeln!(s, "verdict: {}", verdict(o));
    s
}

/// One stress run.
pub fn stress_detail(r: &StressReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "== stress on {}, strategy {}: {} steps (seed {}) in {} ms, {} translations compared",
        r.mode,
        strategy_name(r.strategy),
        r.steps,
        r.seed,
        r.elapsed_ms,
        r.compared
    );
    let _ = writeln!(
        s,
        "processes alive at the end: {}; table frames balanced: {}",
        r.processes,
        if r.frames_balanced { "yes" } else { "NO" }
    );
    let ops: Vec<String> = r.ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
    let _ = writeln!(s, "operations: {}", ops.join(", "));
    if r.unhandled_faults.is_empty() {
        let _ = writeln!(s, "unhandled faults: none");
    } else {
        let _ = writeln!(s, "unhandled faults: {}", r.unhandled_faults.len());
        for f in r.unhandled_faults.iter().take(FAULTS_SHOWN) {
            let _ = writeln!(s, "  {f}");
        }
    }
    let _ = writeln!(
        s,
        "checker: {}",
        r.checker.as_deref().unwrap_or("clean after every step")
    );
    let mut t = table();
    t.set_header(["figures", strategy_name(r.strategy)]);
    figures_rows(&mut t, &[&r.figures]);
    right(&mut t, [1]);
    let _ = writeln!(s, "{t}");
    let _ = writeln!(s, "verdict: {}", if r.ok() { "ok" } else { "FAILED" });
    s
}

/// The strategies side by side.
pub fn stress_table(reports: &[StressReport]) -> String {
    let mut t = table();
    t.set_header([
        "mode",
        "strategy",
        "steps",
        "sync calls",
        "entries copied",
        "faults taken",
        "lazy fixes",
        "table pages",
        "table memory",
        "unhandled",
        "verdict",
    ]);
    for r in reports {
        let f = &r.figures;
        t.add_row([
            r.mode.to_string(),
            strategy_name(r.strategy).to_string(),
            r.steps.to_string(),
            f.sync_calls.to_string(),
            f.entries_copied.to_string(),
            f.faults_taken.to_string(),
            f.lazy_fixes.to_string(),
            f.table_pages.to_string(),
            kib(f.table_bytes),
            r.unhandled_faults.len().to_string(),
            if r.ok() {
                "ok".to_string()
            } else {
                "FAILED".to_string()
            },
        ]);
    }
    right(&mut t, 2..=9);
    t.to_string()
}
