//! The hot paths, each in a function of its own, for instruction counts
//! under callgrind (stable where timings on a shared machine are not):
//!
//! ```sh
//! cargo build --profile bench-fair -p pgtable-bench --example icount
//! valgrind --tool=callgrind --toggle-collect='icount::map_4k*' \
//!     target/bench-fair/examples/icount x86-64
//! ```
//!
//! With `--toggle-collect` on one function (ours: `map_4k`, `unmap_4k`,
//! `map_2m`, `unmap_2m`, `store_loop`, `populate_eager`,
//! `populate_preallocated`, `create_spaces`, `destroy_spaces`; the peers': `x86_64_*`, `aarch64_paging_*`,
//! `multiarch_*`), callgrind's total (`I refs`)
//! is that function's instructions, callees included; divided by what the
//! function did (printed by this program) it is the instructions per page,
//! per root or per space of the README's table (`icount.sh` runs them all).

use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    AddressSpace, Arch, Level, OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, X86_64,
};
use pgtable_bench::peers::{
    Arm64Peer, Arm64Shape, HostRegion, MultiPeer, Peer, PeerTables, Shape, Sv39Shape,
    X64PagingMetaData,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// 4 KiB pages mapped and unmapped.
const PAGES: u64 = 16_384;
/// Registered address spaces the sync reaches.
const SPACES: usize = 10_000;
const PA: u64 = 0x40_0000_0000;
/// 2 MiB leaves mapped and unmapped (1 GiB), from a physical address 2 MiB
/// past a 1 GiB boundary, so that no side can use a 1 GiB leaf.
const LEAVES: u64 = 512;
const PA_2M: u64 = PA + (1 << 30) + (2 << 20);

type Tables<A> = PageTables<A, OffsetMemory>;

#[inline(never)]
fn map_4k<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(PA),
            PAGES * 4096,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap()
    });
}

#[inline(never)]
fn unmap_4k<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| e.vunmap_range(VirtAddr(va), PAGES * 4096).unwrap().ignore());
}

#[inline(never)]
fn map_2m<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(PA_2M),
            LEAVES << 21,
            Prot::KERNEL,
            PageSize::Pmd,
        )
        .unwrap()
    });
}

#[inline(never)]
fn unmap_2m<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| e.vunmap_range(VirtAddr(va), LEAVES << 21).unwrap().ignore());
}

/// Map one page where no top-level entry is yet: the eager sync writes
/// the new entry into every registered root.
#[inline(never)]
fn populate_eager<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(PA),
            4096,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap()
    });
}

/// The same map in a top-level slot preallocated before the spaces were
/// created: no sync. Eager minus this, over `SPACES`, is the sync per space.
#[inline(never)]
fn populate_preallocated<A: Arch>(pt: &Tables<A>, va: u64) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(PA),
            4096,
            Prot::KERNEL,
            PageSize::Base,
        )
        .unwrap()
    });
}

/// The reference of the sync: one 8-byte store per root.
#[inline(never)]
fn store_loop(words: &[&AtomicU64]) {
    for w in words {
        w.store(0, Ordering::Release);
    }
}

/// `create_space` (a root, the kernel half cloned into it) `SPACES` times.
#[inline(never)]
fn create_spaces<A: Arch>(pt: &Tables<A>) -> Vec<AddressSpace> {
    (0..SPACES).map(|_| pt.create_space().unwrap()).collect()
}

/// `destroy_space` of every space.
#[inline(never)]
fn destroy_spaces<A: Arch>(pt: &Tables<A>, spaces: Vec<AddressSpace>) {
    for s in spaces {
        pt.destroy_space(s).unwrap().ignore();
    }
}

/// The `x86_64` crate: `map_to` per page, then `unmap` per page.
#[inline(never)]
fn x86_64_map_4k(p: &mut Peer<'_>, va: u64) {
    p.map_4k(va, PA, PAGES);
}

#[inline(never)]
fn x86_64_unmap_4k(p: &mut Peer<'_>, va: u64) {
    p.unmap_4k(va, PAGES);
}

#[inline(never)]
fn x86_64_map_2m(p: &mut Peer<'_>, va: u64) {
    p.map_2m(va, PA_2M, LEAVES);
}

#[inline(never)]
fn x86_64_unmap_2m(p: &mut Peer<'_>, va: u64) {
    p.unmap_2m(va, LEAVES);
}

/// `aarch64-paging`: one `map_range`, one unmapping `map_range`.
#[inline(never)]
fn aarch64_paging_map_4k(p: &mut Arm64Peer<'_>, va: u64) {
    p.map(va, PA, PAGES * 4096, false);
}

#[inline(never)]
fn aarch64_paging_unmap_4k(p: &mut Arm64Peer<'_>, va: u64) {
    p.unmap(va, PAGES * 4096);
}

#[inline(never)]
fn aarch64_paging_map_2m(p: &mut Arm64Peer<'_>, va: u64) {
    p.map(va, PA_2M, LEAVES << 21, true);
}

#[inline(never)]
fn aarch64_paging_unmap_2m(p: &mut Arm64Peer<'_>, va: u64) {
    p.unmap(va, LEAVES << 21);
}

/// `page_table_multiarch`: one `map_region`, one `unmap_region`.
#[inline(never)]
fn multiarch_map_4k<M: Shape>(p: &mut MultiPeer<'_, M>, va: u64) {
    p.map(va, PA, PAGES * 4096, false);
}

#[inline(never)]
fn multiarch_unmap_4k<M: Shape>(p: &mut MultiPeer<'_, M>, va: u64) {
    p.unmap(va, PAGES * 4096);
}

#[inline(never)]
fn multiarch_map_2m<M: Shape>(p: &mut MultiPeer<'_, M>, va: u64) {
    p.map(va, PA_2M, LEAVES << 21, true);
}

#[inline(never)]
fn multiarch_unmap_2m<M: Shape>(p: &mut MultiPeer<'_, M>, va: u64) {
    p.unmap(va, LEAVES << 21);
}

/// The peers of `arch` over the same work as ours, each from an empty root
/// (they cannot put a 2 MiB leaf where a table of 4 KiB entries is left).
fn peers<M: Shape>(name: &str, va: u64) {
    // At physical 1 MiB: under valgrind the heap sits low, and the `x86_64`
    // crate refuses an offset (host address − physical) that wraps around.
    let region = HostRegion::new(1 << 20, (PAGES / 512 + 64) * 4096);
    if name == "x86-64" {
        let mut p = Peer::new(&region);
        x86_64_map_4k(&mut p, va);
        x86_64_unmap_4k(&mut p, va);
        p.reset();
        x86_64_map_2m(&mut p, va);
        x86_64_unmap_2m(&mut p, va);
    }
    if name == "arm64" {
        let mut p = Arm64Peer::new(&region);
        aarch64_paging_map_4k(&mut p, va);
        aarch64_paging_unmap_4k(&mut p, va);
        p.reset();
        aarch64_paging_map_2m(&mut p, va);
        aarch64_paging_unmap_2m(&mut p, va);
    }
    let mut p = MultiPeer::<M>::new(&region);
    multiarch_map_4k(&mut p, va);
    multiarch_unmap_4k(&mut p, va);
    p.reset();
    multiarch_map_2m(&mut p, va);
    multiarch_unmap_2m(&mut p, va);
}

fn run<A: Arch>(arch: A) -> u64 {
    // The top level that is not folded away: the one whose entries the
    // sync copies.
    let top = *Level::ALL
        .iter()
        .find(|l| arch.level_bits(**l) > 0)
        .expect("a real level");
    let shift = arch.level_shift(top);
    let vmalloc = arch.layout().get(RegionKind::Vmalloc).expect("vmalloc");
    let va = vmalloc.start.next_multiple_of(1 << 30);
    // A root per space, the maps' tables, and a table under each top-level
    // kernel slot the churn below preallocates (256 on arm64 48-bit).
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), (SPACES as u64 + 1024) * 4096).unwrap();
    let pt = PageTables::new(arch, mem).unwrap();
    map_4k(&pt, va);
    unmap_4k(&pt, va);
    map_2m(&pt, va);
    unmap_2m(&pt, va);
    // Two top-level slots past the 4 KiB ones: the second preallocated.
    let slot = (va >> shift) + 2;
    let (eager_va, pre_va) = (slot << shift, (slot + 1) << shift);
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.preallocate(VirtAddr(pre_va), VirtAddr(pre_va + (1 << shift)))
            .unwrap()
    });
    drop(k);
    let spaces: Vec<_> = (0..SPACES).map(|_| pt.create_space().unwrap()).collect();
    let index = ((eager_va >> shift) & ((1 << arch.level_bits(top)) - 1)) as usize;
    let words: Vec<&AtomicU64> = spaces
        .iter()
        .map(|s| &pt.mem().table_words(s.root()).unwrap()[index])
        .collect();
    store_loop(&words);
    populate_eager(&pt, eager_va);
    let synced = words
        .iter()
        .filter(|w| w.load(Ordering::Acquire) != 0)
        .count();
    populate_preallocated(&pt, pre_va);
    // Churn as part 4 of the bench measures it: every top-level kernel
    // slot past these filled (x86-64: as the bench's 384..512 are), then
    // the spaces destroyed and created again.
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.preallocate(VirtAddr((slot + 2) << shift), VirtAddr(u64::MAX))
            .unwrap()
    });
    drop(k);
    drop(words);
    destroy_spaces(&pt, spaces);
    let before = pt.stats().entries_copied;
    let spaces = create_spaces(&pt);
    let copied = (pt.stats().entries_copied - before) / SPACES as u64;
    destroy_spaces(&pt, spaces);
    println!(
        "{}: *map_4k/*unmap_4k: {PAGES} pages; *map_2m/*unmap_2m: {LEAVES} leaves; store_loop: {SPACES} roots; \
         populate_eager − populate_preallocated: eager sync into {synced} of {SPACES} roots; \
         create_spaces/destroy_spaces: {SPACES} spaces (about {copied} entries copied into each)",
        arch.name()
    );
    va
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or("x86-64".into());
    match mode.as_str() {
        "x86-64" => peers::<X64PagingMetaData>(&mode, run(X86_64::FOUR_LEVEL)),
        "arm64" => peers::<Arm64Shape>(&mode, run(Arm64::VA_48)),
        "sv39" => peers::<Sv39Shape>(&mode, run(Riscv64::SV39)),
        other => panic!("unknown mode {other}: x86-64, arm64 or sv39"),
    }
}
