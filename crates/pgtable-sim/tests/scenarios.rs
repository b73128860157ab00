//! Every scenario in both paging modes: old code faults where Linux
//! crashed, new code is clean and passes the checker.

use pgtable_sim::scenarios::{expectation, run, Config, SCENARIOS};
use pgtable_sim::{SimArch, SimError, Strategy};

#[test]
fn old_code_faults_where_the_arch_needs_a_sync_and_new_code_is_clean_everywhere() {
    let mut ran = 0;
    for arch in SimArch::all() {
        let must_fault = expectation(arch, Strategy::Eager).0;
        for s in SCENARIOS.iter().filter(|s| s.name != "stress") {
            let cfg = Config {
                arch,
                ..Config::default()
            };
            let o = match run(s.name, &cfg) {
                Ok(o) => o,
                Err(SimError::NotApplicable(why)) => {
                    eprintln!("{arch:?} {}: not applicable: {why}", s.name);
                    continue;
                }
                Err(e) => panic!("{arch:?} {}: {e}", s.name),
            };
            ran += 1;
            let old = o.old.as_ref().unwrap();
            eprintln!(
                "{} {}: old {} | new {} | {:?}",
                o.mode,
                o.scenario,
                old.summary(),
                o.new.summary(),
                o.new.notes
            );
            assert_eq!(
                !old.faults.is_empty(),
                must_fault,
                "{} {}: old code faults exactly where the architecture needs a sync",
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
    assert!(ran >= 50, "only {ran} scenario runs");
}

#[test]
fn each_architecture_faults_in_the_old_code_only_where_linux_syncs() {
    use pgtable::arch::{arm64::Arm64, riscv64::Riscv64, x86_32::X86_32};
    let cases = [
        (SimArch::x86_64(false), true),
        (SimArch::x86_64(true), true),
        (SimArch::X86_32(X86_32::TWO_LEVEL), true),
        (SimArch::X86_32(X86_32::PAE), false),
        (SimArch::X86_32(X86_32::PAE_UNSHARED_PMD), true),
        (SimArch::Arm64(Arm64::VA_48), false),
        (SimArch::Arm64(Arm64::VA_39), false),
        (SimArch::Riscv64(Riscv64::SV39), false),
        (SimArch::Arm32(pgtable::arch::arm32::Arm32::SHORT), true),
    ];
    for (arch, faults) in cases {
        let o = run(
            "vmalloc-new-slot",
            &Config {
                arch,
                ..Config::default()
            },
        )
        .unwrap();
        let old = o.old.as_ref().unwrap();
        assert_eq!(!old.faults.is_empty(), faults, "{}: {}", o.mode, o.why);
        assert!(o.ok, "{}", o.mode);
    }
}

#[test]
fn prealloc_on_a_sync_level_below_the_root_does_not_help() {
    // PAE with per-process kernel PMDs: the top level is full from boot, yet
    // new PMD entries must still be copied.
    let arch = SimArch::X86_32(pgtable::arch::x86_32::X86_32::PAE_UNSHARED_PMD);
    for (strategy, faults) in [(Strategy::Prealloc, true), (Strategy::Lazy, false)] {
        let o = run(
            "vmalloc-new-slot",
            &Config {
                arch,
                strategy,
                ..Config::default()
            },
        )
        .unwrap();
        assert_eq!(
            !o.old.as_ref().unwrap().faults.is_empty(),
            faults,
            "{strategy:?}"
        );
        assert!(o.ok, "{strategy:?}: {:?}", o.new.faults);
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
