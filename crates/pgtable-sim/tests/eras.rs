//! The era model: for every mode and scenario, each era's run shows what
//! that Linux release does (docs/linux-baselines.md), and 6.17+ (the
//! library) never faults.

use pgtable::arch::{arm64::Arm64, riscv64::Riscv64};
use pgtable::PagingGeometry;
use pgtable_sim::scenarios::{run, Config, SCENARIOS};
use pgtable_sim::{Era, Outcome, SimArch, SimError, Verdict};

fn outcome(arch: SimArch, name: &str) -> Option<Outcome> {
    let cfg = Config {
        arch,
        ..Config::default()
    };
    match run(name, &cfg) {
        Ok(o) => Some(o),
        Err(SimError::NotApplicable(_)) => None,
        Err(e) => panic!("{} {name}: {e}", arch.name()),
    }
}

fn verdict(o: &Outcome, era: Era) -> Verdict {
    o.era(era).unwrap().verdict
}

#[test]
fn every_era_agrees_with_linux_and_the_library_never_faults() {
    let mut runs = 0;
    for arch in SimArch::all() {
        for s in SCENARIOS.iter().filter(|s| s.name != "stress") {
            let Some(o) = outcome(arch, s.name) else {
                continue;
            };
            for e in &o.eras {
                eprintln!(
                    "{} {} {}: {:?} (expected {:?}){}",
                    o.mode,
                    o.scenario,
                    e.era_name,
                    e.verdict,
                    e.expected,
                    e.run
                        .as_ref()
                        .map_or(String::new(), |r| format!(" {}", r.summary()))
                );
                assert_eq!(
                    e.verdict, e.expected,
                    "{} {} {}",
                    o.mode, s.name, e.era_name
                );
                runs += usize::from(e.run.is_some());
            }
            let lib = o.library().expect("6.17+ runs everywhere");
            assert!(
                lib.faults.is_empty() && lib.fixed.is_empty(),
                "{} {}: {:?}",
                o.mode,
                s.name,
                lib
            );
            assert_eq!(lib.checker, None, "{} {}", o.mode, s.name);
            assert!(o.ok, "{} {}", o.mode, s.name);
        }
    }
    assert!(runs >= 150, "only {runs} era runs");
}

#[test]
fn x86_64_vmalloc_and_ioremap_are_fixed_lazily_before_5_8_and_never_fault_after() {
    for la57 in [false, true] {
        for name in ["vmalloc-new-slot", "ioremap"] {
            let o = outcome(SimArch::x86_64(la57), name).unwrap();
            // 7f0a002b5a21 removed vmalloc_fault() in 5.8; 5.9+ preallocates
            // the vmalloc area (preallocate_vmalloc_pages()).
            assert_eq!(verdict(&o, Era::Pre58), Verdict::FixedByHandler, "{name}");
            let fixed = &o.era(Era::Pre58).unwrap().run.as_ref().unwrap().fixed;
            assert!(!fixed.is_empty());
            assert_eq!(verdict(&o, Era::V58To616), Verdict::NoFault, "{name}");
            assert_eq!(verdict(&o, Era::V617), Verdict::NoFault, "{name}");
        }
    }
}

#[test]
fn the_vmemmap_bugs_fault_in_the_era_that_had_them() {
    for la57 in [false, true] {
        let arch = SimArch::x86_64(la57);
        // 4917f55b4ef9 (5.19) and 8d400913c231 (5.13): 5.8–6.16 only.
        for name in ["compound-devmap", "subpmd-clear"] {
            let o = outcome(arch, name).unwrap();
            assert_eq!(verdict(&o, Era::V58To616), Verdict::Fault, "{name}");
            assert_eq!(verdict(&o, Era::V617), Verdict::NoFault, "{name}");
        }
        let o = outcome(arch, "compound-devmap").unwrap();
        assert_eq!(verdict(&o, Era::Pre58), Verdict::NotInEra);
        assert_eq!(verdict(&o, Era::Pre9b86), Verdict::NotInEra);
        let o = outcome(arch, "subpmd-clear").unwrap();
        assert_eq!(verdict(&o, Era::Pre58), Verdict::NoFault);
        // KASAN's early shadow used plain pgd/p4d_populate() until 6.17.
        let o = outcome(arch, "kasan-shadow").unwrap();
        assert_eq!(verdict(&o, Era::Pre58), Verdict::Fault);
        assert_eq!(verdict(&o, Era::V58To616), Verdict::Fault);
        // 9b861528a801: before it, hotplug's new top-level entries were never
        // synced (4-level only: 5-level paging is younger).
        let o = outcome(arch, "hotplug-new-slot").unwrap();
        let want = if la57 {
            Verdict::NotInEra
        } else {
            Verdict::Fault
        };
        assert_eq!(verdict(&o, Era::Pre9b86), want);
        assert_eq!(verdict(&o, Era::Pre58), Verdict::NoFault);
        assert_eq!(verdict(&o, Era::V58To616), Verdict::NoFault);
    }
}

#[test]
fn split_roots_and_boot_preallocation_never_fault_in_any_era() {
    for arch in [
        SimArch::Arm64(Arm64::VA_48),
        SimArch::Arm64(Arm64::VA_39),
        SimArch::Riscv64(Riscv64::SV57),
        SimArch::Riscv64(Riscv64::SV48),
        SimArch::Riscv64(Riscv64::SV39),
    ] {
        for s in SCENARIOS.iter().filter(|s| s.name != "stress") {
            let Some(o) = outcome(arch, s.name) else {
                continue;
            };
            for e in &o.eras {
                assert!(
                    matches!(e.verdict, Verdict::NoFault | Verdict::NotInEra),
                    "{} {} {}: {:?}",
                    o.mode,
                    s.name,
                    e.era_name,
                    e.verdict
                );
            }
        }
    }
}

#[test]
fn the_fault_handler_covers_only_its_range() {
    // x86-64 pre-5.8: vmalloc_fault() handles the vmalloc area only, so a
    // KASAN shadow fault is an oops, not fixed.
    let o = outcome(SimArch::x86_64(false), "kasan-shadow").unwrap();
    let r = o.era(Era::Pre58).unwrap().run.as_ref().unwrap();
    assert!(!r.faults.is_empty());
    assert!(r.fixed.is_empty());
    // arm32's do_translation_fault() handles any kernel address.
    let arm = SimArch::Arm32(pgtable::arch::arm32::Arm32::SHORT);
    for name in ["vmalloc-new-slot", "ioremap", "percpu"] {
        let o = outcome(arm, name).unwrap();
        for era in [Era::Pre9b86, Era::Pre58, Era::V58To616] {
            assert_eq!(verdict(&o, era), Verdict::FixedByHandler, "{name} {era:?}");
        }
        assert_eq!(verdict(&o, Era::V617), Verdict::NoFault, "{name}");
    }
}
