//! The checker's step looks where the step wrote: each break below is
//! found by the step right after it, and what each part of the step adds.

use pgtable::arch::x86_32::X86_32;
use pgtable::{Decoded, PhysAddr, VirtAddr, PAGE_SIZE};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};
use pgtable_mmu::Access;
use pgtable_sim::checker::Checker;
use pgtable_sim::scenarios::{machine, Config};
use pgtable_sim::{Context, Machine, SimArch, Variant};

/// A booted machine with logging on and a clean full check behind it.
fn booted(arch: SimArch) -> (Machine, Checker) {
    let m = machine(&Config {
        arch,
        cpus: 2,
        spaces: 3,
        ..Config::default()
    })
    .unwrap();
    m.pt.mem().log_writes(true);
    let mut checker = Checker::new();
    checker.full(&m).expect("clean after boot");
    let _ = m.pt.mem().take_written();
    (m, checker)
}

fn write_entry(m: &Machine, pa: u64, value: u64) {
    if m.arch.entry_size() == 8 {
        m.pt.mem().write_u64(PhysAddr(pa), value);
    } else {
        m.pt.mem().write_u32(PhysAddr(pa), value as u32);
    }
}

fn read_entry(m: &Machine, pa: u64) -> u64 {
    if m.arch.entry_size() == 8 {
        m.pt.mem().read_u64(PhysAddr(pa))
    } else {
        u64::from(m.pt.mem().read_u32(PhysAddr(pa)))
    }
}

/// A kernel slot the kernel fills, and a process root.
fn filled_slot(m: &Machine) -> (usize, PhysAddr) {
    let kroot = m.pt.kernel_root().0;
    let slot = m
        .arch
        .kernel_top_slots()
        .find(|&s| read_entry(m, kroot + s as u64 * m.arch.entry_size()) != 0)
        .expect("a filled kernel slot");
    (slot, m.root_of(Context::Process(1)).unwrap())
}

/// A process root's kernel entry overwritten (as a library bug writing
/// the wrong root would): the written page names the space, the step
/// checks it in full. Without the write log the step looks only at the
/// kernel's entries, which did not change: the full check finds it.
#[test]
fn a_space_written_behind_the_kernels_back_fails_the_next_step() {
    for arch in SimArch::all() {
        if arch.kernel_top_slots().is_empty() {
            // Split roots (arm64): a process root holds no kernel entry.
            continue;
        }
        let (m, mut checker) = booted(arch);
        let (slot, root) = filled_slot(&m);
        write_entry(&m, root.0 + slot as u64 * m.arch.entry_size(), 0);
        let written = m.pt.mem().take_written();
        let mut blind = Checker::new();
        blind.full(&m).expect_err("the full check sees it");
        // Re-arm a checker that has seen the state before the write.
        let f = checker
            .step(&m, &[], &written)
            .expect_err(&format!("{}: step missed a zeroed slot", arch.name()));
        assert_eq!((f.root, f.slot), (root.0, Some(slot)), "{}", arch.name());
        let (m, mut checker) = booted(arch);
        let (slot, root) = filled_slot(&m);
        write_entry(&m, root.0 + slot as u64 * m.arch.entry_size(), 0);
        let _ = m.pt.mem().take_written();
        assert!(
            checker.step(&m, &[], &[]).is_ok(),
            "{}: without the write log the step cannot see it",
            arch.name()
        );
        assert!(checker.full(&m).is_err(), "{}", arch.name());
    }
}

/// x86-32 PAE with per-process kernel PMDs: each process copies the
/// kernel's PMD, and the sync works on its entries. A new kernel PMD
/// entry left out of the copies, and a copy overwritten, each fail the
/// next step.
#[test]
fn per_process_kernel_pmds_are_checked_entry_by_entry() {
    let arch = SimArch::X86_32(X86_32::PAE_UNSHARED_PMD);
    // A kernel PMD entry the copies lack: the old vmalloc does not sync.
    let (m, mut checker) = booted(arch);
    let mut k = m.kernel();
    let mut found = None;
    for _ in 0..600 {
        k.vmalloc(Variant::Old, 1).unwrap();
        if let Err(f) = checker.step(&m, &[], &m.pt.mem().take_written()) {
            found = Some(f);
            break;
        }
    }
    let f = found.expect("an unsynced kernel PMD entry passed 600 steps");
    assert!(f.detail.contains("below the top"), "{f}");
    // A process's copy overwritten.
    let (m, mut checker) = booted(arch);
    let (slot, root) = filled_slot(&m);
    let top = m.arch.top_level();
    let pdpte = read_entry(&m, root.0 + slot as u64 * 8);
    let Decoded::Table(copy) = m.arch.decode(top, pdpte) else {
        panic!("no PMD under slot {slot}");
    };
    let i = (0..512u64)
        .find(|&i| read_entry(&m, copy.0 + i * 8) != 0)
        .expect("a filled PMD entry");
    write_entry(&m, copy.0 + i * 8, 0);
    let f = checker
        .step(&m, &[], &m.pt.mem().take_written())
        .expect_err("a zeroed PMD entry in a process's copy passed");
    assert_eq!(f.root, root.0, "{f}");
}

/// A kernel page unmapped without the TLB shootdown: the step finds the
/// stale translation though the step touched no address, since it looks
/// at every kernel-half translation a TLB holds.
#[test]
fn a_stale_tlb_entry_fails_the_next_step_untouched() {
    for arch in SimArch::all() {
        let (m, mut checker) = booted(arch);
        let mut k = m.kernel();
        let va = k.vmalloc(Variant::New, 4).unwrap() + 2 * PAGE_SIZE;
        k.access(0, va, Access::Read, "fill the TLB").unwrap();
        checker
            .step(&m, &[], &m.pt.mem().take_written())
            .expect("clean after the access");
        // Deliberately not flushed: the stale TLB entry is the defect the
        // step must catch.
        k.ks.edit(|e| e.vunmap_range(VirtAddr(va), PAGE_SIZE))
            .0
            .unwrap()
            .ignore();
        let f = checker
            .step(&m, &[], &m.pt.mem().take_written())
            .expect_err(&format!("{}: stale TLB entry passed", arch.name()));
        assert!(f.detail.contains("TLB"), "{}: {f}", arch.name());
        assert_eq!(f.addr, Some(va), "{}", arch.name());
    }
}
