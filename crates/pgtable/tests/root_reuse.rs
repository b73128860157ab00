//! A new root is written whole before it is used: a root frame reused after
//! a destroy, whatever it held, comes back as a zeroed frame with the
//! kernel half copied in would (`OffsetMemory` hands a freed frame out
//! again uncleared where the caller overwrites it, as `create_space` does).

use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Arch, KernelPolicy, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, PAGE_SIZE, X86_64,
};
use pgtable::{Arm64, Level};

/// The words of a root of `pt`'s mode (16 on arm64 52-bit, whose root is
/// smaller than a page and shares it).
fn root_words<A: Arch>(pt: &PageTables<A, OffsetMemory>) -> u64 {
    pt.arch().table_bytes(Level::Pgd) / 8
}

/// Page tables over a small host region with a page mapped in vmalloc, so
/// that the kernel half has a present entry and empty ones.
fn machine<A: Arch>(arch: A) -> PageTables<A, OffsetMemory> {
    let mem = OffsetMemory::new_host(PhysAddr(0x10_0000), 256 * PAGE_SIZE).unwrap();
    let pt = PageTables::new(arch, mem).unwrap();
    let vmalloc = pt.arch().layout().get(RegionKind::Vmalloc).unwrap().start;
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(
            VirtAddr(vmalloc),
            PhysAddr(0x4000_0000),
            PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap()
    });
    drop(k);
    pt
}

/// What a zeroed root with the kernel's `slots` copied in holds.
fn expected<A: Arch>(
    pt: &PageTables<A, OffsetMemory>,
    slots: &core::ops::Range<usize>,
) -> Vec<u64> {
    (0..root_words(pt))
        .map(|i| match slots.contains(&(i as usize)) {
            true => pt.mem().read_u64(PhysAddr(pt.kernel_root().0 + i * 8)),
            false => 0,
        })
        .collect()
}

fn words<A: Arch>(pt: &PageTables<A, OffsetMemory>, root: PhysAddr) -> Vec<u64> {
    (0..root_words(pt))
        .map(|i| pt.mem().read_u64(PhysAddr(root.0 + i * 8)))
        .collect()
}

/// Destroy a space, fill its freed root frame(s) with garbage, create one
/// again in the same frame(s), and compare with a root made from zero.
fn reused_roots_are_written_whole<A: Arch>(pt: PageTables<A, OffsetMemory>) {
    let kernel = pt.arch().kernel_top_slots();
    let first = pt.create_space().unwrap();
    let (root, user) = (first.root(), first.user_root());
    let fresh = words(&pt, root);
    assert_eq!(fresh, expected(&pt, &kernel), "{}", pt.arch().name());
    pt.destroy_space(first).unwrap().ignore();
    for frame in [Some(root), user].into_iter().flatten() {
        for i in 0..root_words(&pt) {
            pt.mem().write_u64(
                PhysAddr(frame.0 + i * 8),
                0xdead_beef_0000_0000 | i << 12 | 0x67,
            );
        }
    }
    let copied = pt.stats().entries_copied;
    let again = pt.create_space().unwrap();
    let mut before = vec![Some(root), user];
    let mut after = vec![Some(again.root()), again.user_root()];
    before.sort();
    after.sort();
    assert_eq!(after, before, "the freed frames are handed out again");
    assert_eq!(words(&pt, again.root()), fresh, "{}", pt.arch().name());
    let mut present = fresh.iter().filter(|&&w| w != 0).count();
    if let Some(u) = again.user_root() {
        let shared = pt.pti_slots().unwrap();
        let want = expected(&pt, &shared);
        assert_eq!(words(&pt, u), want, "{} user-mode root", pt.arch().name());
        present += want.iter().filter(|&&w| w != 0).count();
    }
    assert_eq!(pt.stats().entries_copied - copied, present as u64);
    assert_eq!(pt.first_out_of_sync(), None);
    pt.destroy_space(again).unwrap().ignore();
}

#[test]
fn x86_64_root_reused_after_destroy_is_written_whole() {
    for arch in [X86_64::FOUR_LEVEL, X86_64::FIVE_LEVEL] {
        reused_roots_are_written_whole(machine(arch));
    }
}

#[test]
fn riscv64_root_reused_after_destroy_is_written_whole() {
    for arch in [Riscv64::SV39, Riscv64::SV48, Riscv64::SV57] {
        reused_roots_are_written_whole(machine(arch));
    }
}

#[test]
fn arm64_root_reused_after_destroy_is_written_whole() {
    for arch in [Arm64::VA_39, Arm64::VA_48, Arm64::VA_52] {
        reused_roots_are_written_whole(machine(arch));
    }
}

#[test]
fn pti_roots_reused_after_destroy_are_written_whole() {
    for arch in [X86_64::FOUR_LEVEL, X86_64::FIVE_LEVEL] {
        let cea = arch.layout().get(RegionKind::CpuEntryArea).unwrap();
        let pt = machine(arch)
            .with_pti(VirtAddr(cea.start)..VirtAddr(cea.last + 1))
            .unwrap();
        reused_roots_are_written_whole(pt);
    }
}
