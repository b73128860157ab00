//! A memory that lends fewer words than a page through
//! `TableMemory::table_words` (the trait is safe to implement, and nothing
//! but its doc says a page's words come whole): every walk reads such a
//! memory entry by entry instead of indexing past what it lent, so maps,
//! strict unmaps (holes refused), creates and destroys behave as on the
//! memory it wraps, without a panic.

use pgtable::arch::RegionKind;
use pgtable::{
    Error, KernelPolicy, OffsetMemory, PageSize, PageTables, PhysAddr, Prot, RawAccess, Result,
    TableMemory, VirtAddr, PAGE_SIZE, X86_64,
};
use std::sync::atomic::AtomicU64;

/// `OffsetMemory` lending only the first 100 words of each page.
struct ShortWords(OffsetMemory);

impl TableMemory for ShortWords {
    fn alloc_table(&self, _: RawAccess<'_>) -> Result<PhysAddr> {
        self.0.alloc_table()
    }
    fn free_table(&self, _: RawAccess<'_>, table: PhysAddr) {
        self.0.free_table(table)
    }
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.0.read_u64(pa)
    }
    fn write_u64(&self, _: RawAccess<'_>, pa: PhysAddr, value: u64) {
        self.0.write_u64(pa, value)
    }
    fn tables_in_use(&self) -> usize {
        self.0.tables_in_use()
    }
    fn table_words(&self, _: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        self.0.table_words(table).map(|w| &w[..100])
    }
}

const M2: u64 = 2 << 20;

#[test]
fn a_memory_lending_part_of_a_page_is_read_entry_by_entry() {
    let arch = X86_64::FOUR_LEVEL;
    let mem = OffsetMemory::new_host(PhysAddr(1 << 32), 4 << 20).expect("host memory");
    let pt = PageTables::new(arch, ShortWords(mem)).expect("kernel root");
    let va = arch
        .layout()
        .get(RegionKind::Vmalloc)
        .expect("vmalloc")
        .start;
    let va = va.next_multiple_of(1 << 30);
    let tables = pt.mem().tables_in_use();
    let spaces: Vec<_> = (0..4).map(|_| pt.create_space().expect("space")).collect();
    for (size, page) in [(PAGE_SIZE, PageSize::Base), (M2, PageSize::Pmd)] {
        let bytes = 512 * size;
        let mut k = pt.kernel();
        let (r, _) = k.edit(|e| e.vmap_range(VirtAddr(va), PhysAddr(0), bytes, Prot::KERNEL, page));
        r.expect("map 512 leaves");
        // A hole past the lent words (entry 300) is still refused.
        let hole = va + 300 * size;
        let (r, _) = k.edit(|e| e.vunmap_range(VirtAddr(hole), size).map(|f| f.ignore()));
        r.expect("unmap one leaf");
        let (r, _) = k.edit(|e| e.vunmap_range(VirtAddr(va), bytes).map(|f| f.ignore()));
        assert_eq!(r, Err(Error::NotMapped(VirtAddr(hole))), "{size:#x} leaves");
        assert!(
            k.translate(VirtAddr(va + 511 * size)).is_some(),
            "nothing changed"
        );
        let (r, _) = k.edit(|e| {
            e.vunmap_range(VirtAddr(va), 300 * size)?.ignore();
            e.vunmap_range(VirtAddr(hole + size), 211 * size)
                .map(|f| f.ignore())
        });
        r.expect("unmap around the hole");
        assert!(k.translate(VirtAddr(va + 511 * size)).is_none());
    }
    for space in spaces {
        pt.destroy_space(space).expect("own space").ignore();
    }
    assert_eq!(pt.first_out_of_sync(), None);
    // The kernel root's own slot keeps the table under it (never freed).
    assert!(
        pt.mem().tables_in_use() <= tables + 1,
        "{}",
        pt.mem().tables_in_use()
    );
}
