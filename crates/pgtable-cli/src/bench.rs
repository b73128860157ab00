//! `pgtable bench`: the figures of the performance issue over `--runs`
//! runs.

use crate::args::BenchArgs;
use crate::{out, print_json, text, Failure};
use pgtable_bench::{BenchReport, Figure, Stat};

/// `pgtable bench`.
pub fn bench(a: &BenchArgs, json: bool) -> Result<bool, Failure> {
    if !pgtable_bench::fair_build() {
        let msg = format!(
            "pgtable bench was built with profile `{}`, not `{}` (fat LTO, one codegen \
             unit for the library and the peers alike): the ratios would favour one side.\n\
             Build it fairly: cargo run --profile {} -p pgtable-cli -- bench",
            pgtable_bench::BUILD_PROFILE,
            pgtable_bench::FAIR_PROFILE,
            pgtable_bench::FAIR_PROFILE
        );
        // CI's `--quick` run only keeps the benchmark working.
        if !(a.quick || a.allow_unfair_build) {
            return Err(Failure::Usage(format!(
                "{msg}\n(--allow-unfair-build measures anyway)"
            )));
        }
        eprint!("{}", text::wrap_lines(&format!("WARNING: {msg}"), 2));
    }
    let opts = pgtable_bench::BenchOptions {
        quick: a.quick,
        runs: a.runs as usize,
    };
    let report = pgtable_bench::run(&opts, &mut |line| {
        if !json {
            eprintln!("{line}")
        }
    });
    if json {
        print_json(&report)?;
    } else {
        out(render(&report));
    }
    // CI runs `--quick` to keep the benchmark working, not to time it.
    Ok(a.quick || report.all_hold())
}

/// `v` with three significant digits or more, then `unit`.
fn value(v: f64, unit: &str) -> String {
    let digits = match v {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 1.0 => 2,
        _ => 3,
    };
    format!("{v:.digits$} {unit}").trim_end().to_string()
}

/// A figure's median, with its min–max over several runs.
fn stat(s: &Stat, unit: &str) -> String {
    if s.runs <= 1 || s.min == s.max {
        value(s.median, unit)
    } else {
        format!(
            "{} ({}–{})",
            value(s.median, unit),
            value(s.min, ""),
            value(s.max, "")
        )
    }
}

/// One figure: its name, then what was measured against what, wrapped.
fn figure(f: &Figure) -> String {
    let mut parts = vec![format!("ours {}", stat(&f.ours, f.unit))];
    if let Some(r) = &f.reference {
        parts.push(format!("reference {}", stat(r, f.unit)));
    }
    if let Some(r) = &f.ratio {
        let ratio = if r.runs <= 1 || r.min == r.max {
            format!("{:.2}×", r.median)
        } else {
            format!("{:.2}× ({:.2}–{:.2})", r.median, r.min, r.max)
        };
        parts.push(format!("{ratio} {}", f.ratio_of));
    }
    if let Some(t) = &f.target {
        let holds = match f.holds {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not judged",
        };
        parts.push(format!("target {t}: {holds}"));
    }
    // A name indented in the report is a line under the figure above it.
    let name = f.name.trim_start();
    let indent = &f.name[..f.name.len() - name.len()];
    let mut s = text::wrap_prefixed(name, &format!("{} {indent}", f.section), "    ");
    s.push_str(&text::wrap(&parts.join("; "), 4, 4));
    s
}

/// The report as text within 80 columns: a figure per paragraph.
fn render(r: &BenchReport) -> String {
    let mut s: String = r.figures.iter().map(figure).collect();
    s.push('\n');
    s.push_str(&text::wrap(
        &format!(
            "{} run(s) per figure, ours and the references interleaved in one process; \
             built with profile `{}`{}{}",
            r.runs,
            r.profile,
            if r.fair {
                " (fat LTO, one codegen unit: fair to both sides)"
            } else {
                " (NOT the fair build: ratios against the peers are not to be quoted)"
            },
            if r.quick { "; quick sizes" } else { "" }
        ),
        0,
        0,
    ));
    s
}
