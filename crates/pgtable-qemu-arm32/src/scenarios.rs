//! The simulator's scenarios that apply to arm32 (`pgtable-sim`'s
//! `vmalloc-new-slot`, `ioremap` and `percpu`; the others need vmemmap,
//! hotplug or a KASAN shadow, which arm32 lacks or the model leaves out),
//! each under every era (the shared era table,
//! `pgtable_qemu_common::era`) on a fresh [`Machine`].
//!
//! Four processes (the simulator's four CPUs, each on its own process)
//! exist before the kernel change; process C is created after it. The
//! change is made with the era's code, then every process (TTBR0 switched
//! to it) and init_mm read the new addresses. Each read is walked by the
//! software MMU first and the real outcome must equal it: the same value,
//! or a data abort with the predicted fault status at the predicted
//! address. A fault is then handled as the era's `do_translation_fault()`
//! does (the library's `sync_on_fault`: copy init_mm's first-level entry
//! into the faulting root), and the retried read must succeed in both
//! MMUs. The verdict is `ok` (no fault), `fixed` (every fault fixed) or
//! `oops` (a fault nothing fixes); `cargo xtask qemu` checks it against the
//! simulator's table.

use crate::compare::{self, Tally};
use crate::crosscheck::region_start;
use crate::data::{self, BLOCK_2M};
use crate::machine::{self, Machine, PhysMem, Roots};
use crate::probe;
use crate::report::{CheckResult, Checks};
use crate::uart::{UART_PA, UART_VA};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::PageSize;
use pgtable::{AddressSpace, CacheMode, Level, PhysAddr, Prot, VirtAddr, PAGE_SIZE};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable_mmu::{Access, Mode, PhysBus};
use pgtable_qemu_common::era::{self, Code, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 128;
/// Processes created before the change (the simulator's CPUs).
const BEFORE: usize = 4;
/// Pages per percpu unit (the simulator's `percpu` scenario).
const UNIT_PAGES: u64 = 8;
/// The PL011's UARTPeriphID0 register: a side-effect-free read.
const PERIPH_ID0: u32 = 0xfe0;

#[derive(Clone, Copy)]
enum Scenario {
    VmallocNewSlot,
    Ioremap,
    Percpu,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::VmallocNewSlot => "vmalloc-new-slot",
            Scenario::Ioremap => "ioremap",
            Scenario::Percpu => "percpu",
        }
    }
}

pub fn run(c: &mut Checks) {
    for s in [
        Scenario::VmallocNewSlot,
        Scenario::Ioremap,
        Scenario::Percpu,
    ] {
        for era in Era::ALL
            .into_iter()
            .filter(|e| e.exists(s.name(), Family::Arm32))
        {
            let code = era.code(era::user_of(s.name()), Family::Arm32);
            let r = scenario(s, code);
            machine::go_home();
            c.record(&format!("{}/{}/{}", s.name(), era.name(), code.name()), r);
        }
    }
}

/// One address a process reads, and the value the read must return.
struct Touch {
    va: u32,
    /// The value: the tag of the physical address (`None`), or the PL011
    /// register read through the kernel's own mapping.
    value: Option<u32>,
    /// Which reader reads it (`None`: every reader).
    reader: Option<usize>,
}

/// The kernel change as `code` makes it; returns the touches and a note.
fn change(
    m: &Machine,
    s: Scenario,
    code: Code,
    block: u64,
) -> Result<(Vec<Touch>, String), String> {
    let kernel = m.pt.kernel();
    let e = |x: pgtable::Error| format!("{x:?}");
    match s {
        Scenario::VmallocNewSlot => {
            let frames: Vec<PhysAddr> = (0..4).map(|i| PhysAddr(block + i * PAGE_SIZE)).collect();
            let mut kernel = kernel;
            let va = match code {
                Code::Old => {
                    // SAFETY: the old code on purpose; every read below is a
                    // probe whose fault is caught and compared.
                    unsafe { kernel.legacy_edit(|ed| ed.vmap(&frames, Prot::KERNEL)) }.map_err(e)?
                }
                Code::New => kernel
                    .edit(|ed| ed.vmap(&frames, Prot::KERNEL))
                    .0
                    .map_err(e)?,
            };
            let va = va.0 as u32;
            let touches = [va, va + 4096, va + 4 * 4096 - 4]
                .map(|va| Touch {
                    va,
                    value: None,
                    reader: None,
                })
                .into();
            Ok((touches, format!("vmalloc(16 KiB) at {va:#x}")))
        }
        Scenario::Ioremap => {
            let pa = PhysAddr(u64::from(UART_PA));
            let mut kernel = kernel;
            let va = match code {
                Code::Old => {
                    // SAFETY: the old code on purpose; every read below is a
                    // probe whose fault is caught and compared.
                    unsafe { kernel.legacy_edit(|ed| ed.ioremap(pa, 0x1000, CacheMode::Uncached)) }
                        .map_err(e)?
                }
                Code::New => kernel
                    .edit(|ed| ed.ioremap(pa, 0x1000, CacheMode::Uncached))
                    .0
                    .map_err(e)?,
            };
            let va = va.0 as u32;
            // SAFETY: UART_VA maps the PL011 in every kernel root; its
            // peripheral ID register has no read side effects.
            let id =
                unsafe { core::ptr::read_volatile((UART_VA + PERIPH_ID0) as usize as *const u32) };
            let touches = alloc::vec![Touch {
                va: va + PERIPH_ID0,
                value: Some(id),
                reader: None
            }];
            Ok((
                touches,
                format!("ioremap(PL011 {UART_PA:#x}, 4 KiB) at {va:#x}, UARTPeriphID0={id:#x}"),
            ))
        }
        Scenario::Percpu => {
            // As the simulator places it: two top-level slots past the
            // start of the vmalloc area, in a slot nothing maps yet.
            let arch = *m.pt.arch();
            let slot = arch.level_size(arch.top_level());
            let base = region_start(m, RegionKind::Vmalloc) + 2 * slot;
            let units = BEFORE as u64;
            let mut kernel = kernel;
            let body = |ed: &mut dyn FnMut(u64, u64) -> pgtable::Result<()>| {
                for i in 0..units * UNIT_PAGES {
                    ed(base + i * PAGE_SIZE, block + i * PAGE_SIZE)?;
                }
                Ok::<(), pgtable::Error>(())
            };
            // pcpu_populate_pte(): walk from the root, allocating each
            // missing level, and set the PTE.
            match code {
                // SAFETY: as above.
                Code::Old => unsafe {
                    kernel.legacy_edit(|ed| {
                        body(&mut |addr, pa| {
                            let pgd = ed.pgd_offset(VirtAddr(addr));
                            let p4d = ed.alloc_track(Level::Pgd, pgd, VirtAddr(addr))?;
                            let pud = ed.alloc_track(Level::P4d, p4d, VirtAddr(addr))?;
                            let pmd = ed.alloc_track(Level::Pud, pud, VirtAddr(addr))?;
                            let pte = ed.alloc_track(Level::Pmd, pmd, VirtAddr(addr))?;
                            ed.set_leaf(Level::Pte, VirtAddr(addr), pte, PhysAddr(pa), Prot::KERNEL)
                        })
                    })
                }
                .map_err(e)?,
                Code::New => kernel
                    .edit(|ed| {
                        body(&mut |addr, pa| {
                            let pgd = ed.pgd_offset(VirtAddr(addr));
                            let p4d = ed.alloc_track(Level::Pgd, pgd, VirtAddr(addr))?;
                            let pud = ed.alloc_track(Level::P4d, p4d, VirtAddr(addr))?;
                            let pmd = ed.alloc_track(Level::Pud, pud, VirtAddr(addr))?;
                            let pte = ed.alloc_track(Level::Pmd, pmd, VirtAddr(addr))?;
                            ed.set_leaf(Level::Pte, VirtAddr(addr), pte, PhysAddr(pa), Prot::KERNEL)
                        })
                    })
                    .0
                    .map_err(e)?,
            }
            let unit = UNIT_PAGES * PAGE_SIZE;
            let touches = (0..BEFORE)
                .map(|cpu| Touch {
                    va: (base + cpu as u64 * unit + 0x100) as u32,
                    value: None,
                    reader: Some(cpu),
                })
                .collect();
            Ok((
                touches,
                format!(
                    "first chunk at {base:#x}, {units} units of {} KiB",
                    unit >> 10
                ),
            ))
        }
    }
}

/// What one read showed.
#[derive(Default)]
struct Seen {
    touches: u64,
    faults: u64,
    fixed: u64,
    oops: u64,
    /// Each real fault next to the walker's prediction.
    log: Vec<String>,
}

fn scenario(s: Scenario, code: Code) -> CheckResult {
    let m = Machine::new(TABLE_PAGES)?;
    m.load_kernel();
    let block = data::block_2m()?;
    let arch = *m.pt.arch();
    let mut spaces: Vec<AddressSpace> = Vec::new();
    for _ in 0..BEFORE {
        let mut sp = m.pt.create_space().map_err(|e| format!("{e:?}"))?;
        m.pt.user(&mut sp)
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
        spaces.push(sp);
    }
    // The change, and the first-level slots it used.
    let (touches, note) = change(&m, s, code, block)?;
    let mut slots: Vec<u64> = touches
        .iter()
        .map(|t| arch.index(Level::Pgd, u64::from(t.va)))
        .collect();
    slots.dedup();
    spaces.push(m.pt.create_space().map_err(|e| format!("{e:?}"))?);
    let covers = |va: u32| crate::era::fault_handler_covers(u64::from(va), arch.kernel_start());

    let mut seen = Seen::default();
    let mut t = Tally::default();
    let names = ["P0", "P1", "P2", "P3", "C", "init_mm"];
    for (i, name) in names.iter().enumerate() {
        let space = spaces.get(i);
        m.enter(space);
        let roots = m.roots(space);
        // The slots are new: the old code left them out of every process
        // made before the change; the library copied them everywhere, and
        // C copied them at creation.
        let missing = slots
            .iter()
            .filter(|&&sl| PhysMem.read_u32(roots.ttbr0 + 4 * sl) == 0)
            .count();
        let want_missing = if i < BEFORE && code == Code::Old {
            slots.len()
        } else {
            0
        };
        if missing != want_missing {
            return Err(format!(
                "{name}: {missing} of the slots {slots:x?} empty before the reads, want {want_missing}"
            ));
        }
        let faults_before = seen.faults;
        for touch in touches
            .iter()
            .filter(|x| x.reader.is_none_or(|r| r == i || i >= BEFORE))
        {
            read(&m, &roots, name, touch, &covers, &mut seen)?;
            compare::address(&m.mmu, &roots, touch.va, &mut t);
        }
        if missing > 0 && seen.faults == faults_before {
            return Err(format!(
                "{name}: {missing} slot(s) missing, yet no read faulted"
            ));
        }
    }
    if t.differences != 0 {
        return Err(format!(
            "real and software MMU disagree ({}): {}",
            t.differences,
            t.first.unwrap_or_default()
        ));
    }
    let verdict = if seen.oops > 0 {
        "oops"
    } else if seen.faults > 0 {
        "fixed"
    } else {
        "ok"
    };
    let how = match code {
        Code::Old => "legacy populate, never synced",
        Code::New => "library edit (syncs first-level entries)",
    };
    machine::go_home();
    for sp in spaces {
        // This kernel flushes the whole TLB on every switch of roots.
        m.pt.destroy_space(sp)
            .map_err(|_| "destroy_space refused")?
            .ignore();
    }
    Ok(format!(
        "verdict={verdict} faults={} predicted={} fixed={} oops={} reads={} (each as the walker predicted) from P0-P3 (made before), C (after), init_mm; {note}; slot(s) {slots:x?}; {how}; compared={} differences=0{}",
        seen.faults,
        // Each fault was the walker's prediction (`read()` checks it).
        seen.faults,
        seen.fixed,
        seen.oops,
        seen.touches,
        t.addresses,
        if seen.log.is_empty() {
            String::new()
        } else {
            format!("; faults (fixed by do_translation_fault): {}", seen.log.join(", "))
        }
    ))
}

/// One read of `touch` from the running root: walker first, then the real
/// read; on a fault, the era's fault handler and the retry.
fn read(
    m: &Machine,
    roots: &Roots,
    name: &str,
    touch: &Touch,
    covers: &dyn Fn(u32) -> bool,
    seen: &mut Seen,
) -> Result<(), String> {
    let va = touch.va;
    seen.touches += 1;
    let sw = compare::walk(&m.mmu, roots, va, Access::Read, Mode::Supervisor);
    let hw = probe::read(va, false);
    let want = |pa: u64| touch.value.unwrap_or(data::tag(pa));
    match (&sw, &hw) {
        (Ok((pa, _, _)), Ok(v)) if *v == want(*pa) => return Ok(()),
        (Err(fs), Err(f)) if f.fs() == *fs && f.far == va && !f.wnr() && !f.prefetch => {
            seen.faults += 1;
            seen.log.push(format!(
                "{name} {va:#x} DFSR={:#x} DFAR={:#x} walker FS={fs:#04x}",
                f.fsr, f.far
            ));
        }
        _ => return Err(format!("{name}: read {va:#x}: walker {sw:?}, real {hw:?}")),
    }
    // do_translation_fault(): only at or above TASK_SIZE, only by copying
    // an entry init_mm has.
    if !(covers(va)
        && m.pt
            .sync_on_fault(PhysAddr(roots.ttbr0), VirtAddr(u64::from(va))))
    {
        seen.oops += 1;
        return Ok(());
    }
    let sw = compare::walk(&m.mmu, roots, va, Access::Read, Mode::Supervisor);
    let hw = probe::read(va, false);
    match (&sw, &hw) {
        (Ok((pa, _, _)), Ok(v)) if *v == want(*pa) => {
            seen.fixed += 1;
            Ok(())
        }
        _ => Err(format!(
            "{name}: retry of {va:#x} after the fix: walker {sw:?}, real {hw:?}"
        )),
    }
}

const _: () = assert!(BLOCK_2M >= BEFORE as u64 * UNIT_PAGES * PAGE_SIZE);
