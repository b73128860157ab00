//! The progress bar: on stderr, only on a terminal, never with `--json`,
//! and never wider than the terminal.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A short prefix, a 20-cell bar, the count, then the message in whatever
/// width is left (`wide_msg` is cut to the terminal's width).
const TEMPLATE: &str = "{prefix} [{bar:20}] {pos}/{len} {wide_msg}";

/// The bar's style.
pub fn style() -> ProgressStyle {
    ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// A progress bar of `len` steps named `what`, hidden for JSON output or
/// when stderr is not a terminal.
pub fn bar(json: bool, len: u64, what: &str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(style());
    pb.set_prefix(what.to_string());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::{InMemoryTerm, ProgressDrawTarget};

    /// The widest bar the command draws (the longest mode and strategy,
    /// the largest step count) on an 80-column terminal stays within it,
    /// and so does the widest on the all-scenarios run.
    #[test]
    fn the_bar_fits_an_80_column_terminal() {
        for (prefix, len, msg) in [
            ("stress", u64::MAX, "x86_32/PAE-unshared-pmd prealloc"),
            (
                "scenarios",
                88,
                "hotplug-new-slot on x86_32/PAE-unshared-pmd",
            ),
        ] {
            let term = InMemoryTerm::new(4, 80);
            let pb = ProgressBar::with_draw_target(
                Some(len),
                ProgressDrawTarget::term_like(Box::new(term.clone())),
            );
            pb.set_style(style());
            pb.set_prefix(prefix);
            pb.set_message(msg);
            pb.set_position(len / 2);
            pb.force_draw();
            let shown = term.contents();
            let lines: Vec<&str> = shown.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(lines.len(), 1, "one line:\n{shown}");
            assert!(lines[0].starts_with(prefix), "{shown}");
            assert!(lines[0].chars().count() <= 80, "{shown}");
        }
    }
}
