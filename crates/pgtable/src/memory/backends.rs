//! The [`TableMemory`] implementations of the crate's own backends, which
//! keep their accessors as inherent methods (sound for any address, so
//! public there) and lend them to the library here.

use super::{FaultInjector, OffsetMemory, RawAccess, SparseMemory, TableMemory};
use crate::addr::PhysAddr;
use crate::error::Result;
use core::sync::atomic::AtomicU64;

/// Forward every method of [`TableMemory`] to the inherent method of the
/// same name.
macro_rules! inherent_backend {
    ($ty:ty, $holds:ident) => {
        impl TableMemory for $ty {
            #[inline]
            fn alloc_table(&self, _: RawAccess<'_>) -> Result<PhysAddr> {
                <$ty>::alloc_table(self)
            }
            #[inline]
            fn alloc_table_for_overwrite(&self, _: RawAccess<'_>) -> Result<PhysAddr> {
                <$ty>::alloc_table_for_overwrite(self)
            }
            #[inline]
            fn free_table(&self, _: RawAccess<'_>, table: PhysAddr) {
                <$ty>::free_table(self, table)
            }
            #[inline]
            fn alloc_table_block(&self, _: RawAccess<'_>, pages: u64) -> Result<PhysAddr> {
                <$ty>::alloc_table_block(self, pages)
            }
            #[inline]
            fn free_table_block(&self, _: RawAccess<'_>, block: PhysAddr, pages: u64) {
                <$ty>::free_table_block(self, block, pages)
            }
            #[inline]
            fn alloc_table_high(&self, _: RawAccess<'_>) -> Option<Result<PhysAddr>> {
                <$ty>::alloc_table_high(self)
            }
            #[inline]
            fn is_high(&self, table: PhysAddr) -> bool {
                <$ty>::is_high(self, table)
            }
            #[inline]
            fn read_u64(&self, pa: PhysAddr) -> u64 {
                <$ty>::read_u64(self, pa)
            }
            #[inline]
            fn write_u64(&self, _: RawAccess<'_>, pa: PhysAddr, value: u64) {
                <$ty>::write_u64(self, pa, value)
            }
            #[inline]
            fn read_u32(&self, pa: PhysAddr) -> u32 {
                <$ty>::read_u32(self, pa)
            }
            #[inline]
            fn write_u32(&self, _: RawAccess<'_>, pa: PhysAddr, value: u32) {
                <$ty>::write_u32(self, pa, value)
            }
            #[inline]
            fn tables_in_use(&self) -> usize {
                <$ty>::tables_in_use(self)
            }
            fn holds_table(&self, table: PhysAddr) -> bool {
                <$ty>::$holds(self, table)
            }
            #[inline]
            fn table_words(&self, _: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
                <$ty>::table_words(self, table)
            }
        }
    };
}

inherent_backend!(SparseMemory, is_table_allocated);
inherent_backend!(OffsetMemory, holds_table);

impl<M: TableMemory> TableMemory for FaultInjector<M> {
    fn alloc_table(&self, a: RawAccess<'_>) -> Result<PhysAddr> {
        self.attempt()?;
        self.inner().alloc_table(a)
    }
    fn alloc_table_for_overwrite(&self, a: RawAccess<'_>) -> Result<PhysAddr> {
        self.attempt()?;
        self.inner().alloc_table_for_overwrite(a)
    }
    fn free_table(&self, a: RawAccess<'_>, table: PhysAddr) {
        self.inner().free_table(a, table)
    }
    fn alloc_table_block(&self, a: RawAccess<'_>, pages: u64) -> Result<PhysAddr> {
        self.attempt()?;
        self.inner().alloc_table_block(a, pages)
    }
    fn free_table_block(&self, a: RawAccess<'_>, block: PhysAddr, pages: u64) {
        self.inner().free_table_block(a, block, pages)
    }
    fn alloc_table_high(&self, a: RawAccess<'_>) -> Option<Result<PhysAddr>> {
        let fail = self.attempt();
        let r = self.inner().alloc_table_high(a)?;
        Some(match (fail, r) {
            (Err(e), Ok(pa)) => {
                // The injected failure wins; the frame goes straight back.
                self.inner().free_table(RawAccess::new(), pa);
                Err(e)
            }
            (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(pa)) => Ok(pa),
        })
    }
    fn is_high(&self, table: PhysAddr) -> bool {
        self.inner().is_high(table)
    }
    #[inline]
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.inner().read_u64(pa)
    }
    #[inline]
    fn write_u64(&self, a: RawAccess<'_>, pa: PhysAddr, value: u64) {
        self.inner().write_u64(a, pa, value)
    }
    #[inline]
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        self.inner().read_u32(pa)
    }
    #[inline]
    fn write_u32(&self, a: RawAccess<'_>, pa: PhysAddr, value: u32) {
        self.inner().write_u32(a, pa, value)
    }
    fn tables_in_use(&self) -> usize {
        self.inner().tables_in_use()
    }
    fn holds_table(&self, table: PhysAddr) -> bool {
        self.inner().holds_table(table)
    }
    #[inline]
    fn table_words(&self, a: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        self.inner().table_words(a, table)
    }
}
