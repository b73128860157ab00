//! The stress scenario runs clean under every strategy on every
//! architecture and mode.
//! `STRESS_STEPS` and `STRESS_SPACES` make it longer.

use pgtable::arch::SyncMethod;
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_sim::scenarios::{stress, Config};
use pgtable_sim::{SimArch, Strategy};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn stress_is_clean_under_every_strategy() {
    let steps = env("STRESS_STEPS", 1_500);
    let spaces = env("STRESS_SPACES", 8) as usize;
    for arch in SimArch::all() {
        for strategy in [Strategy::Eager, Strategy::Prealloc, Strategy::Lazy] {
            let cfg = Config {
                arch,
                strategy,
                steps,
                spaces,
                seed: 7,
                ..Config::default()
            };
            let r = stress::run(&cfg, &mut |_| {}).unwrap();
            eprintln!(
                "{} {:?}: {} steps in {} ms, {:?}, figures {:?}, compared {}",
                r.mode, strategy, r.steps, r.elapsed_ms, r.ops, r.figures, r.compared
            );
            assert_eq!(r.steps, steps);
            assert!(
                r.ok(),
                "{} {strategy:?}: faults {:?} checker {:?} balanced {}",
                r.mode,
                r.unhandled_faults,
                r.checker,
                r.frames_balanced
            );
            let sync_level = match arch.sync_method() {
                SyncMethod::CopyEntries(l) => Some(l),
                SyncMethod::None => None,
            };
            match (strategy, sync_level) {
                // The strategy's own boot preallocation of every kernel
                // top-level slot, before any process exists: on riscv it
                // fills slots outside the architecture's preallocated
                // areas, which the library copies into every root (none
                // yet): one top-level copy at most, never a lazy fix.
                (Strategy::Prealloc, None) => assert!(
                    r.figures.sync_calls <= 1 && r.figures.lazy_fixes == 0,
                    "{}: {:?}",
                    r.mode,
                    r.figures
                ),
                // Split roots, a shared kernel PMD, riscv's boot
                // preallocation: nothing ever needs copying.
                (_, None) => assert_eq!(
                    (r.figures.sync_calls, r.figures.lazy_fixes),
                    (0, 0),
                    "{}",
                    r.mode
                ),
                (Strategy::Eager, _) => {
                    assert!(r.figures.sync_calls > 0 && r.figures.lazy_fixes == 0)
                }
                // The one sync is the boot-time preallocation itself, before
                // any process exists; nothing at the top level changes after.
                (Strategy::Prealloc, Some(l)) if l == arch.top_level() => {
                    assert_eq!(r.figures.sync_calls, 1, "only the boot preallocation")
                }
                // The sync level lies below the root: its entries still change.
                (Strategy::Prealloc, Some(_)) => assert!(r.figures.sync_calls > 1),
                (Strategy::Lazy, _) => assert_eq!(r.figures.sync_calls, 0),
            }
        }
    }
}

/// With the kernel users of Linux before 9b861528a801 (nothing syncs the
/// direct map, the vmemmap or vmalloc), every mode whose sync copies
/// entries fails the checker, and a step check finds it within the run:
/// periodic full checks are off and the run stops before its last step.
#[test]
fn stress_without_the_sync_fails_at_a_step_check() {
    let mut caught = 0;
    for arch in SimArch::all() {
        if arch.sync_method() == SyncMethod::None {
            continue;
        }
        let cfg = Config {
            arch,
            steps: 3_000,
            spaces: 8,
            seed: 7,
            ..Config::default()
        };
        let opts = stress::Options {
            era: pgtable_sim::Era::Pre9b86,
            full_check_every: u64::MAX,
        };
        let r = stress::run_with(&cfg, &opts, &mut |_| {}).unwrap();
        eprintln!("{}: step {}: {:?}", r.mode, r.steps, r.checker);
        let failure = r
            .checker
            .unwrap_or_else(|| panic!("{}: sync disabled, yet clean", r.mode));
        assert!(
            r.steps < cfg.steps,
            "{}: found only by the last full check: {failure}",
            r.mode
        );
        assert!(failure.contains("kernel has"), "{}: {failure}", r.mode);
        caught += 1;
    }
    // x86-64 (two), x86-32 2-level and PAE-unshared-PMD, arm32.
    assert_eq!(caught, 5);
}
