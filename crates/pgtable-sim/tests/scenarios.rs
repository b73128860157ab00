//! Every scenario in both paging modes: old code faults where Linux
//! crashed, new code is clean and passes the checker.

use pgtable_sim::scenarios::{run, Config, SCENARIOS};
use pgtable_sim::Strategy;

#[test]
fn old_code_faults_and_new_code_is_clean_in_both_modes() {
    for la57 in [false, true] {
        for s in SCENARIOS.iter().filter(|s| s.name != "stress") {
            let cfg = Config {
                la57,
                ..Config::default()
            };
            let o = run(s.name, &cfg).unwrap();
            let old = o.old.as_ref().unwrap();
            eprintln!(
                "{} {}: old {} | new {} | {:?}",
                o.mode,
                o.scenario,
                old.summary(),
                o.new.summary(),
                o.new.notes
            );
            assert!(
                !old.faults.is_empty(),
                "{} {}: old code did not fault",
                o.mode,
                s.name
            );
            assert!(
                o.new.faults.is_empty(),
                "{} {}: new code faulted: {:?}",
                o.mode,
                s.name,
                o.new.faults
            );
            assert_eq!(o.new.checker, None, "{} {}", o.mode, s.name);
            assert!(o.ok);
        }
    }
}

#[test]
fn prealloc_and_lazy_make_the_old_code_survive() {
    for strategy in [Strategy::Prealloc, Strategy::Lazy] {
        let cfg = Config {
            strategy,
            ..Config::default()
        };
        let o = run("hotplug-new-slot", &cfg).unwrap();
        assert!(
            o.old.as_ref().unwrap().faults.is_empty(),
            "{strategy:?}: {:?}",
            o.old
        );
        assert!(o.ok, "{strategy:?}");
        if strategy == Strategy::Lazy {
            assert!(o.old.as_ref().unwrap().figures.lazy_fixes > 0);
        }
    }
}
