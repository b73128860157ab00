//! The differential check: for every root after the set-up, the real MMU's
//! translation (AT + PAR_EL1, and real accesses) of thousands of addresses
//! equals the software MMU's walk of the same table memory, and the
//! library's own `translate` agrees too; EL1 instruction fetches of the
//! pages' fetch stubs (`fetch.rs`) agree with the walker's PXN verdict,
//! `crosscheck-fetch-negative` shows a flipped PXN caught, and
//! `crosscheck-fetch-el0-writable` an EL0-writable page without PXN still
//! not executable at EL1.
//!
//! Set-up on the main machine (whose kernel root is in TTBR1):
//! - process `before`, created first;
//! - kernel mappings through `edit` in the vmalloc area: 4 KiB pages
//!   read-write, read-only and executable, a 2 MiB block, Device-nGnRE
//!   (`ioremap`), Normal-NC (`ioremap_wc`) and write-through (which Linux
//!   maps as Device), and a read-only 1 GiB block;
//! - process `between`;
//! - an old-style (`legacy_edit`, never synced) mapping in an empty
//!   top-level slot (the KASAN shadow);
//! - process `after`.
//!
//! Every process maps user pages read-write, read-only and executable, a
//! kernel-only page, a 2 MiB block, a read-only 1 GiB block and a page at
//! the top of the user half. The roots compared are init_mm's (TTBR0 = an
//! empty table) and the three processes'. The 52-bit image adds kernel and
//! user mappings of physical addresses above 48 bits (`high_pa.rs`).

use crate::compare::{self, Tally};
use crate::cpu::VA_BITS;
use crate::data::{self, BLOCK_2M};
use crate::fetch;
use crate::frame::{kva, RAM_START};
use crate::machine::{Edit, Machine, PhysMem};
use crate::report::{CheckResult, Checks};
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{Access, AddressSpace, CacheMode, PhysAddr, Prot, VirtAddr};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_mmu::Mmu;

const PAGE: u64 = 4096;
const GIB: u64 = 1 << 30;
/// Addresses the whole check must compare at least.
const MIN_ADDRESSES: u64 = 10_000;

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

fn region_start(m: &Machine, kind: RegionKind) -> u64 {
    m.pt.arch().layout().get(kind).map_or(0, |r| r.start)
}

fn err<E: core::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// The kernel test mappings (new path).
fn kernel_maps(e: &mut Edit<'_, '_>, v: u64, d: [u64; 4]) -> pgtable::Result<()> {
    let (va, pa) = (VirtAddr, PhysAddr);
    e.vmap_range(va(v), pa(d[0]), 16 * PAGE, Prot::KERNEL, PageSize::Base)?;
    e.vmap_range(
        va(v + BLOCK_2M),
        pa(d[1]),
        BLOCK_2M,
        Prot::KERNEL,
        PageSize::Pmd,
    )?;
    e.vmap_range(
        va(v + 2 * BLOCK_2M),
        pa(d[0] + 0x10000),
        4 * PAGE,
        Prot::KERNEL_RO,
        PageSize::Base,
    )?;
    let io = v + 3 * BLOCK_2M;
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
        va(v + 4 * BLOCK_2M),
        pa(d[3]),
        2 * PAGE,
        Prot::KERNEL_ROX,
        PageSize::Base,
    )?;
    // A read-only 1 GiB block over RAM (and the hole above it).
    let g = (v + GIB) & !(GIB - 1);
    e.vmap_range(va(g), pa(RAM_START), GIB, Prot::KERNEL_RO, PageSize::Pud)?;
    if crate::cpu::LPA2 {
        crate::high_pa::kernel_maps(e, v)?;
    }
    Ok(())
}

/// The user mappings of process `i`, over its own tagged block `own` and
/// the shared block `shared`.
fn user_maps(m: &Machine, s: &mut AddressSpace, own: u64, shared: u64) -> Result<(), String> {
    let mut u = m.pt.user(s).map_err(err("user"))?;
    let (va, pa) = (VirtAddr, PhysAddr);
    let exec = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let kernel_only = Prot::new(Access::WRITE, CacheMode::WriteBack);
    let top = (1u64 << VA_BITS) - BLOCK_2M;
    let maps = [
        (0x40_0000, own, 8 * PAGE, Prot::USER_RW, 12),
        (0x50_0000, own + 0x10000, 4 * PAGE, Prot::USER_RO, 12),
        (0x51_0000, own + 0x20000, 2 * PAGE, exec, 12),
        (0x52_0000, own + 0x30000, 2 * PAGE, kernel_only, 12),
        (0x80_0000, shared, BLOCK_2M, Prot::USER_RW, 21),
        (256 * GIB, RAM_START, GIB, Prot::USER_RO, 30),
        (top, own + 0x40000, PAGE, Prot::USER_RW, 12),
    ];
    for (v, p, size, prot, shift) in maps {
        u.map_range(va(v), pa(p), size, prot, crate::machine::leaf(shift))
            .map_err(|e| format!("user map {v:#x}: {e:?}"))?;
    }
    if crate::cpu::LPA2 {
        crate::high_pa::user_maps(&mut u).map_err(err("user map above 48 bits"))?;
    }
    Ok(())
}

fn new_process(m: &Machine, shared: u64) -> Result<AddressSpace, String> {
    let mut s = m.pt.create_space().map_err(err("create_space"))?;
    let own = data::block_2m()?;
    user_maps(m, &mut s, own, shared)?;
    Ok(s)
}

/// Addresses worth comparing under `roots`: around and inside every leaf,
/// and random ones in both halves and outside them.
fn sample(m: &Machine, roots: &pgtable_mmu::Roots, rng: &mut Rng, vm: u64) -> Vec<u64> {
    let mut leaves: Vec<(u64, u64)> = Vec::new();
    let _ = m.mmu.for_each_leaf(&PhysMem, roots, 0, 0, &mut |l| {
        leaves.push((l.va, l.xlat.size))
    });
    let mut v = Vec::new();
    for (base, size) in leaves {
        let inner = base + (rng.below(size) & !7);
        for a in [
            base,
            base + 8,
            base + size / 2,
            base + size - 8,
            base.wrapping_sub(8),
            base.wrapping_add(size),
            inner,
        ] {
            v.push(a);
        }
    }
    let user_top = 1u64 << VA_BITS;
    let kernel_start = !0u64 << VA_BITS;
    // The user addresses with the same table indices as the kernel's
    // leaves (the two halves index their roots with the same bits).
    let aliases: Vec<u64> = v
        .iter()
        .filter(|&&a| a >= kernel_start)
        .step_by(7)
        .map(|&a| a & (user_top - 1))
        .collect();
    v.extend(aliases);
    for _ in 0..400 {
        v.push(rng.below(8 * GIB));
        v.push(rng.below(user_top));
        v.push(kva(0) + rng.below(4 * GIB));
        v.push(vm + rng.below(4 * GIB));
        v.push(kernel_start + rng.below(user_top));
    }
    for _ in 0..100 {
        // Outside both ranges: bits above VA_BITS neither all 0 nor all 1.
        let x = rng.next();
        let hole = (x | (1 << 62)) & !(1 << 63) & !(1u64 << VA_BITS);
        v.push(hole);
    }
    v
}

/// Run the differential on `m` (consumed: its spaces stay alive to the end).
pub fn run(c: &mut Checks, m: Machine) {
    let r = setup(&m);
    let (spaces, detail) = match r {
        Ok(x) => x,
        Err(e) => {
            c.record("crosscheck-setup", Err(e));
            return;
        }
    };
    c.record("crosscheck-setup", Ok(detail));
    let vm = region_start(&m, RegionKind::Vmalloc);
    let names = ["init_mm", "before", "between", "after"];
    let mut total = Tally::default();
    let mut rng = Rng::new(0x6a09_e667_f3bc_c908);
    // The library's `translate` against the walker, per root.
    let mut lib = LibTally::default();
    for (i, name) in names.iter().enumerate() {
        let space = if i == 0 { None } else { Some(&spaces[i - 1]) };
        m.enter(space);
        let roots = m.roots(space);
        let mut t = Tally::default();
        let lib_root = space.map_or(m.pt.kernel_root(), |s| s.root());
        let mut targets = BTreeSet::new();
        for va in sample(&m, &roots, &mut rng, vm) {
            compare::address(&m.mmu, &roots, va, &mut t);
            lib.compare(&m, &roots, lib_root, name, va & !7);
            targets.extend(fetch::target(&m.mmu, &roots, va));
        }
        for target in targets {
            fetch::compare(&m.mmu, &PhysMem, &roots, target, &mut t);
        }
        let name = format!("crosscheck/{name}");
        let r: CheckResult = if t.differences == 0 {
            Ok(format!(
                "addresses={} translations={} probes={} faults={} fetches={} (returned {}) differences=0",
                t.addresses, t.translations, t.probes, t.faults, t.fetches, t.fetched
            ))
        } else {
            Err(format!(
                "addresses={} differences={}; first: {}",
                t.addresses,
                t.differences,
                t.first.clone().unwrap_or_default()
            ))
        };
        c.record(&name, r);
        total.merge(&t);
    }
    c.record("library-translate", lib.verdict());
    m.enter(None);
    let (rox, rw) = (vm + 4 * BLOCK_2M, vm);
    c.record(
        "crosscheck-fetch-negative",
        fetch::negative(&m.mmu, &m.roots(None), rox, rw),
    );
    m.enter(Some(&spaces[0]));
    c.record(
        "crosscheck-fetch-el0-writable",
        fetch::el0_writable(&m.mmu, &m.roots(Some(&spaces[0])), 0x40_0000),
    );
    if crate::cpu::LPA2 {
        c.record("high-pa", crate::high_pa::verify(&m, &spaces, vm));
    }
    crate::machine::go_home();
    let r = if total.addresses >= MIN_ADDRESSES && total.differences == 0 {
        Ok(format!(
            "roots=4 compared={} translations={} probes={} faults={} fetches={} (returned {}) differences=0 outcomes[{}]",
            total.addresses,
            total.translations,
            total.probes,
            total.faults,
            total.fetches,
            total.fetched,
            total.outcomes()
        ))
    } else {
        Err(format!(
            "roots=4 compared={} (min {MIN_ADDRESSES}) differences={}",
            total.addresses, total.differences
        ))
    };
    c.record("crosscheck", r);
    // The machine lives as long as the kernel (its kernel root stays
    // loaded as home); its spaces are leaked with it (AddressSpace has no
    // Drop).
    drop(spaces);
    core::mem::forget(m);
}

/// `PageTables::translate(root, va)` against the walker's EL1 read with
/// that root's TTBR0 (init_mm: the empty reserved table) and the kernel
/// root in TTBR1.
#[derive(Default)]
struct LibTally {
    compared: u64,
    differences: u64,
    /// Differences per root name.
    per_root: Vec<(&'static str, u64)>,
    first: Vec<String>,
}

impl LibTally {
    fn compare(
        &mut self,
        m: &Machine,
        roots: &pgtable_mmu::Roots,
        lib_root: PhysAddr,
        name: &'static str,
        va: u64,
    ) {
        self.compared += 1;
        let sw = compare::software(&m.mmu, roots, crate::cpu::AtOp::E1R, va);
        let lib = m.pt.translate(lib_root, VirtAddr(va));
        let same = match (&sw, &lib) {
            (Ok((pa, _)), Some(l)) => l.translate(VirtAddr(va)).0 == *pa,
            (Err(_), None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.differences += 1;
        match self.per_root.iter_mut().find(|(n, _)| *n == name) {
            Some((_, k)) => *k += 1,
            None => self.per_root.push((name, 1)),
        }
        if self.first.len() < 2 {
            let hw = compare::hardware(crate::cpu::AtOp::E1R, va);
            // What the MMU would say with the kernel root in TTBR0 too,
            // which Linux never loads there.
            crate::machine::switch_user(m.pt.kernel_root().0);
            let as_if = compare::hardware(crate::cpu::AtOp::E1R, va);
            crate::machine::switch_user(roots.user);
            self.first.push(format!(
                "root {name} ({:#x}) va {va:#x}: library {}, walker {}, AT S1E1R {} (TTBR0={:#x} TTBR1={:#x}); AT with TTBR0=kernel root: {}",
                lib_root.0,
                match lib {
                    Some(l) => format!(
                        "Some(pa {:#x}, {:?} leaf at {:#x})",
                        l.translate(VirtAddr(va)).0,
                        l.level,
                        l.va.0
                    ),
                    None => "None".into(),
                },
                show(&sw),
                show(&hw),
                roots.user,
                roots.kernel.unwrap_or(0),
                show(&as_if)
            ));
        }
    }

    fn verdict(&self) -> CheckResult {
        if self.differences == 0 {
            Ok(format!("compared={} differences=0", self.compared))
        } else {
            Err(format!(
                "compared={} differences={} per-root={:?}; {}",
                self.compared,
                self.differences,
                self.per_root,
                self.first.join("; ")
            ))
        }
    }
}

fn show(o: &compare::Outcome) -> String {
    match o {
        Ok((pa, attr)) => format!("pa {pa:#x} attr {attr:#04x}"),
        Err(fst) => format!("fault FST {fst:#04x}"),
    }
}

fn setup(m: &Machine) -> Result<([AddressSpace; 3], String), String> {
    let shared = data::block_2m()?;
    let before = new_process(m, shared)?;
    let d = [
        data::block_2m()?,
        data::block_2m()?,
        data::block_2m()?,
        data::block_2m()?,
    ];
    let vm = region_start(m, RegionKind::Vmalloc);
    let (r, report) = m.pt.kernel().edit(|e| kernel_maps(e, vm, d));
    r.map_err(err("kernel maps"))?;
    let between = new_process(m, shared)?;
    let kasan = region_start(m, RegionKind::KasanShadow);
    let slot = m.pt.arch().index(pgtable::Level::Pgd, kasan);
    let root = m.pt.kernel_root().0;
    let was_empty = pgtable_mmu::PhysBus::read_u64(&PhysMem, root + 8 * slot) == 0;
    // SAFETY: on arm64 no sync exists or is needed (every space shares the
    // kernel root through TTBR1); the check below shows every root reaches
    // this mapping anyway.
    unsafe {
        m.pt.kernel().legacy_edit(|e| {
            e.vmap_range(
                VirtAddr(kasan),
                PhysAddr(d[3] + 0x8000),
                2 * PAGE,
                Prot::KERNEL,
                PageSize::Base,
            )?;
            e.vmap_range(
                VirtAddr(kasan + BLOCK_2M),
                PhysAddr(d[1]),
                BLOCK_2M,
                Prot::KERNEL,
                PageSize::Pmd,
            )
        })
    }
    .map_err(err("legacy map"))?;
    let after = new_process(m, shared)?;
    Ok((
        [before, between, after],
        format!(
            "spaces=3 edit-sync={:?} legacy-slot={slot} (empty before: {was_empty})",
            report.outcome
        ),
    ))
}
