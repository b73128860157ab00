//! The report of `cargo xtask qemu`: each kernel's era verdicts against
//! the simulator's table (`crates/pgtable-sim/VERDICTS.md`), and the
//! summary table.

use std::path::Path;

/// One row of the summary table.
pub struct Row {
    pub mode: String,
    pub result: String,
    pub checks: String,
    pub verdicts: String,
    pub faults: String,
    pub compared: String,
    pub differences: String,
    pub secs: f64,
    /// Why it failed, printed under the table.
    pub why: Vec<String>,
}

/// The summary: one row per mode, then why each failing mode failed.
pub fn print_table(rows: &[Row]) {
    let head = [
        "mode",
        "result",
        "checks ok",
        "era verdicts = simulator",
        "scenario faults real/predicted",
        "addresses compared",
        "differences",
        "time",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.mode.clone(),
                r.result.clone(),
                r.checks.clone(),
                r.verdicts.clone(),
                r.faults.clone(),
                r.compared.clone(),
                r.differences.clone(),
                format!("{:.1} s", r.secs),
            ]
        })
        .collect();
    let mut w = head.map(str::len);
    for c in &cells {
        for (i, v) in c.iter().enumerate() {
            w[i] = w[i].max(v.len());
        }
    }
    let line = |v: &[String]| {
        let parts: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<width$}", width = w[i]))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    println!("qemu summary:");
    line(&head.map(String::from));
    line(&w.map(|n| "-".repeat(n)));
    for c in &cells {
        line(c);
    }
    for r in rows.iter().filter(|r| !r.why.is_empty()) {
        for why in &r.why {
            for (i, l) in why.lines().enumerate() {
                let lead = if i == 0 { "FAIL" } else { "    " };
                println!("{lead} {}: {l}", r.mode);
            }
        }
    }
}

/// The scenario verdicts of the simulator's table for `column`:
/// `(scenario, era, verdict)` for every row the mode has (not `n/a`),
/// eras with ASCII hyphens, `**oops**` as `oops`.
pub fn sim_verdicts(column: &str) -> Result<Vec<(String, String, String)>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pgtable-sim/VERDICTS.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('*', "").replace('\u{2013}', "-"))
            .collect()
    };
    let mut lines = text.lines().filter(|l| l.starts_with('|'));
    let head = cells(lines.next().ok_or("VERDICTS.md has no table")?);
    let col = head
        .iter()
        .position(|h| h == column)
        .ok_or(format!("VERDICTS.md has no column {column}"))?;
    Ok(lines
        .map(cells)
        .filter(|r| r.len() > col && r[col] != "n/a" && !r[col].starts_with('-'))
        .map(|r| (r[0].clone(), r[1].clone(), r[col].clone()))
        .collect())
}

/// The era verdicts of the table's `column` for every scenario the kernel
/// runs under eras (a `CHECK <scenario>/<era>/` line for any era of the
/// table) must be reported by a `CHECK <scenario>/<era>/<old|new> ok
/// verdict=<v>` line with the same verdict; `n/e` (code that did not exist
/// in that era) must have no line. Returns (rows equal, rows compared,
/// rows of scenarios the kernel does not run) and the differences.
pub fn verdict_failures(
    serial: &str,
    column: &str,
    name: &str,
) -> ((usize, usize, usize), Vec<String>) {
    let want = match sim_verdicts(column) {
        Ok(w) => w,
        Err(e) => return ((0, 0, 0), vec![format!("simulator verdicts: {e}")]),
    };
    let line_of = |scenario: &str, era: &str| {
        let prefix = format!("CHECK {scenario}/{era}/");
        serial.lines().find(|l| l.starts_with(&prefix))
    };
    let runs = |scenario: &str| {
        want.iter()
            .any(|(s, e, _)| s == scenario && line_of(s, e).is_some())
    };
    let mut out = Vec::new();
    let (mut matched, mut compared, mut not_run) = (0, 0, 0);
    for (scenario, era, verdict) in &want {
        if !runs(scenario) {
            not_run += 1;
            continue;
        }
        compared += 1;
        let got = line_of(scenario, era).map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("verdict="))
                .unwrap_or("none")
        });
        match (got, verdict.as_str()) {
            (None, "n/e") => matched += 1,
            (Some(g), v) if g == v => matched += 1,
            (g, v) => out.push(format!(
                "{scenario} {era}: kernel verdict {}, simulator {v}",
                g.unwrap_or("missing")
            )),
        }
    }
    if want.is_empty() {
        out.push(format!("VERDICTS.md lists no verdict for {column}"));
    } else if compared == 0 {
        out.push(format!("no era verdict line for any scenario of {column}"));
    }
    println!(
        "[{name}] era verdicts equal to the simulator's ({column}): {matched}/{compared}; \
         {not_run} rows of scenarios this kernel does not run"
    );
    ((matched, compared, not_run), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm32_verdicts_come_from_the_simulators_table() {
        let v = sim_verdicts("arm32/short").expect("VERDICTS.md");
        let get = |s: &str, e: &str| {
            v.iter()
                .find(|(a, b, _)| a == s && b == e)
                .map(|(_, _, x)| x.as_str())
        };
        // Three scenarios apply to arm32, each in four eras.
        assert_eq!(v.len(), 12, "{v:?}");
        assert_eq!(get("percpu", "5.8-6.16"), Some("fixed"));
        assert_eq!(get("vmalloc-new-slot", "6.17+"), Some("ok"));
        assert_eq!(get("hotplug-new-slot", "pre-5.8"), None, "n/a on arm32");
    }

    #[test]
    fn a_wrong_or_missing_verdict_fails() {
        let ok = "CHECK percpu/6.17+/new ok verdict=ok faults=0";
        let ((m, of, not_run), fails) = verdict_failures(ok, "arm32/short", "t");
        // percpu runs, so its other 3 eras are missing; the other two
        // scenarios do not run.
        assert_eq!((m, of, not_run), (1, 4, 8));
        assert_eq!(fails.len(), 3, "{fails:?}");
        let wrong = "CHECK percpu/6.17+/new ok verdict=fixed faults=4";
        let (_, fails) = verdict_failures(wrong, "arm32/short", "t");
        assert!(fails
            .iter()
            .any(|f| f.contains("percpu 6.17+: kernel verdict fixed, simulator ok")));
        let (_, fails) = verdict_failures("CHECK boot ok", "arm32/short", "t");
        assert!(fails[0].contains("no era verdict line"), "{fails:?}");
    }

    #[test]
    fn a_line_for_an_era_without_the_code_fails() {
        // compound-devmap did not exist before 5.19: n/e in pre-5.8.
        let serial = "CHECK compound-devmap/pre-5.8/old ok verdict=ok\n\
                      CHECK compound-devmap/5.8-6.16/old ok verdict=oops\n\
                      CHECK compound-devmap/6.17+/new ok verdict=ok\n";
        let ((m, of, _), fails) = verdict_failures(serial, "x86_64/4-level", "t");
        assert_eq!((m, of), (3, 4));
        assert!(
            fails[0].contains("kernel verdict ok, simulator n/e"),
            "{fails:?}"
        );
    }
}
