//! The report: figures, their table and their JSON form.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use serde::Serialize;

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Which part of the benchmark (1 to 6, as in the issue).
    pub section: &'static str,
    /// What was measured.
    pub name: String,
    /// Median over the runs of our measurement.
    pub median: f64,
    /// Unit of `median`.
    pub unit: &'static str,
    /// Median of the reference it is compared with, when there is one.
    pub reference: Option<f64>,
    /// What `ratio` divides by what.
    pub ratio_of: &'static str,
    /// The ratio (see `ratio_of`), when there is one.
    pub ratio: Option<f64>,
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
    /// Runs per figure (the median is reported).
    pub runs: usize,
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
            "median",
            "reference",
            "ratio",
            "target",
            "holds",
        ]);
        for f in &self.figures {
            let unit = f.unit;
            t.add_row([
                Cell::new(f.section),
                Cell::new(&f.name),
                Cell::new(fmt_value(f.median, unit)).set_alignment(CellAlignment::Right),
                Cell::new(f.reference.map_or(String::new(), |r| fmt_value(r, unit)))
                    .set_alignment(CellAlignment::Right),
                Cell::new(
                    f.ratio
                        .map_or(String::new(), |r| format!("{r:.2}× ({})", f.ratio_of)),
                ),
                Cell::new(f.target.clone().unwrap_or_default()),
                Cell::new(match f.holds {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                }),
            ]);
        }
        format!(
            "{t}\n{} run(s) per figure, medians{}\n",
            self.runs,
            if self.quick { " (quick sizes)" } else { "" }
        )
    }
}
