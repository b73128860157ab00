//! A loop to profile: `perf record target/release/examples/prof [map|pages|huge]`.
use pgtable::PageSize;
use pgtable::{OffsetMemory, PageTables, PhysAddr, Prot, VirtAddr, X86_64};

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let bytes = 1u64 << 30;
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), 8 << 20).unwrap();
    let pt = PageTables::new(X86_64::FOUR_LEVEL, mem).unwrap();
    let va = VirtAddr(0xffff_c900_0000_0000);
    let frames: Vec<PhysAddr> = (0..bytes / 4096)
        .map(|i| PhysAddr((1 << 38) + i * 4096))
        .collect();
    let rounds = if what == "huge" { 200_000 } else { 20 };
    for _ in 0..rounds {
        let mut k = pt.kernel();
        let _ = k.edit(|e| {
            if what == "pages" {
                e.vmap_pages(va, &frames, Prot::KERNEL).unwrap();
            } else {
                let shift = if what == "huge" {
                    PageSize::Pmd
                } else {
                    PageSize::Base
                };
                e.vmap_range(va, PhysAddr(1 << 38), bytes, Prot::KERNEL, shift)
                    .unwrap();
            }
            e.vunmap_range(va, bytes).unwrap().ignore();
        });
    }
}
