//! The scenarios' kernel changes with the other CPUs running: the hot-add
//! of `hotplug-new-slot` (direct map and vmemmap in empty top-level
//! slots), the compound vmemmap of `compound-vmemmap`, and a KASAN shadow
//! mapping (the cross-check's unsynced legacy edit) in its empty slot.
//!
//! Per change and code: a fresh scenario machine; each AP switches to an
//! address space of its own created before the change and keeps touching
//! a kernel address mapped since boot (never faults). The BSP makes the
//! change (old code: `legacy_edit`, no sync; new code: the library's
//! `edit`, which syncs when the closure returns), writes nothing else, and
//! publishes it; from then on the APs also read every new address and
//! compare the word with its tag. Old code: until the BSP's late
//! `sync_global_pgds`, every AP read must fault with the CR2 and error code
//! of the same read on one CPU (the BSP's own touch from a process created
//! before the change) and of the software MMU's walk of that AP's root;
//! after it (touches that began after the AP saw the sync) none may. New
//! code: no AP read ever faults.

use super::ap::{self, Kind};
use super::watch::{
    ADDRS, EXPECT, N, PUBLISHED, RECORDS, STABLE, STABLE_EXPECT, STATE, SYNCED, SYNCING,
    UNPUBLISHED,
};
use crate::data::{self, BLOCK_2M};
use crate::frame;
use crate::probe::Fault;
use crate::report::Checks;
use crate::scenarios::{self, boot, edit_kernel, region_start, top_slot_size, vmemmap_of, Code};
use crate::space::{self, Machine};
use crate::touch::{self, same_fault};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use pgtable::arch::RegionKind;
use pgtable::PhysAddr;

/// Reads of each address every AP must make in each phase.
const MIN_READS: u64 = 64;
/// A memory section (Linux's 128 MiB on x86-64), as in `hotplug-new-slot`.
const SECTION: u64 = 128 << 20;
/// Device memory at 64 GiB as 4 compound pages of 2 MiB, whose 512 struct
/// pages take 8 vmemmap pages each, as in `compound-vmemmap`.
const COMPOUND_PA: u64 = 64 << 30;
const COMPOUNDS: u64 = 4;
const VMEMMAP_PER_COMPOUND: u64 = 512 * 64;

/// One kernel change: the addresses to publish and the ranges the old
/// code's late sync covers.
struct Change {
    /// (address, tag it must read).
    addrs: Vec<(u64, u64)>,
    sync: Vec<(u64, u64)>,
}

/// Map the change on `m` as `code` does; returns what to publish.
fn make(name: &'static str, m: &Machine, code: Code) -> Result<Change, String> {
    let pt = &m.pt;
    let block = data::block_2m()?;
    data::tag(block, BLOCK_2M);
    let tag = |va: u64| block + (va & (BLOCK_2M - 1));
    match name {
        "hotplug-new-slot" => {
            let hot_pa = top_slot_size(pt);
            let dm = region_start(pt, RegionKind::DirectMap) + hot_pa;
            let vmm = vmemmap_of(pt, hot_pa);
            let vmm_len = SECTION / 4096 * 64;
            edit_kernel(pt, code, |e| {
                for off in (0..SECTION).step_by(BLOCK_2M as usize) {
                    e.vmap_range(dm + off, block, BLOCK_2M, 21)?;
                }
                e.vmap_range(vmm, block, vmm_len, 21)
            })?;
            let addrs = [dm, dm + SECTION - 8, vmm, vmm + vmm_len - 64];
            Ok(Change {
                addrs: addrs.iter().map(|&va| (va, tag(va))).collect(),
                sync: alloc::vec![(dm, dm + SECTION - 1), (vmm, vmm + vmm_len - 1)],
            })
        }
        "compound-vmemmap" => {
            // As `compound-vmemmap`: 4 compound pages of 2 MiB at 64 GiB,
            // each with a head vmemmap page and one tail page mapped 7
            // times. The tags name the frame, so a read shows the sharing.
            let vmm = vmemmap_of(pt, COMPOUND_PA);
            let len = COMPOUNDS * VMEMMAP_PER_COMPOUND;
            let heads = data::frames(COMPOUNDS as usize)?;
            let tails = data::frames(COMPOUNDS as usize)?;
            let mut frames = Vec::new();
            for i in 0..COMPOUNDS as usize {
                data::tag(heads[i].0, frame::PAGE_SIZE);
                data::tag(tails[i].0, frame::PAGE_SIZE);
                frames.push(heads[i]);
                frames.extend(core::iter::repeat_n(tails[i], 7));
            }
            edit_kernel(pt, code, |e| e.vmap_pages(vmm, &frames))?;
            let page = |i: u64, n: u64| vmm + i * VMEMMAP_PER_COMPOUND + n * 64;
            let tag = |va: u64| {
                let f = frames[((va - vmm) / frame::PAGE_SIZE) as usize];
                f.0 + (va & (frame::PAGE_SIZE - 1))
            };
            let addrs = [page(0, 0), page(2, 300), page(1, 511)];
            Ok(Change {
                addrs: addrs.iter().map(|&va| (va, tag(va))).collect(),
                sync: alloc::vec![(vmm, vmm + len - 1)],
            })
        }
        _ => {
            let ks = region_start(pt, RegionKind::KasanShadow);
            edit_kernel(pt, code, |e| e.vmap_range(ks, block, BLOCK_2M, 21))?;
            let addrs = [ks, ks + BLOCK_2M - 8];
            Ok(Change {
                addrs: addrs.iter().map(|&va| (va, tag(va))).collect(),
                sync: alloc::vec![(ks, ks + BLOCK_2M - 1)],
            })
        }
    }
}

/// Wait until every AP made `MIN_READS` reads of every address in the
/// phase `after` selects.
fn wait_reads(aps: &[usize], n: usize, after: bool) -> Result<(), String> {
    for &ap in aps {
        let rec = &RECORDS[ap];
        ap::wait(&format!("cpu {ap} reading the new addresses"), || {
            (0..n).all(|i| {
                let (ok, fault) = if after {
                    (&rec.after_ok[i], &rec.after_fault[i])
                } else {
                    (&rec.before_ok[i], &rec.before_fault[i])
                };
                ok.load(Ordering::Relaxed) + fault.load(Ordering::Relaxed) >= MIN_READS
            })
        })?;
    }
    Ok(())
}

/// One change as `code`, with the APs running: `Ok(detail)` if it showed
/// what it must.
fn check(name: &'static str, code: Code, aps: &[usize]) -> Result<String, String> {
    let (m, [a, b]) = boot()?;
    let spaces: Vec<pgtable::AddressSpace> =
        aps.iter().map(|_| m.process()).collect::<Result<_, _>>()?;
    let roots: Vec<PhysAddr> = spaces.iter().map(|s| s.root()).collect();
    ap::switch(aps, &roots)?;
    // The boot direct map of the scenario machine: mapped in every root.
    let stable_pa = data::block_2m()?;
    data::tag(stable_pa, BLOCK_2M);
    STABLE.store(
        region_start(&m.pt, RegionKind::DirectMap) + stable_pa,
        Ordering::Relaxed,
    );
    STABLE_EXPECT.store(stable_pa, Ordering::Relaxed);
    STATE.store(UNPUBLISHED, Ordering::Relaxed);
    for &ap in aps {
        RECORDS[ap].reset();
    }
    let watch = ap::run(Kind::Watch, aps)?;

    let r = (|| {
        let ch = make(name, &m, code)?;
        let n = ch.addrs.len();
        for (i, &(va, want)) in ch.addrs.iter().enumerate() {
            ADDRS[i].store(va, Ordering::Relaxed);
            EXPECT[i].store(want, Ordering::Relaxed);
        }
        N.store(n as u64, Ordering::Relaxed);
        // One CPU's view first (the BSP on a process created before the
        // change), for the old code's faults to be compared with.
        let one_cpu: Vec<_> = ch
            .addrs
            .iter()
            .map(|&(va, _)| touch::touch(&m.mmu, a.root(), va, false))
            .collect();
        space::go_home();
        // The software MMU's walk of each AP's root before any sync.
        let soft: Vec<Vec<_>> = roots
            .iter()
            .map(|&root| {
                ch.addrs
                    .iter()
                    .map(|&(va, _)| touch::soft(&m.mmu, root, va, false))
                    .collect()
            })
            .collect();
        if code == Code::Old {
            STATE.store(PUBLISHED, Ordering::Release);
            wait_reads(aps, n, false)?;
            STATE.store(SYNCING, Ordering::Release);
            for &(s, l) in &ch.sync {
                scenarios::late_sync(&m.pt, s, l);
            }
        }
        STATE.store(SYNCED, Ordering::Release);
        wait_reads(aps, n, true)?;
        Ok::<_, String>((ch, one_cpu, soft))
    })();
    let stopped = ap::run(Kind::Idle, aps);
    ap::wait_done(watch, aps)?;
    stopped?;
    let (ch, one_cpu, soft_before) = r?;
    // The APs go back to the main home before their spaces are freed.
    let home: Vec<PhysAddr> = aps.iter().map(|_| space::home_root()).collect();
    ap::switch(aps, &home)?;

    let mut per_cpu = Vec::new();
    for (k, &ap) in aps.iter().enumerate() {
        let rec = &RECORDS[ap];
        let ld = |a: &AtomicU64| a.load(Ordering::Acquire);
        let mut faults = 0;
        for (i, &(va, _)) in ch.addrs.iter().enumerate() {
            let (bo, bf) = (ld(&rec.before_ok[i]), ld(&rec.before_fault[i]));
            let (ao, af) = (ld(&rec.after_ok[i]), ld(&rec.after_fault[i]));
            faults += bf + af;
            if af != 0 {
                return Err(format!(
                    "cpu {ap}: {af} faults at {va:#x} after the sync (first {:?})",
                    rec.first_fault(i)
                ));
            }
            if ao == 0 {
                return Err(format!("cpu {ap}: no read of {va:#x} after the sync"));
            }
            if code == Code::New && bf + bo != 0 {
                return Err(format!("cpu {ap}: new code has reads before the sync"));
            }
            if code == Code::Old {
                if bo != 0 || bf == 0 {
                    return Err(format!(
                        "cpu {ap}: old code at {va:#x} before the sync: {bo} reads ok, {bf} faulted"
                    ));
                }
                let soft = &soft_before[k][i];
                let (addr, err) = rec.first_fault(i).unwrap_or((0, 0));
                let real = Fault {
                    vector: crate::extable::VECTOR_PF,
                    addr,
                    error_code: err,
                    rip: 0,
                };
                let one = &one_cpu[i];
                let one_same = matches!(one.real, Err(f) if f.addr == addr && f.error_code == err);
                let soft_same = matches!(soft, Err(s) if same_fault(&real, s, va));
                if !one_same || !soft_same || !one.agrees() {
                    return Err(format!(
                        "cpu {ap} fault cr2={addr:#x} err={err:#x} at {va:#x}; one CPU: {}; software MMU on its root: {:?}",
                        one.describe(),
                        soft.as_ref().err()
                    ));
                }
            }
        }
        for (what, v) in [
            ("inconsistent faults", ld(&rec.inconsistent)),
            ("wrong words", ld(&rec.wrong)),
            (
                "faults or wrong words at the boot direct map",
                ld(&rec.stable_bad),
            ),
        ] {
            if v != 0 {
                return Err(format!("cpu {ap}: {v} {what}"));
            }
        }
        per_cpu.push(format!(
            "cpu{ap}:{faults}/{}",
            faults
                + (0..ch.addrs.len())
                    .map(|i| ld(&rec.before_ok[i]) + ld(&rec.after_ok[i]))
                    .sum::<u64>()
        ));
    }
    let total: u64 = aps
        .iter()
        .flat_map(|&ap| {
            (0..ch.addrs.len()).map(move |i| {
                RECORDS[ap].before_fault[i].load(Ordering::Relaxed)
                    + RECORDS[ap].after_fault[i].load(Ordering::Relaxed)
            })
        })
        .sum();
    let straddled: u64 = aps
        .iter()
        .map(|&ap| RECORDS[ap].straddled.load(Ordering::Relaxed))
        .sum();
    let cr2 = match one_cpu.first().map(|t| t.real) {
        Some(Err(f)) => format!(
            " cr2={:#x} err={:#x} (= one CPU, = software MMU)",
            f.addr, f.error_code
        ),
        _ => String::new(),
    };
    m.retire([a, b].into_iter().chain(spaces));
    let label = match code {
        Code::Old => "faulted",
        Code::New => "faults",
    };
    // Every fault above was checked against the software MMU on that CPU's
    // root, so it predicted each one.
    Ok(format!(
        "{label}={total} predicted={total} per-cpu(faults/reads)={}{cr2} straddled={straddled} addrs={}",
        per_cpu.join(","),
        ch.addrs.len()
    ))
}

pub fn run(c: &mut Checks, aps: &[usize]) {
    for name in ["hotplug-new-slot", "compound-vmemmap", "kasan-shadow"] {
        for code in [Code::Old, Code::New] {
            let tag = match code {
                Code::Old => "old",
                Code::New => "new",
            };
            c.record_detail(&format!("smp/{name}/{tag}"), check(name, code, aps));
        }
    }
}
