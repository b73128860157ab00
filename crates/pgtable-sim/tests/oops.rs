//! The two historical oopses whose addresses are known are reproduced at
//! exactly those addresses, on the machine of each report (x86-64, 4-level
//! paging; the KASLR bases, `struct page` size and device address of
//! `pgtable_sim::layout::OOPS_*`, derived in `docs/linux-baselines.md`).

use pgtable_sim::era::Era;
use pgtable_sim::layout::{ReportedOops, OOPS_4917F55B4EF9, OOPS_8D400913C231};
use pgtable_sim::scenarios::{run, Config};
use pgtable_sim::SimArch;

fn first_oops(scenario: &str, era: Era) -> Option<pgtable_sim::FaultRecord> {
    let cfg = Config {
        arch: SimArch::x86_64(false),
        ..Config::default()
    };
    let outcome = run(scenario, &cfg).unwrap();
    let e = outcome.eras.iter().find(|e| e.era == era).unwrap();
    e.run.as_ref().and_then(|r| r.faults.first().cloned())
}

fn check(scenario: &str, oops: &ReportedOops, what: &str) {
    let f = first_oops(scenario, Era::V58To616).expect("5.8-6.16 oopses");
    assert_eq!(f.addr, oops.oops, "{scenario}: {f:?}");
    assert_eq!(
        (f.access, f.kind, f.level),
        ("write", "not present", "PML4")
    );
    assert!(f.what.contains(what), "{}", f.what);
    // The processes' roots lack the new top-level entry: CPU 0 runs one.
    assert_eq!(f.cpu, 0);
    assert!(
        first_oops(scenario, Era::V617).is_none(),
        "the library syncs first"
    );
}

#[test]
fn compound_devmap_faults_at_ffffe70000000034() {
    assert_eq!(OOPS_4917F55B4EF9.oops, 0xffff_e700_0000_0034);
    check("compound-devmap", &OOPS_4917F55B4EF9, "_refcount");
}

#[test]
fn subpmd_clear_faults_at_ffffeb3ff1200000() {
    assert_eq!(OOPS_8D400913C231.oops, 0xffff_eb3f_f120_0000);
    check("subpmd-clear", &OOPS_8D400913C231, "__vmemmap_use_sub_pmd");
}
