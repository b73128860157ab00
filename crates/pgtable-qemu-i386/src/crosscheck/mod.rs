//! The differential check: for every root after the set-up, the real MMU
//! (CPL-0 loads and stores, with CR4.SMAP and EFLAGS.AC clear and set;
//! CPL-0 fetches of the pages' fetch stubs, CR4.SMEP clear and set) on
//! thousands of addresses equals the software MMU's walk of the same table
//! memory; `crosscheck-negative` shows the XD, SMEP and SMAP comparisons
//! catching a flipped bit.
//!
//! Set-up on the main machine (its kernel root is init_mm's CR3 root):
//! - process `before`;
//! - kernel mappings through `edit` in the vmalloc area (without PAE
//!   every page is executable: the format has no NX bit): 4 KiB pages
//!   read-write and read-only, a PMD leaf (4 MiB, or 2 MiB under PAE),
//!   uncached, write-combining and write-through pages, read-only
//!   executable pages;
//! - process `between`;
//! - an old-style (`legacy_edit`, never synced) mapping in the fixmap,
//!   whose PMD entry is new: under 2-level and PAE with per-process kernel
//!   PMDs `before` and `between` never see it (both MMUs must fault there)
//!   and `after` does; under PAE with the shared kernel PMD everybody sees
//!   it;
//! - process `after`.
//!
//! Every process maps user pages read-write, read-only and executable, a
//! kernel-only page in the user half, a PMD leaf and a page at the top of
//! the user half. Under HIGHPTE the user PTE tables must lie in high
//! memory (and the kernel's in low memory): the walks through them are
//! then the real MMU reading tables the kernel has no permanent mapping of.

mod negative;
mod setup;

use crate::bus::{self, WalkBus};
use crate::compare::{self, Tally};
use crate::cpu;
use crate::frame::kva;
use crate::machine::{self, Machine, LEAF_SIZE};
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::AddressSpace;
use pgtable::KernelPolicy;

pub(super) const PAGE: u64 = 4096;
/// Addresses the whole check must compare at least.
const MIN_ADDRESSES: u64 = 10_000;
/// End of the user half (`PAGE_OFFSET`).
pub const USER_END: u64 = 0xc000_0000;

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

pub fn region(kind: RegionKind) -> (u64, u64) {
    machine::ARCH
        .layout()
        .get(kind)
        .map_or((0, 0), |r| (r.start, r.last))
}

pub(super) fn err<E: core::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// Addresses worth comparing under `root`: around and inside every leaf
/// the walker finds in `ranges` (`[start, end)`, `end` 0 for 4 GiB), the
/// `extra` addresses, and `randoms` random ones in each of: all 4 GiB, the
/// user half, the direct map, the kernel half.
pub fn sample(
    root: u64,
    rng: &mut Rng,
    extra: &[u64],
    ranges: &[(u64, u64)],
    randoms: usize,
) -> Vec<u64> {
    let mut leaves: Vec<(u64, u64)> = Vec::new();
    let mmu = machine::software_mmu();
    for &(start, end) in ranges {
        let _ = mmu.for_each_mapping(&WalkBus::new(root), root, start, end, |l| {
            leaves.push((l.va, l.xlat.size))
        });
    }
    let mut v = Vec::new();
    for (base, size) in leaves {
        let inner = base + (rng.below(size) & !3);
        v.extend([
            base,
            base + 4,
            base + size / 2,
            base + size - 4,
            base.wrapping_sub(4),
            base + size,
            inner,
        ]);
    }
    for &x in extra {
        v.extend([x, x + 4, x + PAGE, x + LEAF_SIZE - 4]);
    }
    for _ in 0..randoms {
        v.push(rng.below(1 << 32));
        v.push(rng.below(USER_END));
        v.push(kva(rng.below(crate::boot::LOWMEM_END)));
        v.push(USER_END + rng.below(1 << 30));
    }
    v.retain(|&a| a <= u64::from(u32::MAX));
    v
}

/// Run the differential on `m` (consumed: its spaces stay alive to the end).
pub fn run(c: &mut Checks, m: Machine) {
    let (spaces, detail, extra) = match setup::setup(&m) {
        Ok(x) => x,
        Err(e) => {
            c.record("crosscheck-setup", Err(e));
            return;
        }
    };
    c.record("crosscheck-setup", Ok(detail));

    c.record("highpte", highpte(&m, &spaces));
    let names = ["init_mm", "before", "between", "after"];
    let mut total = Tally::default();
    let mut rng = Rng::new(0x6a09_e667_f3bc_c908);
    let (smep, smap) = (cpu::has_smep(), cpu::has_smap());
    for (i, name) in names.iter().enumerate() {
        let space = if i == 0 { None } else { Some(&spaces[i - 1]) };
        if let Err(e) = m.enter(space) {
            c.record(&format!("crosscheck/{name}"), Err(e));
            continue;
        }
        let root = m.root(space);
        let mut t = Tally::default();
        let addresses = sample(root, &mut rng, &extra, &[(0, 0)], 500);
        // Loads and stores with SMAP on (EFLAGS.AC clear and set), then
        // fetches with SMEP off and on.
        cpu::set_cr4(cpu::CR4_SMAP, smap);
        let mmu = machine::software_mmu();
        for &va in &addresses {
            compare::address(&mmu, root, va, &mut t);
        }
        cpu::set_cr4(cpu::CR4_SMAP, false);
        for on in [false, true].into_iter().filter(|&on| smep || !on) {
            cpu::set_cr4(cpu::CR4_SMEP, on);
            for &va in &addresses {
                compare::fetches(root, va, &mut t);
            }
        }
        cpu::set_cr4(cpu::CR4_SMEP, false);
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
    c.record(
        "crosscheck-negative",
        negative::run(&m, &spaces[0], smep, smap),
    );
    machine::go_home();
    let o = total.outcomes;
    let r = if total.addresses >= MIN_ADDRESSES && total.differences == 0 {
        Ok(format!(
            "roots=4 compared={} walks={} probes={} faults={} tags={} fetches={} (returned {}) smep={} smap={} differences=0 outcomes[ok={} read#PF={} write#PF={}] qemu_pdpte_a={}",
            total.addresses, total.walks, total.probes, total.faults, total.tags, total.fetches,
            total.fetched, smep as u8, smap as u8, o[0], o[1], o[2],
            bus::qemu_pdpte_accessed()
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

/// Where the walker finds the PTE of `va` under `root`: in high memory?
fn pte_in_high(root: u64, va: u64) -> Result<(bool, u64), String> {
    let mmu = machine::software_mmu();
    let l = mmu
        .translate(
            &WalkBus::new(root),
            root,
            va,
            pgtable_mmu::Access::Read,
            pgtable_mmu::Mode::Supervisor,
        )
        .map_err(|f| format!("{va:#x} not mapped: {f}"))?;
    if l.level != 1 {
        return Err(format!("{va:#x} is not a 4 KiB page"));
    }
    Ok((l.entry_pa >= crate::boot::LOWMEM_END, l.entry_pa))
}

/// Under HIGHPTE every process's user PTE tables are in high memory and
/// the kernel's are not; without it, none is.
fn highpte(m: &Machine, spaces: &[AddressSpace; 3]) -> CheckResult {
    let want = machine::ARCH.highpte;
    let mut seen = Vec::new();
    for s in spaces {
        for va in [0x40_0000, 0x50_0000, USER_END - PAGE] {
            let (high, pa) = pte_in_high(s.root().0, va)?;
            if high != want {
                return Err(format!(
                    "user PTE of {va:#x} at {pa:#x}, high memory expected: {want}"
                ));
            }
            seen.push(pa);
        }
    }
    let (vm, _) = region(RegionKind::Vmalloc);
    let v = (vm + LEAF_SIZE - 1) & !(LEAF_SIZE - 1);
    let (khigh, kpa) = pte_in_high(m.pt.kernel_root().0, v)?;
    if khigh {
        return Err(format!("kernel PTE of {v:#x} at {kpa:#x} in high memory"));
    }
    Ok(format!(
        "user PTEs {} ({} checked, e.g. {:#x}); kernel PTE at {kpa:#x} in low memory",
        if want {
            "in high memory"
        } else {
            "in low memory"
        },
        seen.len(),
        seen[0],
    ))
}
