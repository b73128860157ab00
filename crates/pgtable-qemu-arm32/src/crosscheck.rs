//! The differential check: for every root after the set-up, the real MMU's
//! translation (ATS1C* + PAR, real accesses and fetches) of thousands of
//! addresses equals the software MMU's walk of the same table memory, and
//! the library's own `translate` agrees too.
//!
//! Set-up on the main machine (whose kernel root is in TTBR0 for init_mm):
//! - process `before`, created first;
//! - kernel mappings through `edit` in the vmalloc area: 4 KiB pages
//!   read-write and read-only, a 1 MiB section, shareable Device
//!   (`ioremap`), Normal non-cacheable (`ioremap_wc`) and write-through,
//!   an executable read-only page (a return page), a Device section
//!   (domain 2) and a read-only section;
//! - process `between`;
//! - an old-style (`legacy_edit`, never synced) mapping of pages and a
//!   section in empty first-level slots of the modules area;
//! - process `after`.
//!
//! Every process maps user pages read-write, read-only and executable (a
//! return page), a kernel-only page, a read-write and a read-only section
//! and a page at the top of the user half. The roots compared are
//! init_mm's and the three processes'.

use crate::compare::{self, Tally};
use crate::data;
use crate::frame::RAM_START;
use crate::machine::{Machine, PhysMem, Roots};
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::arm32::Arm32;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Access, AddressSpace, CacheMode, KernelEdit, OffsetMemory, PhysAddr, Prot, VirtAddr,
};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_mmu::arm32::Half;
use pgtable_mmu::{Access as MmuAccess, Mode};

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
/// Addresses the whole check must compare at least.
const MIN_ADDRESSES: u64 = 10_000;

type Edit<'a, 'b> = KernelEdit<'a, 'b, Arm32, OffsetMemory>;

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn region_start(m: &Machine, kind: RegionKind) -> u64 {
    m.pt.arch().layout().get(kind).map_or(0, |r| r.start)
}

fn err<E: core::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// The kernel test mappings (new path); `d` are tagged blocks, `ret` a
/// return page.
fn kernel_maps(e: &mut Edit<'_, '_>, v: u64, d: [u64; 4], ret: u64) -> pgtable::Result<()> {
    let (va, pa) = (VirtAddr, PhysAddr);
    e.vmap_range(va(v), pa(d[0]), 16 * PAGE, Prot::KERNEL, PageSize::Base)?;
    e.vmap_range(va(v + 2 * MIB), pa(d[1]), MIB, Prot::KERNEL, PageSize::Pmd)?;
    e.vmap_range(
        va(v + 4 * MIB),
        pa(d[0] + 0x10000),
        4 * PAGE,
        Prot::KERNEL_RO,
        PageSize::Base,
    )?;
    let io = v + 6 * MIB;
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
        va(v + 8 * MIB),
        pa(ret),
        PAGE,
        Prot::KERNEL_ROX,
        PageSize::Base,
    )?;
    // A Device section (domain 2, `mem_types[MT_DEVICE]`) and a read-only
    // section over RAM.
    e.vmap_range(
        va(v + 10 * MIB),
        pa(d[3]),
        MIB,
        Prot::KERNEL.with_cache(CacheMode::Uncached),
        PageSize::Pmd,
    )?;
    e.vmap_range(
        va(v + 12 * MIB),
        pa(RAM_START),
        MIB,
        Prot::KERNEL_RO,
        PageSize::Pmd,
    )
}

/// The user mappings of process `i`, over its own tagged block `own`, the
/// shared block `shared`, the return page and the PL0 fetch trampoline.
fn user_maps(
    m: &Machine,
    s: &mut AddressSpace,
    own: u64,
    shared: u64,
    [ret, tramp]: [u64; 2],
) -> Result<(), String> {
    let mut u = m.pt.user(s).map_err(err("user"))?;
    let (va, pa) = (VirtAddr, PhysAddr);
    let exec = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let kernel_only = Prot::new(Access::WRITE, CacheMode::WriteBack);
    let top = m.pt.arch().user_end() - PAGE;
    let maps = [
        (0x40_0000, own, 8 * PAGE, Prot::USER_RW, 12),
        (0x50_0000, own + 0x10000, 4 * PAGE, Prot::USER_RO, 12),
        (0x51_0000, ret, PAGE, exec, 12),
        (0x52_0000, own + 0x30000, 2 * PAGE, kernel_only, 12),
        (u64::from(compare::TRAMP_VA), tramp, PAGE, exec, 12),
        (0x80_0000, shared, MIB, Prot::USER_RW, 20),
        (0x1000_0000, RAM_START, MIB, Prot::USER_RO, 20),
        (top, own + 0x40000, PAGE, Prot::USER_RW, 12),
    ];
    for (v, p, size, prot, shift) in maps {
        u.map_range(va(v), pa(p), size, prot, crate::machine::leaf(shift))
            .map_err(|e| format!("user map {v:#x}: {e:?}"))?;
    }
    Ok(())
}

fn new_process(m: &Machine, shared: u64, code: [u64; 2]) -> Result<AddressSpace, String> {
    let mut s = m.pt.create_space().map_err(err("create_space"))?;
    let own = data::block_2m()?;
    user_maps(m, &mut s, own, shared, code)?;
    Ok(s)
}

/// Addresses worth comparing under `roots`: around and inside every leaf,
/// and random ones, in the kernel half and anywhere.
fn sample(m: &Machine, roots: &Roots, rng: &mut Rng) -> Vec<u32> {
    let mut leaves: Vec<(u64, u64)> = Vec::new();
    let _ = m
        .mmu
        .for_each_mapping(&PhysMem, roots.ttbr0, Half::Lower, 0, 0, |l| {
            leaves.push((l.va, l.xlat.size))
        });
    let mut v = Vec::new();
    for (base, size) in leaves {
        let inner = base + (rng.below(size) & !3);
        for a in [
            base,
            base + 4,
            base + size / 2,
            base + size - 4,
            base.wrapping_sub(4),
            base + size,
            inner,
        ] {
            if a < 1 << 32 {
                v.push(a as u32);
            }
        }
    }
    let kernel = m.pt.arch().kernel_start();
    let vm = region_start(m, RegionKind::Vmalloc);
    for _ in 0..400 {
        v.push(rng.below(1 << 32) as u32);
        v.push((kernel + rng.below((1 << 32) - kernel)) as u32);
        v.push((vm + rng.below(16 * MIB)) as u32);
    }
    v
}

/// Run the differential on `m` (consumed: its spaces stay alive to the end).
pub fn run(c: &mut Checks, m: Machine) {
    let (spaces, detail) = match setup(&m) {
        Ok(x) => x,
        Err(e) => {
            c.record("crosscheck-setup", Err(e));
            return;
        }
    };
    c.record("crosscheck-setup", Ok(detail));
    let names = ["init_mm", "before", "between", "after"];
    let mut total = Tally::default();
    let mut rng = Rng::new(0x6a09_e667_f3bc_c908);
    let mut lib = LibTally::default();
    for (i, name) in names.iter().enumerate() {
        let space = if i == 0 { None } else { Some(&spaces[i - 1]) };
        m.enter(space);
        let roots = m.roots(space);
        let mut t = Tally::default();
        for va in sample(&m, &roots, &mut rng) {
            compare::address(&m.mmu, &roots, va, &mut t);
            lib.compare(&m, &roots, name, va & !3);
        }
        let r: CheckResult = if t.differences == 0 {
            Ok(format!(
                "addresses={} translations={} probes={} fetches={} faults={} differences=0",
                t.addresses, t.translations, t.probes, t.fetches, t.faults
            ))
        } else {
            Err(format!(
                "addresses={} differences={}; first: {}",
                t.addresses,
                t.differences,
                t.first.clone().unwrap_or_default()
            ))
        };
        c.record(&format!("crosscheck/{name}"), r);
        total.merge(&t);
    }
    c.record("library-translate", lib.verdict());
    crate::machine::go_home();
    let r = if total.addresses >= MIN_ADDRESSES && total.differences == 0 {
        Ok(format!(
            "roots=4 compared={} translations={} probes={} fetches={} (PL0 {}, ran {}) faults={} differences=0 outcomes[{}] PAR-attributes compared={} unreported={}",
            total.addresses,
            total.translations,
            total.probes,
            total.fetches,
            total.fetches_pl0,
            total.fetches_ran,
            total.faults,
            total.outcomes(),
            total.attrs_compared,
            total.attrs_unreported
        ))
    } else {
        Err(format!(
            "roots=4 compared={} (min {MIN_ADDRESSES}) differences={}; first: {}",
            total.addresses,
            total.differences,
            total.first.unwrap_or_default()
        ))
    };
    c.record("crosscheck", r);
    // The machine lives as long as the kernel (its kernel root stays
    // loaded as home); its spaces are leaked with it.
    drop(spaces);
    core::mem::forget(m);
}

/// `PageTables::translate(root, va)` against the walker's PL1 read of the
/// same root: the same physical address, and the library's cache mode
/// equal to the walker's descriptor's memory type (TEX, C, B through table
/// B3-10, decoded here from the manual).
#[derive(Default)]
struct LibTally {
    compared: u64,
    differences: u64,
    first: Vec<String>,
}

/// The cache mode TEX/C/B (TEX remap off, table B3-10) means, in the
/// library's terms, for the encodings a Linux kernel writes.
fn cache_of(desc: u32, level: u8) -> Option<CacheMode> {
    let tex = if level == 1 {
        (desc >> 12) & 7
    } else {
        (desc >> 6) & 7
    };
    match (tex, (desc >> 3) & 1, (desc >> 2) & 1) {
        (0b001, 1, 1) => Some(CacheMode::WriteBack),
        (0b001, 0, 0) => Some(CacheMode::WriteCombining),
        (0b000, 1, 0) => Some(CacheMode::WriteThrough),
        (0b000, 0, 1) => Some(CacheMode::Uncached),
        _ => None,
    }
}

impl LibTally {
    fn compare(&mut self, m: &Machine, roots: &Roots, name: &'static str, va: u32) {
        self.compared += 1;
        let sw = compare::walk(&m.mmu, roots, va, MmuAccess::Read, Mode::Supervisor);
        let lib =
            m.pt.translate(PhysAddr(roots.ttbr0), VirtAddr(u64::from(va)));
        let same = match (&sw, &lib) {
            (Ok((pa, d, level)), Some(l)) => {
                l.translate(VirtAddr(u64::from(va))).0 == *pa
                    && cache_of(*d, *level) == Some(l.prot.cache)
            }
            (Err(_), None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.differences += 1;
        if self.first.len() < 2 {
            self.first.push(format!(
                "root {name} ({:#x}) va {va:#x}: library {:?}, walker {:?}",
                roots.ttbr0, lib, sw
            ));
        }
    }

    fn verdict(&self) -> CheckResult {
        if self.differences == 0 {
            Ok(format!(
                "compared={} differences=0 (address and cache mode)",
                self.compared
            ))
        } else {
            Err(format!(
                "compared={} differences={}; {}",
                self.compared,
                self.differences,
                self.first.join("; ")
            ))
        }
    }
}

fn setup(m: &Machine) -> Result<([AddressSpace; 3], String), String> {
    let shared = data::block_2m()?;
    let ret = data::ret_page()?;
    let code = [ret, data::tramp_page()?];
    let before = new_process(m, shared, code)?;
    let d = [
        data::block_2m()?,
        data::block_2m()?,
        data::block_2m()?,
        data::block_2m()?,
    ];
    let vm = region_start(m, RegionKind::Vmalloc);
    let (r, report) = m.pt.kernel().edit(|e| kernel_maps(e, vm, d, ret));
    r.map_err(err("kernel maps"))?;
    let between = new_process(m, shared, code)?;
    let modules = region_start(m, RegionKind::Modules);
    let slot = m.pt.arch().index(pgtable::Level::Pgd, modules);
    let root = m.pt.kernel_root().0;
    let was_empty = pgtable_mmu::PhysBus::read_u32(&PhysMem, root + 4 * slot) == 0;
    // SAFETY: the old code on purpose: `before` and `between` never get
    // these entries (no sync, no fault fixing here); the check below shows
    // both MMUs fault there for them, and `after` has them.
    unsafe {
        m.pt.kernel().legacy_edit(|e| {
            e.vmap_range(
                VirtAddr(modules),
                PhysAddr(d[3] + 0x8000),
                2 * PAGE,
                Prot::KERNEL,
                PageSize::Base,
            )?;
            e.vmap_range(
                VirtAddr(modules + MIB),
                PhysAddr(d[1] + MIB),
                MIB,
                Prot::KERNEL,
                PageSize::Pmd,
            )
        })
    }
    .map_err(err("legacy map"))?;
    let after = new_process(m, shared, code)?;
    Ok((
        [before, between, after],
        format!(
            "spaces=3 edit-sync={:?} legacy-slot={slot:#x} (empty before: {was_empty})",
            report.outcome
        ),
    ))
}
