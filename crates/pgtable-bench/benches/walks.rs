//! Criterion micro-benchmarks of the walks: `vmap_range` with 4 KiB and
//! 2 MiB leaves, `vunmap_range`, `translate` and the sync of a new
//! top-level slot into many roots.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pgtable::PageSize;
use pgtable::{OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, X86_64};
use std::hint::black_box;

const VA: u64 = 0xffff_c900_0000_0000;
const PA: u64 = 0x40_0000_0000;
const SIZE: u64 = 64 << 20;

fn tables(len: u64) -> PageTables<X86_64, OffsetMemory> {
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), len).unwrap();
    PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap()
}

fn map(pt: &PageTables<X86_64, OffsetMemory>, shift: PageSize) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vmap_range(VirtAddr(VA), PhysAddr(PA), SIZE, Prot::KERNEL, shift)
            .unwrap();
    });
}

fn unmap(pt: &PageTables<X86_64, OffsetMemory>) {
    let mut k = pt.kernel();
    let _ = k.edit(|e| {
        e.vunmap_range(VirtAddr(VA), SIZE).unwrap().ignore();
    });
}

fn walks(c: &mut Criterion) {
    let pt = tables(1 << 20);
    let mut g = c.benchmark_group("walks");
    g.throughput(Throughput::Elements(SIZE / 4096));
    g.bench_function("vmap_range 64 MiB 4K (+ vunmap)", |b| {
        b.iter(|| {
            map(&pt, PageSize::Base);
            unmap(&pt);
        })
    });
    g.bench_function("vunmap_range 64 MiB 4K", |b| {
        b.iter_batched(
            || map(&pt, PageSize::Base),
            |()| unmap(&pt),
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(SIZE >> 21));
    g.bench_function("vmap_range 64 MiB 2M (+ vunmap)", |b| {
        b.iter(|| {
            map(&pt, PageSize::Pmd);
            unmap(&pt);
        })
    });
    g.finish();

    map(&pt, PageSize::Base);
    let root = pt.kernel_root();
    let mut i = 0u64;
    c.bench_function("translate 4K", |b| {
        b.iter(|| {
            i = (i + 7919) % (SIZE / 4096);
            black_box(pt.translate(root, VirtAddr(VA + i * 4096)))
        })
    });
    unmap(&pt);

    // The sync of a new top-level slot into 10,000 roots.
    let pt = tables(12_000 * 4096);
    let spaces: Vec<_> = (0..10_000).map(|_| pt.create_space().unwrap()).collect();
    let mut slot = 256u64;
    c.bench_function("sync new top-level slot, 10000 spaces", |b| {
        b.iter(|| {
            slot = if slot == 511 { 256 } else { slot + 1 };
            // A populate of a slot that may already be there syncs only
            // when the top level changes; unmap keeps the top level, so
            // only the first 255 iterations sync. Force the sync instead.
            let va = VirtAddr(0xffff_0000_0000_0000 | (slot << 39));
            pt.kernel().sync_global_pgds(va, va).unwrap();
        })
    });
    for s in spaces {
        pt.destroy_space(s).expect("own space").ignore();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = walks
}
criterion_main!(benches);
