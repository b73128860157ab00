use super::*;

/// A backend with only the required methods: the defaults serve the
/// rest.
struct Plain(SparseMemory);

impl TableMemory for Plain {
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
}

#[test]
fn the_default_block_methods_refuse_and_ignore_other_sizes() {
    let m = Plain(SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000)));
    let a = RawAccess::new;
    assert_eq!(m.alloc_table_block(a(), 4), Err(crate::Error::OutOfMemory));
    let t = m.alloc_table_block(a(), 1).unwrap();
    // A mismatched size used to trip a debug assertion.
    m.free_table_block(a(), t, 4);
    m.free_table_block(a(), t, 0);
    assert_eq!(m.tables_in_use(), 1);
    m.free_table_block(a(), t, 1);
    assert_eq!(m.tables_in_use(), 0);
    assert!(m.table_words(a(), t).is_none());
}

#[test]
fn the_default_32_bit_accessors_keep_the_other_half() {
    let m = Plain(SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000)));
    let a = RawAccess::new;
    let t = m.alloc_table(a()).unwrap();
    m.write_u64(a(), t, 0x1111_2222_3333_4444);
    m.write_u32(a(), PhysAddr(t.0 + 4), 0xaaaa_bbbb);
    assert_eq!(m.read_u32(t), 0x3333_4444);
    assert_eq!(m.read_u32(PhysAddr(t.0 + 4)), 0xaaaa_bbbb);
    m.write_u32(a(), t, 7);
    assert_eq!(m.read_u64(t), 0xaaaa_bbbb_0000_0007);
}
