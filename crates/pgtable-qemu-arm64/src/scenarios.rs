//! The new-top-level-slot scenarios on split roots under every kernel era
//! the simulator models (`pgtable_qemu_common::era`; arm64 arrived in 3.7,
//! so not before 9b861528a801), each era running its code: old code
//! (pre-6.17 `legacy_edit`: plain populate, never synced) or new code
//! (`edit`, which syncs when the architecture needs it). Check names are
//! `<scenario>/<era>/<code>`, with the `verdict=` `cargo xtask qemu`
//! compares with the simulator's table.
//!
//! Each scenario builds a fresh [`Machine`] (so the slot is empty), loads
//! its kernel root in TTBR1, creates processes A and B, then maps kernel
//! memory that needs a new top-level entry of the kernel root, creates
//! process C, and touches the new addresses (EL1 reads and writes) from
//! every process with TTBR0 switched to it. Each touch is walked by the
//! software MMU first; the real outcome must equal it. On arm64 the kernel
//! half is translated from TTBR1 whatever TTBR0 holds, so both codes must
//! see **no fault**: the old code's missing sync is harmless here (Linux's
//! arm64 defines no `ARCH_PAGE_TABLE_SYNC_MASK`). A control touch of an
//! unmapped kernel address next to the new range must fault in both MMUs.
//!
//! The new entry is a top-level one, except where a range shares its
//! top-level slot with the kernel's own mapping of RAM: then it is the
//! entry one level down. That happens with 52-bit VAs, whose 16 level -1
//! slots span 256 TiB each: the library's 52-bit layout (`memory.rst`)
//! puts modules, vmalloc, vmemmap and the fixmap in the last one, where
//! this kernel lives, so only the linear map and the KASAN shadow can need
//! a new level -1 entry.

use crate::compare::{self, Tally};
use crate::cpu::AtOp;
use crate::data::{self, BLOCK_2M};
use crate::frame::{kva, RAM_START};
use crate::machine::{self, Machine, PhysMem};
use crate::probe;
use crate::report::{CheckResult, Checks};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable::{PhysAddr, Prot, SyncReport, VirtAddr, PAGE_SIZE};
use pgtable_mmu::arm64::{desc, level_shift, Half};
use pgtable_mmu::PhysBus;
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 256;
/// A memory section (Linux's 128 MiB).
const SECTION: u64 = 128 << 20;

pub fn run(c: &mut Checks) {
    type Scenario = fn(Code) -> CheckResult;
    // `ioremap` reads a device: its own module.
    let all: [(&str, Scenario); 6] = [
        ("hotplug-new-slot", hotplug),
        ("compound-devmap", compound),
        ("subpmd-clear", subpmd),
        ("vmalloc-new-slot", vmalloc),
        ("kasan-shadow", kasan),
        ("percpu", percpu),
    ];
    for (name, f) in all {
        for era in Era::ALL
            .into_iter()
            .filter(|e| e.exists(name, Family::Arm64))
        {
            let code = era.code(era::user_of(name), Family::Arm64);
            let r = f(code);
            machine::go_home();
            c.record(&format!("{name}/{}/{}", era.name(), code.name()), r);
        }
    }
}

/// A range the kernel maps: `(va, len, pa)`, `pa` a tagged block that
/// repeats every 2 MiB.
type Range = (u64, u64, u64);

/// The index of `va` in a kernel table at lookup level `level`.
fn index(m: &Machine, level: i8, va: u64) -> u64 {
    let shift = level_shift(level);
    let bits = (m.mmu.va_bits(Half::Upper) - shift).min(9);
    (va >> shift) & ((1 << bits) - 1)
}

/// The entry a mapping of `va` must add to the kernel tables, read from
/// table memory through the software MMU's descriptor decoding: `(lookup
/// level, index)` of the empty top-level entry, or, when `va` shares its
/// top-level entry with the kernel's mapping of RAM, of the empty entry
/// one level down under it. An entry in use where a new one is needed is
/// an error.
fn new_entry(m: &Machine, va: u64) -> Result<(i8, u64), String> {
    let top = m.mmu.start_level(Half::Upper);
    let slot = index(m, top, va);
    let d = PhysMem.read_u64(m.pt.kernel_root().0 + 8 * slot);
    if d == 0 {
        return Ok((top, slot));
    }
    if slot != index(m, top, kva(RAM_START)) || desc::kind(&m.mmu, top, d) != Some(true) {
        return Err(format!("top-level slot {slot} of {va:#x} is not empty"));
    }
    let table = desc::decode_addr(&m.mmu, d, top, false);
    let i = index(m, top + 1, va);
    if PhysMem.read_u64(table + 8 * i) != 0 {
        return Err(format!(
            "level {} entry {i} of {va:#x} (under the kernel's top-level slot {slot}) is not empty",
            top + 1
        ));
    }
    Ok((top + 1, i))
}

/// The common part: a machine with A and B, the edit as `code` writes it,
/// C, and the touches. `plan` returns the ranges to map from the machine.
fn scenario(code: Code, plan: impl Fn(&Machine, u64) -> Result<Vec<Range>, String>) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.load_kernel();
    let block = data::block_2m()?;
    let ranges = plan(&m, block)?;
    let top = m.mmu.start_level(Half::Upper);
    // The entries the ranges need must be empty: the point of the scenario
    // is a new kernel table entry after the spaces exist.
    let mut slots: Vec<u64> = Vec::new();
    let mut below: Vec<u64> = Vec::new();
    for &(va, len, _) in &ranges {
        for a in [va, va + len - 1] {
            let (level, i) = new_entry(&m, a)?;
            let list = if level == top { &mut slots } else { &mut below };
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let mut a = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    let mut b = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
    // Give A and B a user page each so their TTBR0 roots are not empty.
    for s in [&mut a, &mut b] {
        m.pt.user(s)
            .and_then(|mut u| {
                u.map_range(
                    VirtAddr(0x40_0000),
                    PhysAddr(block),
                    PAGE_SIZE,
                    Prot::USER_RW,
                    PageSize::Base,
                )
            })
            .map_err(|e| format!("user map: {e:?}"))?;
    }
    let map = |e: &mut dyn FnMut(u64, u64, u64) -> pgtable::Result<()>| {
        for &(va, len, pa) in &ranges {
            for off in (0..len).step_by(BLOCK_2M as usize) {
                e(va + off, pa, (len - off).min(BLOCK_2M))?;
            }
        }
        Ok::<(), pgtable::Error>(())
    };
    let sync: Option<SyncReport> = match code {
        Code::Old => {
            // SAFETY: arm64 needs no sync (split roots), which is what this
            // scenario shows; the touches below are probes whose faults
            // would be caught, recorded and survived.
            unsafe {
                m.pt.kernel().legacy_edit(|e| {
                    map(&mut |va, pa, len| {
                        e.vmap_range(VirtAddr(va), PhysAddr(pa), len, Prot::KERNEL, PageSize::Pmd)
                    })
                })
            }
            .map_err(|e| format!("legacy map: {e:?}"))?;
            None
        }
        Code::New => {
            let (r, report) = m.pt.kernel().edit(|e| {
                map(&mut |va, pa, len| {
                    e.vmap_range(VirtAddr(va), PhysAddr(pa), len, Prot::KERNEL, PageSize::Pmd)
                })
            });
            r.map_err(|e| format!("map: {e:?}"))?;
            Some(report)
        }
    };
    let cs = m.pt.create_space().map_err(|e| format!("{e:?}"))?;

    let mut t = Tally::default();
    let mut touches = 0u64;
    let mut control = 0u64;
    for (name, space) in [("A", &a), ("B", &b), ("C", &cs)] {
        m.enter(Some(space));
        let roots = m.roots(Some(space));
        for &(va, len, _) in &ranges {
            for addr in [va, va + len / 2, va + len - 8] {
                touches += 1;
                // Software MMU first, then the real access.
                let sw = compare::software(&m.mmu, &roots, AtOp::E1R, addr);
                let Ok((pa, _)) = sw else {
                    return Err(format!(
                        "process {name}: walker faults on new mapping {addr:#x}: {sw:?}"
                    ));
                };
                let real = probe::read(addr, false);
                match real {
                    Ok(v) if v == data::tag(pa) => {}
                    Ok(v) => return Err(format!("process {name}: {addr:#x} read {v:#x}, want tag of {pa:#x}")),
                    Err(f) => {
                        return Err(format!(
                            "process {name}: FAULT on {addr:#x}: ESR={:#x} FAR={:#x} (walker: pa {pa:#x})",
                            f.esr, f.far
                        ))
                    }
                }
                // SAFETY: `addr` maps the scenario's own tagged block; the
                // word gets its own tag back.
                if let Err(f) = unsafe { probe::write(addr, data::tag(pa), false) } {
                    return Err(format!(
                        "process {name}: FAULT writing {addr:#x}: ESR={:#x}",
                        f.esr
                    ));
                }
                // And the full comparison (AT for EL1/EL0, reads, writes).
                compare::address(&m.mmu, &roots, addr, &mut t);
            }
            // Control: just past the last range end nothing is mapped.
            let hole = ranges.iter().map(|r| r.0 + r.1).max().unwrap_or(0) + BLOCK_2M;
            control += 1;
            match probe::read(hole, false) {
                Err(f) if f.far == hole => {}
                other => return Err(format!("control touch of {hole:#x}: {other:?}")),
            }
            compare::address(&m.mmu, &roots, hole, &mut t);
        }
    }
    if t.differences != 0 {
        return Err(format!(
            "real and software MMU disagree ({}): {}",
            t.differences,
            t.first.unwrap_or_default()
        ));
    }
    let how = match sync {
        None => String::from("legacy populate, never synced"),
        Some(r) => format!("edit sync outcome {:?}", r.outcome),
    };
    machine::go_home();
    for s in [a, b, cs] {
        // This kernel flushes the whole TLB on every switch of roots.
        m.pt.destroy_space(s)
            .map_err(|_| "destroy_space refused")?
            .ignore();
    }
    let below = if below.is_empty() {
        String::new()
    } else {
        format!(
            "; new level {} entries {below:?} under the kernel's top-level slot {}",
            top + 1,
            index(&m, top, kva(RAM_START))
        )
    };
    Ok(format!(
        "verdict=ok touches={touches} faults=0 predicted=0 from spaces A,B (made before) and C (after) with TTBR0 switched; new top-level slot(s) {slots:?}{below}; {how}; control faults={control}; compared={} differences=0",
        t.addresses
    ))
}

fn region_start(m: &Machine, kind: RegionKind) -> u64 {
    m.pt.arch().layout().get(kind).map_or(0, |r| r.start)
}

/// Memory hot-add (9b861528a801 on x86-64): a 128 MiB section far above
/// boot RAM, whose direct map and vmemmap need new top-level entries.
fn hotplug(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        let arch = m.pt.arch();
        let top = arch.level_size(arch.top_level());
        let hot_pa = 4 * top;
        let dm = region_start(m, RegionKind::DirectMap) + hot_pa;
        let vmm = region_start(m, RegionKind::Vmemmap) + hot_pa / PAGE_SIZE * 64;
        let vmm_len = SECTION / PAGE_SIZE * 64;
        Ok(alloc::vec![(dm, SECTION, block), (vmm, vmm_len, block)])
    })
}

/// The vmemmap of device memory (pmem at 64 GiB), as
/// `vmemmap_populate_compound_pages()` maps it: 4 compound pages of 2 MiB,
/// 8 vmemmap pages each (RAM here; the sharing of tail pages is x86-64's
/// check).
fn compound(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        let vmm = region_start(m, RegionKind::Vmemmap) + (64 << 30) / PAGE_SIZE * 64;
        Ok(alloc::vec![(vmm, BLOCK_2M, block)])
    })
}

/// A sub-section hot-add's vmemmap: one 2 MiB block (a PMD leaf) for the
/// struct pages of 2 MiB at 64 GiB + 16 MiB.
fn subpmd(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        let start =
            region_start(m, RegionKind::Vmemmap) + ((64 << 30) + (16 << 20)) / PAGE_SIZE * 64;
        Ok(alloc::vec![(start & !(BLOCK_2M - 1), BLOCK_2M, block)])
    })
}

/// The KASAN shadow of device memory: 2 MiB at the start of the shadow
/// region, in a top-level slot nothing has used.
fn kasan(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        let ks = region_start(m, RegionKind::KasanShadow);
        if ks == 0 {
            return Err("no KASAN shadow region".into());
        }
        Ok(alloc::vec![(ks, BLOCK_2M, block)])
    })
}

/// The first whole slot of the vmalloc area at the level of the new entry,
/// `skip` slots in.
fn vmalloc_slot(m: &Machine, skip: u64) -> Result<u64, String> {
    let vm = region_start(m, RegionKind::Vmalloc);
    let (level, _) = new_entry(m, vm)?;
    let size = 1u64 << level_shift(level);
    let va = vm
        .checked_add(size - 1)
        .ok_or(format!("no whole {size:#x} slot above {vm:#x}"))?
        & !(size - 1);
    Ok(va + skip * size)
}

/// vmalloc in a new top-level slot (the case `pgd_populate_kernel()` was
/// written for), at the start of the vmalloc area; with 52-bit VAs in a new
/// level-0 entry (the area lies in the kernel's level -1 slot, see above).
fn vmalloc(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        Ok(alloc::vec![(vmalloc_slot(m, 0)?, 4 * BLOCK_2M, block)])
    })
}

/// The percpu first chunk, 4 units of 8 pages, two slots into the vmalloc
/// area (where the simulator places it).
fn percpu(code: Code) -> CheckResult {
    scenario(code, |m, block| {
        Ok(alloc::vec![(vmalloc_slot(m, 2)?, 4 * 8 * PAGE_SIZE, block)])
    })
}
