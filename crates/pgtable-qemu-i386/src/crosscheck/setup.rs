//! The crosscheck's set-up on the main machine: processes before, between
//! and after the kernel's changes (a synced `edit` in the vmalloc area, an
//! unsynced `legacy_edit` in the fixmap), each with its user mappings.

use super::{err, region, PAGE, USER_END};
use crate::bus::WalkBus;
use crate::data::{self, BLOCK};
use crate::frame;
use crate::machine::{self, Machine, LEAF_SHIFT, LEAF_SIZE};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{Access, AddressSpace, CacheMode, KernelEdit, PhysAddr, Prot, VirtAddr};

type Edit<'a, 'b> = KernelEdit<'a, 'b, X86_32, crate::memory::KernelMemory>;

/// The kernel test mappings (new path), from `v` (PMD-leaf aligned).
fn kernel_maps(e: &mut Edit<'_, '_>, v: u64, d: [u64; 4]) -> pgtable::Result<()> {
    let (va, pa) = (VirtAddr, PhysAddr);
    e.vmap_range(va(v), pa(d[0]), 16 * PAGE, Prot::KERNEL, PageSize::Base)?;
    e.vmap_range(
        va(v + LEAF_SIZE),
        pa(d[1]),
        LEAF_SIZE,
        Prot::KERNEL,
        machine::leaf(LEAF_SHIFT),
    )?;
    e.vmap_range(
        va(v + 2 * LEAF_SIZE),
        pa(d[0] + 0x10000),
        4 * PAGE,
        Prot::KERNEL_RO,
        PageSize::Base,
    )?;
    let io = v + 3 * LEAF_SIZE;
    for (i, cache) in [
        CacheMode::Uncached,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
    ]
    .into_iter()
    .enumerate()
    {
        let off = i as u64 * 8 * PAGE;
        e.vmap_range(
            va(io + off),
            pa(d[2] + off),
            4 * PAGE,
            Prot::KERNEL.with_cache(cache),
            PageSize::Base,
        )?;
    }
    e.vmap_range(
        va(v + 4 * LEAF_SIZE),
        pa(d[3]),
        2 * PAGE,
        Prot::KERNEL_ROX,
        PageSize::Base,
    )
}

/// The user mappings of a process, over its own tagged block `own` and the
/// shared block `shared`.
fn user_maps(m: &Machine, s: &mut AddressSpace, own: u64, shared: u64) -> Result<(), String> {
    let mut u = m.pt.user(s).map_err(err("user"))?;
    let (va, pa) = (VirtAddr, PhysAddr);
    let exec = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let kernel_only = Prot::new(Access::WRITE, CacheMode::WriteBack);
    let (user_rw, user_ro) = (Prot::USER_RW, Prot::USER_RO);
    let maps = [
        (0x40_0000, own, 8 * PAGE, user_rw, 12),
        (0x50_0000, own + 0x10000, 4 * PAGE, user_ro, 12),
        (0x51_0000, own + 0x20000, 2 * PAGE, exec, 12),
        (0x52_0000, own + 0x30000, 2 * PAGE, kernel_only, 12),
        (0x80_0000, shared, LEAF_SIZE, user_rw, LEAF_SHIFT),
        (USER_END - PAGE, own + 0x40000, PAGE, user_rw, 12),
    ];
    for (v, p, size, prot, shift) in maps {
        u.map_range(va(v), pa(p), size, prot, machine::leaf(shift))
            .map_err(|e| format!("user map {v:#x}: {e:?}"))?;
    }
    Ok(())
}

fn new_process(m: &Machine, shared: u64) -> Result<AddressSpace, String> {
    let mut s = m.pt.create_space().map_err(err("create_space"))?;
    let own = data::block()?;
    user_maps(m, &mut s, own, shared)?;
    Ok(s)
}

pub(super) type Setup = ([AddressSpace; 3], String, Vec<u64>);

pub(super) fn setup(m: &Machine) -> Result<Setup, String> {
    let shared = data::block()?;
    let before = new_process(m, shared)?;
    let d = [
        data::block()?,
        data::block()?,
        data::block()?,
        data::block()?,
    ];
    let (vm, _) = region(RegionKind::Vmalloc);
    let v = (vm + LEAF_SIZE - 1) & !(LEAF_SIZE - 1);
    let (r, report) = m.pt.kernel().edit(|e| kernel_maps(e, v, d));
    r.map_err(err("kernel maps"))?;
    let between = new_process(m, shared)?;
    let (fix, _) = region(RegionKind::Fixmap);
    let root = m.pt.kernel_root().0;
    let pmd_was_empty = machine::software_mmu()
        .translate(
            &WalkBus::new(root),
            root,
            fix,
            pgtable_mmu::Access::Read,
            pgtable_mmu::Mode::Supervisor,
        )
        .is_err_and(|f| f.level == 2 || f.level == 3);
    // SAFETY: the old code path on purpose: the new PMD entry is not
    // copied into `before` and `between`, which the comparison shows (both
    // MMUs fault there); no code runs from those roots but the probes.
    unsafe {
        m.pt.kernel().legacy_edit(|e| {
            e.vmap_range(
                VirtAddr(fix),
                PhysAddr(d[3] + 0x8000),
                2 * PAGE,
                Prot::KERNEL,
                PageSize::Base,
            )
        })
    }
    .map_err(err("legacy map"))?;
    machine::flush();
    let after = new_process(m, shared)?;
    Ok((
        [before, between, after],
        format!(
            "spaces=3 vmalloc-edit-sync={:?} legacy fixmap {fix:#x} (PMD entry empty before: {pmd_was_empty}) blocks of {} KiB, {} MiB low memory left",
            report.outcome,
            BLOCK >> 10,
            frame::free_bytes() >> 20
        ),
        alloc::vec![v, fix],
    ))
}
