//! Snapshot tests of the `pgtable` command's real output (trycmd): the
//! help of every command, every refused option, the `--json` outputs, and
//! the README's samples, which are run as they are written there (its
//! ```console blocks), so they cannot drift from what the command prints.
//!
//! Regenerate after a deliberate change of the output:
//! `TRYCMD=overwrite cargo test -p pgtable-cli --test snapshots`, then
//! read the diff.

#[test]
fn snapshots() {
    trycmd::TestCases::new()
        .register_bin(
            "pgtable",
            std::path::Path::new(env!("CARGO_BIN_EXE_pgtable")),
        )
        // clap wraps help to the terminal's width, at most 80 columns; the
        // snapshots are taken at 80, whatever the terminal running them.
        .env("COLUMNS", "80")
        .case("tests/cmd/*.md")
        .case("../../README.md");
}

/// Every line of text the snapshots show is at most 80 columns wide,
/// except Linux's own ptdump lines (printed as Linux's dumpers print them)
/// and `--json` output (data for programs, not a terminal).
#[test]
fn snapshots_fit_80_columns() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"));
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_console = false;
        let mut json = false;
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("```") {
                in_console = line == "```console";
                continue;
            }
            if let Some(cmd) = line.strip_prefix("$ ") {
                json = cmd.split_whitespace().any(|a| a == "--json");
                continue;
            }
            let linux = line.starts_with("0x");
            if in_console && !linux && !json {
                assert!(
                    line.chars().count() <= 80,
                    "{}:{}: {} columns: {line}",
                    path.display(),
                    n + 1,
                    line.chars().count()
                );
            }
        }
    }
}
