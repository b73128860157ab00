use super::*;
use crate::setup::{machine, Config};
use crate::SimArch;
use pgtable::arch::riscv64::Riscv64;
use pgtable::{Decoded, EntryFormat};

/// riscv preallocates tables below the root that stay empty; the
/// rights check skips them once the MMU is seen to walk into them. A
/// user-accessible leaf written into one is found all the same, by
/// the incremental audit and by the full one.
#[test]
fn a_leaf_in_a_table_read_empty_before_is_checked() {
    let m = machine(&Config {
        arch: SimArch::Riscv64(Riscv64::SV48),
        spaces: 2,
        ..Config::default()
    })
    .unwrap();
    let mut audit = Audit::new(&m);
    audit.check(&m, true).unwrap();
    let kroot = m.pt.kernel_root();
    let top = m.arch.top_level();
    let (child, level) = m
        .arch
        .kernel_top_slots()
        .find_map(
            |s| match m.arch.decode(top, Checker::slot_entry(&m, kroot, s)) {
                Decoded::Table(t) => {
                    let mut raw = Vec::new();
                    Audit::read_entries(&m, t.0, 512, &mut raw);
                    raw.iter().all(|&e| e == 0).then_some(t)
                }
                _ => None,
            },
        )
        .map(|t| (t, top.next().unwrap()))
        .expect("an empty preallocated table");
    assert!(m.arch.leaf_allowed(level));
    let leaf = m
        .arch
        .encode_leaf(level, PhysAddr(0), pgtable::Prot::USER_RW);
    m.pt.mem().write_u64(child, leaf);
    let f = audit
        .check(&m, false)
        .expect_err("incremental audit passed");
    assert!(f.detail.contains("user=true"), "{f}");
    let f = audit.check(&m, true).expect_err("full audit passed");
    assert!(f.detail.contains("user=true"), "{f}");
}
