//! The report: figures, their table and their JSON form.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;

/// The spread of one figure over its runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    /// Smallest run.
    pub min: f64,
    /// Median run.
    pub median: f64,
    /// Largest run.
    pub max: f64,
    /// Runs measured.
    pub runs: usize,
}

impl Stat {
    /// The spread of `v` (at least one value).
    pub fn of(v: &[f64]) -> Stat {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Stat {
            min,
            median: crate::median(v.to_vec()),
            max,
            runs: v.len(),
        }
    }

    /// A figure that is counted, not timed: one value.
    pub fn exact(v: f64) -> Stat {
        Stat::of(&[v])
    }

    /// The per-run quotient `a[i] / b[i]` of two figures measured in the
    /// same runs (interleaved), as a spread.
    pub fn ratio(a: &[f64], b: &[f64]) -> Stat {
        let q: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
        Stat::of(&q)
    }
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Which part of the benchmark (1 to 6, as in the issue).
    pub section: &'static str,
    /// What was measured.
    pub name: String,
    /// Our measurement over the runs.
    pub ours: Stat,
    /// Unit of `ours` and `reference`.
    pub unit: &'static str,
    /// The reference it is compared with, measured in the same runs.
    pub reference: Option<Stat>,
    /// What `ratio` divides by what.
    pub ratio_of: &'static str,
    /// The ratio (see `ratio_of`) per run, when there is one; the target is
    /// judged on its median.
    pub ratio: Option<Stat>,
    /// The target, in words (`ratio >= 3`, `< 50 ns`).
    pub target: Option<String>,
    /// Whether the target holds; `None` without a target.
    pub holds: Option<bool>,
}

/// Everything one `pgtable bench` run measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Whether this was the quick (CI) size.
    pub quick: bool,
    /// Runs per figure.
    pub runs: usize,
    /// The cargo profile the benchmark was built with.
    pub profile: &'static str,
    /// Whether that is the fair profile ([`crate::FAIR_PROFILE`]).
    pub fair: bool,
    /// The figures.
    pub figures: Vec<Figure>,
}

fn fmt_value(v: f64, unit: &str) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    format!("{s} {unit}")
}

fn fmt_stat(s: &Stat, unit: &str) -> String {
    if s.runs <= 1 || s.min == s.max {
        return fmt_value(s.median, unit);
    }
    format!(
        "{} ({}–{})",
        fmt_value(s.median, unit),
        fmt_value(s.min, "").trim_end(),
        fmt_value(s.max, "").trim_end()
    )
}

impl BenchReport {
    /// Whether every target holds.
    pub fn all_hold(&self) -> bool {
        self.figures.iter().all(|f| f.holds != Some(false))
    }

    /// The report as a table.
    pub fn render_table(&self) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([
            "#",
            "figure",
            "ours: median (min–max)",
            "reference",
            "ratio: median (min–max)",
            "target",
            "holds",
        ]);
        for f in &self.figures {
            let unit = f.unit;
            t.add_row([
                Cell::new(f.section),
                Cell::new(&f.name),
                Cell::new(fmt_stat(&f.ours, unit)).set_alignment(CellAlignment::Right),
                Cell::new(f.reference.map_or(String::new(), |r| fmt_stat(&r, unit)))
                    .set_alignment(CellAlignment::Right),
                Cell::new(f.ratio.map_or(String::new(), |r| {
                    if r.runs <= 1 || r.min == r.max {
                        format!("{:.2}× {}", r.median, f.ratio_of)
                    } else {
                        format!(
                            "{:.2}× ({:.2}–{:.2}) {}",
                            r.median, r.min, r.max, f.ratio_of
                        )
                    }
                })),
                Cell::new(f.target.clone().unwrap_or_default()),
                Cell::new(match f.holds {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                }),
            ]);
        }
        format!(
            "{t}\n{} run(s) per figure, ours and the references interleaved in one process; \
             built with profile `{}`{}{}\n",
            self.runs,
            self.profile,
            if self.fair {
                " (fat LTO, one codegen unit: fair to both sides)"
            } else {
                " (NOT the fair build: ratios against the peers are not to be quoted)"
            },
            if self.quick { "; quick sizes" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Stat;

    #[test]
    fn spread_and_run_by_run_ratio() {
        let s = Stat::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.min, s.median, s.max, s.runs), (1.0, 2.5, 10.0, 4));
        // Run by run, not median over median: (10/2, 9/3, 4/1).
        let r = Stat::ratio(&[10.0, 9.0, 4.0], &[2.0, 3.0, 1.0]);
        assert_eq!((r.min, r.median, r.max), (3.0, 4.0, 5.0));
        assert_eq!(Stat::exact(7.0).runs, 1);
    }
}
