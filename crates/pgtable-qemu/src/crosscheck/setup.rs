//! The main machine: the kernel runs on its tables from here on. Its kernel
//! half has leaves of every size in several regions (some read-only), one
//! unsynced legacy mapping, and each process a few user pages of its own.

use crate::data::{self, BLOCK_2M};
use crate::space::Machine;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    AddressSpace, CacheMode, KernelEdit, OffsetMemory, PhysAddr, Prot, VirtAddr, X86_64,
};
use pgtable::{KernelPolicy, PagingGeometry};

/// Table frames of the main machine.
const TABLE_PAGES: u64 = 1024;
/// Where each process's own user pages start (above the identity map).
pub const USER_BASE: u64 = 16 << 30;
const TAGGED_FRAMES: usize = 32;

pub struct Main {
    pub m: Machine,
    /// Processes: `a` before the kernel mappings, `b` after them but before
    /// the legacy one, `c` after everything.
    pub spaces: Vec<AddressSpace>,
}

fn err(what: &str) -> impl Fn(pgtable::Error) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

pub fn setup() -> Result<Main, String> {
    let mut m = Machine::new(TABLE_PAGES)?;
    m.set_home();
    let a = m.process()?;
    let block = data::block_2m()?;
    data::tag_with_stubs(block, BLOCK_2M);
    let f = data::frames(TAGGED_FRAMES)?;
    for x in &f {
        data::tag_with_stubs(x.0, 4096);
    }
    let layout = m.pt.arch().layout();
    let at = |k: RegionKind| layout.get(k).map_or(0, |r| r.start);
    {
        let mut kernel = m.pt.kernel();
        kernel.edit(|e| kernel_maps(e, &m, &at, block, &f)).0?;
    }
    let b = m.process()?;
    {
        let mut kernel = m.pt.kernel();
        // SAFETY: the cross-check expects the faults this allows: `a`, `b`
        // and home never get this KASAN-shadow entry (no sync follows), and
        // they reach it only through probes, whose #PF is caught.
        unsafe {
            kernel.legacy_edit(|e| {
                e.vmap_pages(
                    VirtAddr(at(RegionKind::KasanShadow)),
                    &f[26..30],
                    Prot::KERNEL,
                )
            })
        }
        .map_err(err("legacy kasan"))?;
    }
    let c = m.process()?;
    let mut spaces = alloc::vec![a, b, c];
    let max = m.max_shift;
    let pt = &m.pt;
    for (i, s) in core::iter::once(&mut m.home)
        .chain(spaces.iter_mut())
        .enumerate()
    {
        let base = USER_BASE + i as u64 * (8 << 20);
        let mut u = pt.user(s).map_err(err("own space"))?;
        u.map_pages(VirtAddr(base), &f[i * 4..i * 4 + 4], Prot::USER_RW)
            .map_err(err("user rw"))?;
        u.map_pages(VirtAddr(base + 0x8000), &f[16..18], Prot::USER_RO)
            .map_err(err("user ro"))?;
        u.map_range(
            VirtAddr(base + (4 << 20)),
            PhysAddr(block),
            BLOCK_2M,
            Prot::USER_RO,
            crate::space::leaf(max.min(21)),
        )
        .map_err(err("user 2M"))?;
    }
    Ok(Main { m, spaces })
}

/// `Ok` if the main machine was built and CR3 holds its home root.
pub fn running_on(main: &Result<Main, String>) -> Result<String, String> {
    let main = main.as_ref().map_err(|e| format!("setup: {e}"))?;
    let m = &main.m;
    let cr3 = crate::cpu::read_cr3() & crate::cpu::CR3_ADDR_MASK;
    if cr3 != m.home.root().0 {
        return Err(format!(
            "CR3 {cr3:#x} is not the home root {:#x}",
            m.home.root().0
        ));
    }
    Ok(format!(
        "cr3={cr3:#x} mode={} spaces={} tables={} gbpages={}",
        m.pt.arch().name(),
        m.pt.space_count(),
        m.pt.mem().tables_in_use(),
        m.mmu.gbpages
    ))
}

fn kernel_maps(
    e: &mut KernelEdit<'_, '_, X86_64, OffsetMemory>,
    m: &Machine,
    at: &dyn Fn(RegionKind) -> u64,
    block: u64,
    f: &[PhysAddr],
) -> Result<(), String> {
    let k = Prot::KERNEL;
    let ro = Prot::KERNEL_RO;
    let vmalloc = at(RegionKind::Vmalloc);
    let vmemmap = at(RegionKind::Vmemmap);
    // The direct map of the first GiB (a 1 GiB leaf when the CPU has them).
    e.vmap_range(
        VirtAddr(at(RegionKind::DirectMap)),
        PhysAddr(0),
        1 << 30,
        k,
        crate::space::leaf(m.max_shift),
    )
    .map_err(err("direct map"))?;
    e.vmap(&f[0..8], k).map_err(err("vmap rw"))?;
    e.vmap(&f[8..16], ro).map_err(err("vmap ro"))?;
    e.ioremap(f[16], 4096, CacheMode::Uncached)
        .map_err(err("ioremap"))?;
    let big = vmalloc + (1 << 40);
    e.vmap_range(VirtAddr(big), PhysAddr(block), BLOCK_2M, k, PageSize::Pmd)
        .map_err(err("vmalloc 2M"))?;
    e.vmap_range(
        VirtAddr(big + (4 << 20)),
        PhysAddr(block),
        BLOCK_2M,
        ro,
        PageSize::Pmd,
    )
    .map_err(err("vmalloc 2M ro"))?;
    e.vmap_range(
        VirtAddr(vmemmap),
        PhysAddr(block),
        BLOCK_2M,
        k,
        PageSize::Pmd,
    )
    .map_err(err("vmemmap 2M"))?;
    e.vmap_pages(VirtAddr(vmemmap + BLOCK_2M), &f[17..25], k)
        .map_err(err("vmemmap 4K"))?;
    e.vmap_pages(
        VirtAddr(at(RegionKind::KernelText)),
        &f[0..4],
        Prot::KERNEL_ROX,
    )
    .map_err(err("kernel text"))?;
    // The last page of the fixmap, read-only.
    let fixmap_last =
        m.pt.arch()
            .layout()
            .get(RegionKind::Fixmap)
            .map_or(0, |r| r.last);
    e.vmap_pages(VirtAddr(fixmap_last & !0xfff), &f[25..26], ro)
        .map_err(err("fixmap"))?;
    Ok(())
}
