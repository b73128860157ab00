//! Allocation failure at every point of every operation that allocates.
//!
//! For each operation (create_space, vmap_range with 4 KiB / 2 MiB / 1 GiB
//! leaves, vmap_pages, vmap, ioremap, preallocate, alloc_track, user
//! map_range / map_pages, pte_alloc_one), in both paging modes, starting
//! from a machine with kernel and user mappings and several spaces, the
//! k-th table allocation of the operation is made to fail, for k = 0, 1, …
//! until the operation no longer allocates that many tables and succeeds.
//! Each k runs on a freshly built machine (so that every allocation point
//! is hit exactly, not shifted by tables an earlier failure left linked
//! in), twice: once with only the k-th allocation failing
//! (`fail_once_at`), once with every allocation from the k-th on failing
//! (`fail_from`, memory stays exhausted).
//!
//! A failed run must return `Err(OutOfMemory)`, leave every root in sync,
//! leak no frame (`harness::reachable_frames() == tables_in_use()`: tables it linked
//! in stay reachable), keep every earlier leaf, and leave no leaf of its own.
//! Then, with allocation healed, the same operation on the same machine must
//! succeed with the same result as on a machine that never failed (so a
//! failed `vmap`/`ioremap` gave its virtual range back), its mapping must
//! be seen from every space, and undoing it and destroying every space must
//! balance the frames.

mod common;
use common::harness;
use pgtable::PageSize;
use pgtable::PagingGeometry;

use common::*;
use harness::snapshot;
use pgtable::{
    AddressSpace, CacheMode, Error, Level, PhysAddr, Prot, TableMemory, VirtAddr, PAGE_SIZE, X86_64,
};

const M2: u64 = 1 << 21;
const G1: u64 = 1 << 30;

/// What a successful operation made, to check and undo.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Made {
    /// A kernel range `va..va+size` mapped to `pa` (contiguous) or to some
    /// frames (`pa` None); undo with vunmap_range, or vunmap if `area`.
    Kernel {
        va: u64,
        size: u64,
        pa: Option<u64>,
        area: bool,
    },
    /// A user range in space 0.
    User { va: u64, size: u64, pa: Option<u64> },
    /// A new space (the last one in the list).
    Space,
    /// Nothing to check (tables only).
    Tables,
}

type Op = fn(&Sim, &mut Vec<AddressSpace>) -> Result<Made, Error>;

fn top_slot(arch: X86_64) -> u64 {
    arch.level_size(arch.top_level())
}

/// A new top-level slot of the vmalloc area, away from `vmap()`'s first
/// fit.
fn fresh(pt: &Sim, n: u64) -> u64 {
    vmalloc_start(*pt.arch()).0 + (8 + n) * top_slot(*pt.arch())
}

fn ops() -> Vec<(&'static str, Op)> {
    vec![
        ("create_space", |pt, spaces| {
            spaces.push(pt.create_space()?);
            Ok(Made::Space)
        }),
        ("vmap_range 4K, new slot, across a 1G boundary", |pt, _| {
            let va = fresh(pt, 0) + G1 - 8 * PAGE_SIZE;
            let size = 16 * PAGE_SIZE;
            pt.kernel()
                .edit(|e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(0x10_0000),
                        size,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                })
                .0?;
            Ok(Made::Kernel {
                va,
                size,
                pa: Some(0x10_0000),
                area: false,
            })
        }),
        ("vmap_range 4K, inside existing tables", |pt, _| {
            let va = vmalloc_start(*pt.arch()).0 + 8 * M2;
            let size = 3 * M2;
            pt.kernel()
                .edit(|e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(0x40_0000),
                        size,
                        Prot::KERNEL,
                        PageSize::Base,
                    )
                })
                .0?;
            Ok(Made::Kernel {
                va,
                size,
                pa: Some(0x40_0000),
                area: false,
            })
        }),
        ("vmap_range 2M leaves, new slot", |pt, _| {
            let va = fresh(pt, 1) + G1 - 4 * M2;
            let size = 8 * M2;
            pt.kernel()
                .edit(|e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(16 * M2),
                        size,
                        Prot::KERNEL,
                        PageSize::Pmd,
                    )
                })
                .0?;
            Ok(Made::Kernel {
                va,
                size,
                pa: Some(16 * M2),
                area: false,
            })
        }),
        (
            "vmap_range 1G leaves, new slot, two top-level slots",
            |pt, _| {
                let va = fresh(pt, 3) - G1;
                let size = 2 * G1;
                pt.kernel()
                    .edit(|e| {
                        e.vmap_range(
                            VirtAddr(va),
                            PhysAddr(4 * G1),
                            size,
                            Prot::KERNEL,
                            PageSize::Pud,
                        )
                    })
                    .0?;
                Ok(Made::Kernel {
                    va,
                    size,
                    pa: Some(4 * G1),
                    area: false,
                })
            },
        ),
        ("vmap_range mixed leaves", |pt, _| {
            let va = fresh(pt, 4) + G1 - M2 - PAGE_SIZE;
            let size = G1 + 2 * M2 + 2 * PAGE_SIZE;
            pt.kernel()
                .edit(|e| {
                    e.vmap_range(
                        VirtAddr(va),
                        PhysAddr(8 * G1 - M2 - PAGE_SIZE),
                        size,
                        Prot::KERNEL,
                        PageSize::Pud,
                    )
                })
                .0?;
            Ok(Made::Kernel {
                va,
                size,
                pa: Some(8 * G1 - M2 - PAGE_SIZE),
                area: false,
            })
        }),
        ("vmap_pages, new slot, repeated frames", |pt, _| {
            let va = fresh(pt, 5) + M2 - 4 * PAGE_SIZE;
            let frames: Vec<_> = (0..8)
                .map(|i| PhysAddr(0x80_0000 + (i % 3) * PAGE_SIZE))
                .collect();
            pt.kernel()
                .edit(|e| e.vmap_pages(VirtAddr(va), &frames, Prot::KERNEL))
                .0?;
            Ok(Made::Kernel {
                va,
                size: 8 * PAGE_SIZE,
                pa: None,
                area: false,
            })
        }),
        ("vmap, 600 frames", |pt, _| {
            let frames: Vec<_> = (0..600)
                .map(|i| PhysAddr(0x100_0000 + i * PAGE_SIZE))
                .collect();
            let va = pt.kernel().edit(|e| e.vmap(&frames, Prot::KERNEL)).0?;
            Ok(Made::Kernel {
                va: va.0,
                size: 600 * PAGE_SIZE,
                pa: None,
                area: true,
            })
        }),
        (
            "ioremap 2G + 6K at 1G alignment: 1G leaves, then new tables",
            |pt, _| {
                let va = pt
                    .kernel()
                    .edit(|e| e.ioremap(PhysAddr(4 * G1), 2 * G1 + 0x1800, CacheMode::Uncached))
                    .0?;
                Ok(Made::Kernel {
                    va: va.0,
                    size: 2 * G1 + 0x2000,
                    pa: Some(4 * G1),
                    area: true,
                })
            },
        ),
        ("ioremap unaligned 2M, across a PTE table", |pt, _| {
            let va = pt
                .kernel()
                .edit(|e| e.ioremap(PhysAddr(0xfed0_0800), M2, CacheMode::WriteCombining))
                .0?;
            Ok(Made::Kernel {
                va: va.0 & !0xfff,
                size: M2 + PAGE_SIZE,
                pa: Some(0xfed0_0000),
                area: true,
            })
        }),
        ("preallocate 16 top-level slots", |pt, _| {
            // Counts the tables it allocated: fewer on a retry.
            pt.kernel()
                .edit(|e| e.preallocate(VirtAddr(fresh(pt, 8)), VirtAddr(fresh(pt, 24) - 1)))
                .0?;
            Ok(Made::Tables)
        }),
        ("alloc_track down to the PTE level", |pt, _| {
            let va = VirtAddr(fresh(pt, 6));
            let arch = *pt.arch();
            let mut k = pt.kernel();
            k.edit(|e| {
                let mut p = e.pgd_offset(va);
                let mut level = arch.top_level();
                while level != Level::Pte {
                    p = e.alloc_track(level, p, va)?;
                    level = harness::next_real(&arch, level).unwrap();
                }
                Ok(Made::Tables)
            })
            .0
        }),
        ("user map_range 4K across a 1G boundary", |pt, spaces| {
            let va = 0x7_0000_0000 + G1 - 4 * PAGE_SIZE;
            pt.user(&mut spaces[0]).unwrap().map_range(
                VirtAddr(va),
                PhysAddr(0x20_0000),
                8 * PAGE_SIZE,
                Prot::USER_RW,
                PageSize::Base,
            )?;
            Ok(Made::User {
                va,
                size: 8 * PAGE_SIZE,
                pa: Some(0x20_0000),
            })
        }),
        ("user map_range 2M and 1G leaves", |pt, spaces| {
            let va = 0x80_0000_0000 - M2;
            let size = G1 + 2 * M2;
            pt.user(&mut spaces[0]).unwrap().map_range(
                VirtAddr(va),
                PhysAddr(4 * G1 - M2),
                size,
                Prot::USER_RW,
                PageSize::Pud,
            )?;
            Ok(Made::User {
                va,
                size,
                pa: Some(4 * G1 - M2),
            })
        }),
        ("user map_pages in a new top-level slot", |pt, spaces| {
            let va = 0x300_0000_0000 + M2 - 2 * PAGE_SIZE;
            let frames: Vec<_> = (0..4)
                .map(|i| PhysAddr(0x90_0000 + i * PAGE_SIZE))
                .collect();
            pt.user(&mut spaces[0])
                .unwrap()
                .map_pages(VirtAddr(va), &frames, Prot::USER_RO)?;
            Ok(Made::User {
                va,
                size: 4 * PAGE_SIZE,
                pa: None,
            })
        }),
        ("pte_alloc_one", |pt, spaces| {
            let mut u = pt.user(&mut spaces[0]).unwrap();
            let t = u.pte_alloc_one()?;
            u.pte_free(t);
            Ok(Made::Tables)
        }),
    ]
}

/// The starting machine: kernel mappings of every leaf size and a vmap
/// area, three spaces with user mappings, one destroyed space.
fn setup(arch: X86_64) -> (Sim, Vec<AddressSpace>) {
    let pt = machine(arch);
    let mut spaces: Vec<_> = (0..3).map(|_| pt.create_space().unwrap()).collect();
    let gone = pt.create_space().unwrap();
    pt.destroy_space(gone).expect("own space").ignore();
    let v = vmalloc_start(arch).0;
    {
        let mut k = pt.kernel();
        let _ = k.edit(|e| {
            e.vmap(&[PhysAddr(0x5000), PhysAddr(0x6000)], Prot::KERNEL)
                .unwrap();
            e.vmap_range(
                VirtAddr(v + top_slot(arch) + 2 * M2),
                PhysAddr(M2),
                M2,
                Prot::KERNEL,
                PageSize::Pmd,
            )
            .unwrap();
            e.vmap_range(
                VirtAddr(v + 2 * top_slot(arch) + G1),
                PhysAddr(G1),
                G1,
                Prot::KERNEL,
                PageSize::Pud,
            )
            .unwrap();
        });
    }
    for (i, s) in spaces.iter_mut().enumerate() {
        pt.user(s)
            .unwrap()
            .map_range(
                VirtAddr(0x40_0000 + i as u64 * G1),
                PhysAddr(0x30_0000),
                3 * PAGE_SIZE,
                Prot::USER_RW,
                PageSize::Base,
            )
            .unwrap();
    }
    assert_consistent(&pt);
    (pt, spaces)
}

fn check_made(pt: &Sim, spaces: &[AddressSpace], made: &Made) -> Result<(), String> {
    let check = |roots: Vec<pgtable::PhysAddr>, va: u64, size: u64, pa: Option<u64>| {
        for root in roots {
            for off in [0, (size / 2) & !0xfff, size - PAGE_SIZE] {
                let m = pt
                    .translate(root, VirtAddr(va + off))
                    .ok_or(format!("{:#x} unmapped from root {root:?}", va + off))?;
                if let Some(pa) = pa {
                    let got = m.translate(VirtAddr(va + off));
                    if got != PhysAddr(pa + off) {
                        return Err(format!("{:#x} -> {got:?}, want {:#x}", va + off, pa + off));
                    }
                }
            }
        }
        Ok(())
    };
    match *made {
        Made::Kernel { va, size, pa, .. } => {
            let mut roots = pt.roots();
            roots.push(pt.kernel_root());
            check(roots, va, size, pa)
        }
        Made::User { va, size, pa } => check(vec![spaces[0].root()], va, size, pa),
        Made::Space | Made::Tables => Ok(()),
    }
}

fn undo(pt: &Sim, spaces: &mut Vec<AddressSpace>, made: &Made) {
    match *made {
        Made::Kernel { va, area: true, .. } => pt
            .kernel()
            .edit(|e| e.vunmap(VirtAddr(va)))
            .0
            .unwrap()
            .ignore(),
        Made::Kernel { va, size, .. } => pt
            .kernel()
            .edit(|e| e.vunmap_range(VirtAddr(va), size))
            .0
            .unwrap()
            .ignore(),
        Made::User { va, size, .. } => pt
            .user(&mut spaces[0])
            .unwrap()
            .unmap(VirtAddr(va), size)
            .unwrap()
            .ignore(),
        Made::Space => pt
            .destroy_space(spaces.pop().unwrap())
            .expect("own space")
            .ignore(),
        Made::Tables => {}
    }
}

fn teardown(pt: &Sim, spaces: Vec<AddressSpace>) -> Result<(), String> {
    for s in spaces {
        pt.destroy_space(s).expect("own space").ignore();
    }
    let reachable = harness::reachable_frames(pt);
    if pt.first_out_of_sync().is_some() || reachable != pt.mem().tables_in_use() {
        return Err(format!(
            "after teardown: out of sync {:?}, reachable {} vs in use {}",
            pt.first_out_of_sync(),
            reachable,
            pt.mem().tables_in_use()
        ));
    }
    Ok(())
}

struct Count {
    faults: usize,
    runs: usize,
}

/// Sweep one operation in one mode; returns the failure messages.
fn sweep(arch: X86_64, name: &str, op: Op, count: &mut Count) -> Vec<String> {
    let mut fails = Vec::new();
    let tag = |k: usize, how: &str| format!("{}: {name}: alloc #{k} failing ({how})", arch.name());
    // The result on a machine that never fails.
    let (pt, mut spaces) = setup(arch);
    let clean = op(&pt, &mut spaces).expect("the operation works without faults");
    if let Err(e) = check_made(&pt, &spaces, &clean) {
        fails.push(format!("{}: {name}: clean run: {e}", arch.name()));
    }
    for k in 0.. {
        let mut succeeded = 0;
        for once in [true, false] {
            let how = if once { "once" } else { "from then on" };
            let (pt, mut spaces) = setup(arch);
            let before = snapshot(&pt);
            if once {
                pt.mem().fail_once_at(k);
            } else {
                pt.mem().fail_from(k);
            }
            count.runs += 1;
            let r = op(&pt, &mut spaces);
            pt.mem().heal();
            let made = match r {
                Ok(made) => {
                    succeeded += 1;
                    made
                }
                Err(Error::OutOfMemory) => {
                    count.faults += 1;
                    let after = snapshot(&pt);
                    let mut bad = Vec::new();
                    if after.out_of_sync.is_some() {
                        bad.push(format!("out of sync {:?}", after.out_of_sync));
                    }
                    if after.reachable != after.tables_in_use {
                        bad.push(format!(
                            "leak: reachable {} vs in use {}",
                            after.reachable, after.tables_in_use
                        ));
                    }
                    if before.leaves != after.leaves {
                        let gone: Vec<_> =
                            before.leaves.difference(&after.leaves).take(3).collect();
                        let new: Vec<_> = after.leaves.difference(&before.leaves).take(3).collect();
                        bad.push(format!(
                            "leaves changed: lost {gone:x?}, left behind {new:x?}"
                        ));
                    }
                    if before.roots != after.roots {
                        bad.push("registered roots changed".into());
                    }
                    if !bad.is_empty() {
                        fails.push(format!("{}: {}", tag(k, how), bad.join("; ")));
                    }
                    // Retry, healed, on the same machine.
                    match op(&pt, &mut spaces) {
                        Ok(m) => m,
                        Err(e) => {
                            fails.push(format!("{}: retry failed with {e:?}", tag(k, how)));
                            continue;
                        }
                    }
                }
                Err(e) => {
                    fails.push(format!("{}: returned {e:?}, want OutOfMemory", tag(k, how)));
                    continue;
                }
            };
            if made != clean {
                fails.push(format!(
                    "{}: made {made:?}, a clean run made {clean:?}",
                    tag(k, how)
                ));
            }
            if let Err(e) = check_made(&pt, &spaces, &made) {
                fails.push(format!("{}: {e}", tag(k, how)));
            }
            undo(&pt, &mut spaces, &made);
            if let Err(e) = teardown(&pt, spaces) {
                fails.push(format!("{}: {e}", tag(k, how)));
            }
        }
        if succeeded == 2 {
            break;
        }
        assert!(k < 2000, "{name} never succeeds");
    }
    fails
}

#[test]
fn every_allocating_operation_survives_failure_at_every_allocation() {
    let mut count = Count { faults: 0, runs: 0 };
    let mut fails = Vec::new();
    for arch in MODES {
        for (name, op) in ops() {
            let before = count.faults;
            fails.extend(sweep(arch, name, op, &mut count));
            println!(
                "{}: {name}: {} faults injected",
                arch.name(),
                count.faults - before
            );
        }
    }
    println!(
        "allocation faults injected: {} (in {} runs)",
        count.faults, count.runs
    );
    assert!(
        fails.is_empty(),
        "{} problems:\n{}",
        fails.len(),
        fails.join("\n")
    );
}
