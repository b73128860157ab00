//! The strict unmap's check pass (`vunmap_range`) over runs of leaves: it
//! tests sixteen entries at a time against the first, so a hole or a
//! non-leaf anywhere in a run, at a block's edge or inside one, must
//! still refuse the call at its address and change nothing; and a run of
//! leaves of mixed protections, which the block test cannot take whole,
//! must still be unmapped whole.

use pgtable::arch::RegionKind;
use pgtable::{
    Arch, Arm64, CacheMode, Error, OffsetMemory, PageSize, PageTables, PhysAddr, Prot, Riscv64,
    VirtAddr, X86_32, X86_64,
};

const M2: u64 = 2 << 20;

/// Where each check puts its hole: the first entries, both edges of the
/// first blocks, the middle and the last entries of the run.
const HOLES: [u64; 12] = [0, 1, 7, 8, 9, 15, 16, 100, 255, 256, 510, 511];

fn machine<A: Arch>(arch: A) -> PageTables<A, OffsetMemory> {
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), 4 << 20).expect("host memory");
    PageTables::new(arch, mem).expect("kernel root")
}

/// The start of the vmalloc area, aligned to `align`.
fn base<A: Arch>(arch: &A, align: u64) -> u64 {
    let vmalloc = arch.layout().get(RegionKind::Vmalloc).expect("vmalloc");
    vmalloc.start.next_multiple_of(align)
}

/// 512 leaves of `size` from `va`, protection `prot(i)` for the `i`th.
fn map<A: Arch>(pt: &PageTables<A, OffsetMemory>, va: u64, size: u64, prot: impl Fn(u64) -> Prot) {
    let page = if size == M2 {
        PageSize::Pmd
    } else {
        PageSize::Base
    };
    let mut k = pt.kernel();
    for i in 0..512 {
        let (r, _) = k.edit(|e| {
            e.vmap_range(
                VirtAddr(va + i * size),
                PhysAddr(i * size),
                size,
                prot(i),
                page,
            )
        });
        r.unwrap_or_else(|e| panic!("{}: map leaf {i} of {size:#x}: {e:?}", pt.arch().name()));
    }
}

fn unmap<A: Arch>(pt: &PageTables<A, OffsetMemory>, va: u64, size: u64) -> Result<(), Error> {
    let (r, _) = pt
        .kernel()
        .edit(|e| e.vunmap_range(VirtAddr(va), size).map(|f| f.ignore()));
    r
}

fn mapped<A: Arch>(pt: &PageTables<A, OffsetMemory>, va: u64, size: u64) -> usize {
    let k = pt.kernel();
    (0..512)
        .filter(|i| k.translate(VirtAddr(va + i * size)).is_some())
        .count()
}

fn check<A: Arch>(arch: A, size: u64) {
    let name = arch.name();
    let pt = machine(arch);
    let va = base(&arch, 512 * size);
    map(&pt, va, size, |_| Prot::KERNEL);
    for hole in HOLES {
        let at = va + hole * size;
        unmap(&pt, at, size).expect("unmap one leaf");
        assert_eq!(
            unmap(&pt, va, 512 * size),
            Err(Error::NotMapped(VirtAddr(at))),
            "{name}, {size:#x} leaves: the hole at entry {hole}"
        );
        assert_eq!(
            mapped(&pt, va, size),
            511,
            "{name}: a refused unmap changed nothing"
        );
        let (r, _) = pt.kernel().edit(|e| {
            let page = if size == M2 {
                PageSize::Pmd
            } else {
                PageSize::Base
            };
            e.vmap_range(
                VirtAddr(at),
                PhysAddr(hole * size),
                size,
                Prot::KERNEL,
                page,
            )
        });
        r.expect("map the hole again");
    }
    unmap(&pt, va, 512 * size).expect("whole run");
    assert_eq!(mapped(&pt, va, size), 0, "{name}");
    // Leaves of four protections, one changing at every entry. On riscv,
    // whose `leaf_bits` hold the permission and memory-type bits, no block
    // is sixteen copies of its first, so each block is tested entry by
    // entry; elsewhere every leaf of a level agrees in its `leaf_bits`.
    let prots = [
        Prot::KERNEL,
        Prot::KERNEL_RO,
        Prot::KERNEL_ROX,
        Prot::KERNEL.with_cache(CacheMode::Uncached),
    ];
    map(&pt, va, size, |i| prots[(i % 4) as usize]);
    unmap(&pt, va, 512 * size).expect("mixed protections");
    assert_eq!(
        mapped(&pt, va, size),
        0,
        "{name}: mixed protections unmapped"
    );
}

#[test]
fn a_hole_anywhere_in_a_run_refuses_the_unmap() {
    for size in [pgtable::PAGE_SIZE, M2] {
        check(X86_64::FOUR_LEVEL, size);
        check(X86_64::FIVE_LEVEL, size);
        check(Arm64::VA_48, size);
        check(Riscv64::SV39, size);
        check(Riscv64::SV48, size);
    }
    // PAE's 8-byte entries take the same path; its vmalloc area holds no
    // gibibyte of 2 MiB leaves.
    check(X86_32::PAE, pgtable::PAGE_SIZE);
}

/// The clear pass's scan of the top-level entries where the range ends at
/// the top of the address space (its end wraps to 0): the last slot's
/// pages are cleared and its tables freed, as anywhere else.
fn top_of_address_space<A: Arch>(arch: A) {
    let name = arch.name();
    let pt = machine(arch);
    let tables = pt.mem().tables_in_use();
    let va = 0u64.wrapping_sub(2 * pgtable::PAGE_SIZE);
    let (r, _) = pt.kernel().edit(|e| {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(0x1000),
            2 * pgtable::PAGE_SIZE,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.expect("map the last two pages");
    assert!(pt.kernel().translate(VirtAddr(va)).is_some(), "{name}");
    unmap(&pt, va, 2 * pgtable::PAGE_SIZE).expect("unmap to the top");
    let k = pt.kernel();
    assert!(k.translate(VirtAddr(va)).is_none(), "{name}");
    assert!(k.translate(VirtAddr(u64::MAX)).is_none(), "{name}");
    drop(k);
    // What the unmap emptied is freed, but for the table a root entry
    // points at (never freed: that would need a sync into every root).
    assert!(
        pt.mem().tables_in_use() <= tables + 1,
        "{name}: {} tables",
        pt.mem().tables_in_use()
    );
}

#[test]
fn an_unmap_reaching_the_top_of_the_address_space() {
    top_of_address_space(X86_64::FOUR_LEVEL);
    top_of_address_space(X86_64::FIVE_LEVEL);
    top_of_address_space(Arm64::VA_48);
    top_of_address_space(Riscv64::SV39);
    top_of_address_space(Riscv64::SV48);
}

/// The map's fill into a table that exists checks sixteen entries at a
/// time for none: a leaf already there anywhere in the run, at a block's
/// edge or inside one, refuses the map at its address, and what the map
/// wrote before it is taken back.
fn map_over_one_leaf<A: Arch>(arch: A, size: u64) {
    let name = arch.name();
    let pt = machine(arch);
    let va = base(&arch, 512 * size);
    let page = if size == M2 {
        PageSize::Pmd
    } else {
        PageSize::Base
    };
    for there in HOLES {
        let at = va + there * size;
        let mut k = pt.kernel();
        let (r, _) = k.edit(|e| e.vmap_range(VirtAddr(at), PhysAddr(0), size, Prot::KERNEL, page));
        r.expect("the leaf already there");
        let (r, _) =
            k.edit(|e| e.vmap_range(VirtAddr(va), PhysAddr(0), 512 * size, Prot::KERNEL, page));
        assert_eq!(
            r,
            Err(Error::AlreadyMapped(VirtAddr(at))),
            "{name}, {size:#x} leaves: the leaf at entry {there}"
        );
        drop(k);
        assert_eq!(
            mapped(&pt, va, size),
            1,
            "{name}: only the leaf already there"
        );
        unmap(&pt, at, size).expect("unmap it");
    }
}

#[test]
fn a_leaf_anywhere_in_the_way_refuses_the_map() {
    for size in [pgtable::PAGE_SIZE, M2] {
        map_over_one_leaf(X86_64::FOUR_LEVEL, size);
        map_over_one_leaf(Arm64::VA_48, size);
        map_over_one_leaf(Riscv64::SV39, size);
        map_over_one_leaf(Riscv64::SV48, size);
    }
    map_over_one_leaf(X86_32::PAE, pgtable::PAGE_SIZE);
}
