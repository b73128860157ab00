//! Each error is returned for an input that should produce it, and a
//! refused call changes nothing.

mod common;
use common::*;
use pgtable::PageSize;
use pgtable::{CacheMode, Error, PhysAddr, Prot, TableMemory, TlbFlush, VirtAddr, PAGE_SIZE};
use pgtable::{KernelPolicy, PagingGeometry};

#[test]
fn every_error_for_its_input() {
    for arch in MODES {
        let pt = machine(arch);
        let mut space = pt.create_space().unwrap();
        let k_va = vmalloc_start(arch);
        let hole = VirtAddr(arch.user_end()); // first non-canonical address
        let mut k = pt.kernel();
        k.edit(|e| e.vmap_range(k_va, PhysAddr(0), 2 << 20, Prot::KERNEL, PageSize::Pmd))
            .0
            .unwrap();
        let tables = pt.mem().tables_in_use();
        let sync_before = pt.stats();
        let pa = PhysAddr(0x1000);
        let (cases, _) = k.edit(|e| {
            let cases: Vec<(&str, Result<(), Error>, Error)> = vec![
                (
                    "misaligned va",
                    e.vmap_range(
                        VirtAddr(k_va.0 + 8),
                        pa,
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::Misaligned(k_va.0 + 8),
                ),
                (
                    "misaligned size",
                    e.vmap_range(k_va, pa, 100, Prot::KERNEL, PageSize::Base),
                    Error::Misaligned(100),
                ),
                (
                    "misaligned pa",
                    e.vmap_range(
                        k_va,
                        PhysAddr(0x1001),
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::Misaligned(0x1001),
                ),
                (
                    "zero size",
                    e.vmap_range(k_va, pa, 0, Prot::KERNEL, PageSize::Base),
                    Error::EmptyRange,
                ),
                (
                    "wraps",
                    e.vmap_range(
                        VirtAddr(u64::MAX - PAGE_SIZE + 1),
                        pa,
                        2 * PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::Wraps,
                ),
                (
                    "non-canonical",
                    e.vmap_range(hole, pa, PAGE_SIZE, Prot::KERNEL, PageSize::Base),
                    Error::NonCanonical(hole),
                ),
                (
                    "user va for kernel",
                    e.vmap_range(
                        VirtAddr(0x1000),
                        pa,
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::NotKernelAddress(VirtAddr(0x1000)),
                ),
                (
                    "user prot for kernel",
                    e.vmap_range(
                        VirtAddr(k_va.0 + (4 << 20)),
                        pa,
                        PAGE_SIZE,
                        Prot::USER_RW,
                        PageSize::Base,
                    ),
                    Error::BadProtection,
                ),
                (
                    "phys too large",
                    e.vmap_range(
                        VirtAddr(k_va.0 + (4 << 20)),
                        PhysAddr(1 << 52),
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::PhysTooLarge(PhysAddr(1 << 52)),
                ),
                (
                    "already mapped",
                    e.vmap_range(
                        VirtAddr(k_va.0 + PAGE_SIZE),
                        pa,
                        PAGE_SIZE,
                        Prot::KERNEL,
                        PageSize::Base,
                    ),
                    Error::AlreadyMapped(VirtAddr(k_va.0 + PAGE_SIZE)),
                ),
                (
                    "not mapped",
                    e.vunmap_range(VirtAddr(k_va.0 + (8 << 20)), PAGE_SIZE)
                        .map(TlbFlush::ignore),
                    Error::NotMapped(VirtAddr(k_va.0 + (8 << 20))),
                ),
                (
                    "splits leaf",
                    e.vunmap_range(VirtAddr(k_va.0 + PAGE_SIZE), PAGE_SIZE)
                        .map(TlbFlush::ignore),
                    Error::SplitsLeaf(k_va),
                ),
                (
                    "unknown vunmap",
                    e.vunmap(VirtAddr(k_va.0 + (64 << 20)))
                        .map(TlbFlush::ignore),
                    Error::NotMapped(VirtAddr(k_va.0 + (64 << 20))),
                ),
                (
                    "ioremap zero",
                    e.ioremap(pa, 0, CacheMode::Uncached).map(|_| ()),
                    Error::EmptyRange,
                ),
                (
                    "ioremap past limit",
                    e.ioremap(
                        PhysAddr((1 << 52) - PAGE_SIZE),
                        2 * PAGE_SIZE,
                        CacheMode::Uncached,
                    )
                    .map(|_| ()),
                    Error::PhysTooLarge(PhysAddr((1 << 52) - PAGE_SIZE)),
                ),
            ];
            cases
        });
        let mut user = pt.user(&mut space).unwrap();
        let more: Vec<(&str, Result<(), Error>, Error)> = vec![
            (
                "kernel va for user",
                user.map_range(k_va, pa, PAGE_SIZE, Prot::USER_RW, PageSize::Base),
                Error::NotUserAddress(k_va),
            ),
            (
                "user range into hole",
                user.map_range(
                    VirtAddr(arch.user_end() - PAGE_SIZE),
                    pa,
                    2 * PAGE_SIZE,
                    Prot::USER_RW,
                    PageSize::Base,
                ),
                Error::NonCanonical(VirtAddr(hole.0 + PAGE_SIZE - 1)),
            ),
            (
                "global user page",
                user.map_range(
                    VirtAddr(0x1000),
                    pa,
                    PAGE_SIZE,
                    Prot::KERNEL,
                    PageSize::Base,
                ),
                Error::BadProtection,
            ),
            (
                "user unmap of hole",
                user.unmap(VirtAddr(0x1000), PAGE_SIZE)
                    .map(TlbFlush::ignore),
                Error::NotMapped(VirtAddr(0x1000)),
            ),
        ];
        for (what, got, want) in cases.into_iter().chain(more) {
            assert_eq!(got, Err(want), "{}: {what}", arch.name());
        }
        drop(k);
        assert_eq!(
            pt.mem().tables_in_use(),
            tables,
            "refused calls allocate nothing"
        );
        assert_eq!(pt.stats(), sync_before, "refused calls sync nothing");
        assert_consistent(&pt);
        let mut k = pt.kernel();
        pt.mem().inner().set_table_limit(pt.mem().tables_in_use());
        assert_eq!(
            k.edit(|e| e.vmap_range(
                VirtAddr(k_va.0 + (1 << 39) * 2),
                pa,
                PAGE_SIZE,
                Prot::KERNEL,
                PageSize::Base
            ))
            .0,
            Err(Error::OutOfMemory)
        );
        drop(k);
        pt.mem().inner().set_table_limit(usize::MAX);
    }
}

#[test]
fn write_and_execute_kernel_mappings_need_an_explicit_exception() {
    for arch in MODES {
        let pt = machine(arch);
        let va = vmalloc_start(arch);
        let mut k = pt.kernel();
        let tables = pt.mem().tables_in_use();
        let _ = k.edit(|e| {
            assert_eq!(
                e.vmap_range(
                    va,
                    PhysAddr(0),
                    PAGE_SIZE,
                    Prot::KERNEL_EXEC,
                    PageSize::Base
                ),
                Err(Error::WriteAndExecute)
            );
            assert_eq!(pt.mem().tables_in_use(), tables, "refused before any table");
            e.vmap_range(va, PhysAddr(0), PAGE_SIZE, Prot::KERNEL_ROX, PageSize::Base)
                .unwrap();
            e.allow_write_exec()
                .vmap_range(
                    VirtAddr(va.0 + PAGE_SIZE),
                    PhysAddr(0),
                    PAGE_SIZE,
                    Prot::KERNEL_EXEC,
                    PageSize::Base,
                )
                .unwrap();
        });
        let m = k.translate(VirtAddr(va.0 + PAGE_SIZE)).unwrap();
        assert!(m
            .prot
            .access
            .contains(pgtable::Access::WRITE | pgtable::Access::EXEC));
        // The exception lasts for that edit only.
        assert_eq!(
            k.edit(|e| e.vmap_range(
                VirtAddr(va.0 + 2 * PAGE_SIZE),
                PhysAddr(0),
                PAGE_SIZE,
                Prot::KERNEL_EXEC,
                PageSize::Base
            ))
            .0,
            Err(Error::WriteAndExecute)
        );
    }
}
