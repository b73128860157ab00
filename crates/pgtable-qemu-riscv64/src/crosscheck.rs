//! The differential check: for every root after the set-up, the real MMU
//! (loads and stores, SUM clear and set; S- and U-mode fetches of the
//! pages' fetch stubs) on thousands of addresses equals the software MMU's
//! walk of the same table memory; `crosscheck-fetch-negative` shows the
//! fetch comparison catching a flipped X or U bit.
//!
//! Set-up on the main machine (its kernel root is init_mm's satp root):
//! - process `before`;
//! - kernel mappings through `edit` in the vmalloc area (preallocated at
//!   boot): 4 KiB pages read-write, read-only and executable, a 2 MiB
//!   leaf, Svpbmt IO (`ioremap`), NC (`ioremap_wc`) and write-through
//!   (IO, as Linux), and a read-only 1 GiB leaf;
//! - process `between`;
//! - an old-style (`legacy_edit`, never synced) mapping in the fixmap's
//!   top-level slot, which is *not* preallocated: `before` and `between`
//!   never see it (both MMUs must fault there), `after` does;
//! - process `after`.
//!
//! Every process maps user pages read-write, read-only and executable, a
//! kernel-only page in the user half, a 2 MiB leaf, a read-only 1 GiB leaf
//! and a page at the top of the user half.

use crate::compare::{self, Tally};
use crate::data::{self, BLOCK_2M};
use crate::frame::{kva, RAM_SIZE, RAM_START};
use crate::machine::{self, Machine, PhysMem, VA_BITS};
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{
    Access, AddressSpace, CacheMode, KernelEdit, OffsetMemory, PhysAddr, Prot, VirtAddr,
};
use pgtable::{KernelPolicy, PagingGeometry};

const PAGE: u64 = 4096;
const GIB: u64 = 1 << 30;
/// Addresses the whole check must compare at least.
const MIN_ADDRESSES: u64 = 10_000;

type Edit<'a, 'b> = KernelEdit<'a, 'b, pgtable::arch::riscv64::Riscv64, OffsetMemory>;

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
    // A read-only 1 GiB leaf over RAM (OpenSBI's part, ours, and the hole
    // above 512 MiB: only our part is loaded from).
    let g = (v + GIB) & !(GIB - 1);
    e.vmap_range(va(g), pa(RAM_START), GIB, Prot::KERNEL_RO, PageSize::Pud)
}

/// The user mappings of a process, over its own tagged block `own` and the
/// shared block `shared`.
fn user_maps(m: &Machine, s: &mut AddressSpace, own: u64, shared: u64) -> Result<(), String> {
    let mut u = m.pt.user(s).map_err(err("user"))?;
    let (va, pa) = (VirtAddr, PhysAddr);
    let exec = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
    let kernel_only = Prot::new(Access::WRITE, CacheMode::WriteBack);
    let top = (1u64 << (VA_BITS - 1)) - BLOCK_2M;
    let maps = [
        (0x40_0000, own, 8 * PAGE, Prot::USER_RW, 12),
        (0x50_0000, own + 0x10000, 4 * PAGE, Prot::USER_RO, 12),
        (0x51_0000, own + 0x20000, 2 * PAGE, exec, 12),
        (0x52_0000, own + 0x30000, 2 * PAGE, kernel_only, 12),
        (0x80_0000, shared, BLOCK_2M, Prot::USER_RW, 21),
        (4 * GIB, RAM_START, GIB, Prot::USER_RO, 30),
        (top, own + 0x40000, PAGE, Prot::USER_RW, 12),
    ];
    for (v, p, size, prot, shift) in maps {
        u.map_range(va(v), pa(p), size, prot, crate::machine::leaf(shift))
            .map_err(|e| format!("user map {v:#x}: {e:?}"))?;
    }
    Ok(())
}

fn new_process(m: &Machine, shared: u64) -> Result<AddressSpace, String> {
    let mut s = m.pt.create_space().map_err(err("create_space"))?;
    let own = data::block_2m()?;
    user_maps(m, &mut s, own, shared)?;
    Ok(s)
}

/// Addresses worth comparing under `root`: around and inside every leaf
/// the walker finds, and random ones in both halves and outside them.
fn sample(root: u64, rng: &mut Rng, extra: &[u64]) -> Vec<u64> {
    let mut leaves: Vec<(u64, u64)> = Vec::new();
    let mmu = machine::software_mmu(false);
    let _ = mmu.for_each_mapping(&PhysMem, root, 0, 0, |l| leaves.push((l.va, l.xlat.size)));
    let mut v = Vec::new();
    for (base, size) in leaves {
        let inner = base + (rng.below(size) & !7);
        v.extend([
            base,
            base + 8,
            base + size / 2,
            base + size - 8,
            base.wrapping_sub(8),
            base.wrapping_add(size),
            inner,
        ]);
    }
    let half = 1u64 << (VA_BITS - 1);
    let kernel_start = !0u64 << (VA_BITS - 1);
    for &x in extra {
        v.extend([x, x + 8, x + PAGE, x + BLOCK_2M - 8]);
    }
    for _ in 0..500 {
        v.push(rng.below(8 * GIB));
        v.push(rng.below(half));
        v.push(kva(RAM_START) + rng.below(RAM_SIZE));
        v.push(kernel_start + rng.below(half));
    }
    for _ in 0..150 {
        // Not canonical: bit 62 set, bit 63 clear.
        v.push((rng.next() | (1 << 62)) & !(1 << 63));
    }
    v
}

/// Run the differential on `m` (consumed: its spaces stay alive to the end).
pub fn run(c: &mut Checks, m: Machine) {
    let (spaces, detail, extra) = match setup(&m) {
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
    for (i, name) in names.iter().enumerate() {
        let space = if i == 0 { None } else { Some(&spaces[i - 1]) };
        m.enter(space);
        let root = m.root(space);
        let mut t = Tally::default();
        for va in sample(root, &mut rng, &extra) {
            compare::address(root, va, &mut t);
        }
        let r: CheckResult = if t.differences == 0 {
            Ok(format!(
                "addresses={} walks={} probes={} faults={} tags={} fetches={} differences=0",
                t.addresses, t.walks, t.probes, t.faults, t.tags, t.fetches
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
    c.record("crosscheck-fetch-negative", negative(&m, &spaces[0]));
    machine::go_home();
    let o = total.outcomes;
    let r = if total.addresses >= MIN_ADDRESSES && total.differences == 0 {
        Ok(format!(
            "roots=4 compared={} walks={} probes={} faults={} tags={} fetches={} (returned S={} U={}) differences=0 outcomes[ok={} cause13={} cause15={} other={}]",
            total.addresses, total.walks, total.probes, total.faults, total.tags, total.fetches,
            total.fetched[0], total.fetched[1], o[0], o[1], o[2], o[3]
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

/// The table memory with one leaf entry's bits flipped: the software MMU
/// reading it sees a copy of the tables with one permission changed.
struct Flipped {
    entry_pa: u64,
    bits: u64,
}

impl pgtable_mmu::PhysBus for Flipped {
    fn read_u64(&self, pa: u64) -> u64 {
        let v = PhysMem.read_u64(pa);
        if pa == self.entry_pa {
            v ^ self.bits
        } else {
            v
        }
    }
    fn write_u64(&self, _: u64, _: u64) {}
}

/// The fetch comparison catches a changed execute or user permission: the
/// real fetch against the software MMU over a copy of the tables whose
/// leaf lost X (the user-executable page, U-mode) or gained U (the kernel
/// read-only-executable page, S-mode) must differ, once each; over the
/// tables as they are, not.
fn negative(m: &Machine, before: &AddressSpace) -> CheckResult {
    let cases = [
        (
            Some(before),
            0x51_0000,
            true,
            1u64 << 3,
            "X cleared, U-mode",
        ),
        (
            None,
            region_start(m, RegionKind::Vmalloc) + 4 * BLOCK_2M,
            false,
            1 << 4,
            "U set, S-mode",
        ),
    ];
    let mut out = String::new();
    for (space, va, user, bits, what) in cases {
        m.enter(space);
        let root = m.root(space);
        let target = va | data::FETCH_OFFSET;
        let mode = if user {
            pgtable_mmu::Mode::User
        } else {
            pgtable_mmu::Mode::Supervisor
        };
        let leaf = machine::software_mmu(false)
            .translate(&PhysMem, root, target, pgtable_mmu::Access::Execute, mode)
            .map_err(|f| format!("{va:#x} not executable: {f:?}"))?;
        let mut same = Tally::default();
        compare::fetch(&PhysMem, root, target, user, &mut same);
        let mut flipped = Tally::default();
        let bus = Flipped {
            entry_pa: leaf.entry_pa,
            bits,
        };
        compare::fetch(&bus, root, target, user, &mut flipped);
        if same.differences != 0 || flipped.differences != 1 {
            return Err(format!(
                "{what} at {va:#x}: differences {} as is, {} flipped (expected 0 and 1)",
                same.differences, flipped.differences
            ));
        }
        out += &format!(
            "{what} at {va:#x}: 0 as is, 1 flipped ({}); ",
            flipped.first.unwrap_or_default()
        );
    }
    Ok(out)
}

type Setup = ([AddressSpace; 3], String, Vec<u64>);

fn setup(m: &Machine) -> Result<Setup, String> {
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
    let fix = region_start(m, RegionKind::Fixmap);
    let slot = m.pt.arch().index(pgtable::Level::Pgd, fix);
    let root = m.pt.kernel_root().0;
    let was_empty = pgtable_mmu::PhysBus::read_u64(&PhysMem, root + 8 * slot) == 0;
    // SAFETY: the old code path on purpose: the new top-level entry is not
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
            "spaces=3 vmalloc-edit-sync={:?} legacy fixmap slot={slot} (empty before: {was_empty})",
            report.outcome
        ),
        alloc::vec![vm, fix],
    ))
}
