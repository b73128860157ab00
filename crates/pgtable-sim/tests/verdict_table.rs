//! `VERDICTS.md` is the table of every (scenario, era, mode) verdict the
//! runs are checked against; it is regenerated here and must not drift.
//! `UPDATE_GOLDEN=1` rewrites it.

#[test]
fn verdicts_md_is_the_expectation_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/VERDICTS.md");
    let want = pgtable_sim::scenarios::table::verdict_table();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "VERDICTS.md is stale: UPDATE_GOLDEN=1 cargo test -p pgtable-sim --test verdict_table"
    );
}
