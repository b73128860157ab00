//! A fuzz-like harness on stable: proptest generates lists of operations
//! (create/destroy space, kernel vmap_range/vmap_pages/vunmap_range/vmap/
//! vunmap/ioremap, user map_range/map_pages/unmap) with arguments drawn
//! from plausible values and from hostile ones (any u64, the edges of the
//! halves, sizes that wrap, absurd leaf shifts), and runs them on one
//! machine, in both paging modes.
//!
//! Checked after every operation: nothing panicked; no root is out of sync;
//! no table frame leaked (`harness::reachable_frames() == tables_in_use()`); every
//! kernel range a call mapped (and nothing since unmapped) translates the
//! same from every space as from the kernel root, to the physical address
//! it was given; every user range still translates in its space. Checked at
//! the end: with every space destroyed and every kernel leaf unmapped, no
//! leaf is left and the frames balance.
//!
//! Cases: `PROPTEST_CASES` (default 48 per mode). Failures are persisted
//! beside this file in `fuzz_ops.proptest-regressions` and re-run first.

mod common;
use common::harness;
use pgtable::PageSize;
use pgtable::{KernelPolicy, PagingGeometry};

use common::*;
use pgtable::{
    AddressSpace, CacheMode, PhysAddr, Prot, TableMemory, TlbFlush, VirtAddr, PAGE_SIZE, X86_64,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Operations run, and how many of them succeeded (mapped, unmapped,
/// created or destroyed something).
static RAN: AtomicUsize = AtomicUsize::new(0);
static SUCCEEDED: AtomicUsize = AtomicUsize::new(0);

const M2: u64 = 1 << 21;
/// The first byte of the last page of the 64-bit space.
const LAST_PAGE: u64 = !0xfff;
const G1: u64 = 1 << 30;

/// A virtual address: structured (which region, which top-level slot,
/// which offset) or raw.
#[derive(Clone, Debug)]
enum Va {
    /// vmalloc start + slot * PGDIR_SIZE + off.
    Kernel {
        slot: u8,
        off: u64,
    },
    /// A user address.
    User {
        off: u64,
    },
    /// An edge: 0, user_end - page, user_end, kernel_start - page,
    /// kernel_start, the last page, u64::MAX, 1 << 63.
    Edge(u8),
    Raw(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Create,
    Destroy(usize),
    VmapRange {
        va: Va,
        size: u64,
        pa: u64,
        shift: PageSize,
    },
    VmapPages {
        va: Va,
        frames: Vec<u64>,
    },
    VunmapRange {
        va: Va,
        size: u64,
    },
    Vmap {
        frames: Vec<u64>,
    },
    /// Unmap the n-th area vmap/ioremap returned, or a raw address.
    Vunmap {
        pick: usize,
        raw: Option<u64>,
    },
    Ioremap {
        pa: u64,
        size: u64,
        cache: u8,
    },
    UMap {
        space: usize,
        va: Va,
        size: u64,
        pa: u64,
        shift: PageSize,
    },
    UMapPages {
        space: usize,
        va: Va,
        frames: Vec<u64>,
    },
    UUnmap {
        space: usize,
        va: Va,
        size: u64,
    },
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..64).prop_map(|p| p * PAGE_SIZE),
        (0u64..8).prop_map(|p| p * M2),
        (0u64..4, 0u64..4).prop_map(|(g, p)| g * G1 + p * M2),
        (0u64..3).prop_map(|g| g * G1 + G1 - 4 * PAGE_SIZE),
        (0u64..0x2000).prop_map(|b| b * 8), // misaligned too
    ]
}

fn va() -> impl Strategy<Value = Va> {
    prop_oneof![
        6 => (0u8..6, offset()).prop_map(|(slot, off)| Va::Kernel { slot, off }),
        4 => offset().prop_map(|off| Va::User { off }),
        1 => (0u8..8).prop_map(Va::Edge),
        1 => any::<u64>().prop_map(Va::Raw),
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (1u64..16).prop_map(|p| p * PAGE_SIZE),
        3 => (1u64..3).prop_map(|p| p * M2),
        1 => Just(M2 + 2 * PAGE_SIZE),
        1 => prop_oneof![
            Just(0u64),
            Just(1),
            Just(0x800),
            Just(u64::MAX),
            Just(LAST_PAGE),
            Just(1u64 << 63),
            any::<u64>(),
        ],
    ]
}

fn pa() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => (0u64..64).prop_map(|p| 0x100_0000 + p * M2),
        2 => (0u64..256).prop_map(|p| 0x4000_0000 + p * PAGE_SIZE),
        1 => (0u64..4).prop_map(|g| g * G1),
        1 => prop_oneof![
            Just(1u64 << 52),
            Just((1u64 << 52) - PAGE_SIZE),
            Just(LAST_PAGE),
            Just(0x1001),
            any::<u64>(),
        ],
    ]
}

/// The largest leaf a map may use; absurd shifts are no longer expressible
/// (`PageSize`).
fn shift() -> impl Strategy<Value = PageSize> {
    prop_oneof![
        Just(PageSize::Base),
        Just(PageSize::Pmd),
        Just(PageSize::Pud)
    ]
}

fn frames() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(pa(), 0..12)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Create),
        2 => (0usize..8).prop_map(Op::Destroy),
        6 => (va(), size(), pa(), shift())
            .prop_map(|(va, size, pa, shift)| Op::VmapRange { va, size, pa, shift }),
        2 => (va(), frames()).prop_map(|(va, frames)| Op::VmapPages { va, frames }),
        4 => (va(), size()).prop_map(|(va, size)| Op::VunmapRange { va, size }),
        2 => frames().prop_map(|frames| Op::Vmap { frames }),
        2 => (0usize..8, prop::option::weighted(0.2, any::<u64>()))
            .prop_map(|(pick, raw)| Op::Vunmap { pick, raw }),
        2 => (
            prop_oneof![pa(), (0u64..0x1000).prop_map(|o| 0xfed0_0000 + o)],
            prop_oneof![4 => 1u64..0x5000, 1 => size()],
            0u8..4,
        )
            .prop_map(|(pa, size, cache)| Op::Ioremap { pa, size, cache }),
        4 => (0usize..8, va(), size(), pa(), shift())
            .prop_map(|(space, va, size, pa, shift)| Op::UMap { space, va, size, pa, shift }),
        2 => (0usize..8, va(), frames())
            .prop_map(|(space, va, frames)| Op::UMapPages { space, va, frames }),
        3 => (0usize..8, va(), size()).prop_map(|(space, va, size)| Op::UUnmap { space, va, size }),
    ]
}

fn resolve(arch: X86_64, va: &Va) -> u64 {
    let slot = arch.level_size(arch.top_level());
    match *va {
        Va::Kernel { slot: s, off } => vmalloc_start(arch).0 + u64::from(s) * slot + off,
        Va::User { off } => 0x10_0000_0000 + off,
        Va::Edge(e) => match e {
            0 => 0,
            1 => arch.user_end() - PAGE_SIZE,
            2 => arch.user_end(),
            3 => arch.kernel_start() - PAGE_SIZE,
            4 => arch.kernel_start(),
            5 => LAST_PAGE,
            6 => u64::MAX,
            _ => 1 << 63,
        },
        Va::Raw(v) => v,
    }
}

/// A range some call mapped: (va, size, where page i should go).
#[derive(Clone, Debug)]
struct Mapped {
    va: u64,
    size: u64,
    /// Contiguous from this pa, or one frame per page.
    pa: Result<u64, Vec<u64>>,
}

impl Mapped {
    fn pa_of(&self, off: u64) -> PhysAddr {
        match &self.pa {
            Ok(pa) => PhysAddr(pa + off),
            Err(frames) => PhysAddr(frames[(off / PAGE_SIZE) as usize]),
        }
    }
    fn overlaps(&self, va: u64, size: u64) -> bool {
        let (a, b) = (
            u128::from(self.va),
            u128::from(self.va) + u128::from(self.size),
        );
        let (c, d) = (u128::from(va), u128::from(va) + u128::from(size));
        a < d && c < b
    }
}

struct World {
    pt: Sim,
    spaces: Vec<(AddressSpace, Vec<Mapped>)>,
    kernel: Vec<Mapped>,
    areas: Vec<u64>,
    last_ok: bool,
}

impl World {
    fn check(&self, after: &Op) -> Result<(), TestCaseError> {
        let pt = &self.pt;
        prop_assert_eq!(pt.first_out_of_sync(), None, "after {:?}", after);
        prop_assert_eq!(
            harness::reachable_frames(pt),
            pt.mem().tables_in_use(),
            "frames leaked after {:?}",
            after
        );
        for m in &self.kernel {
            for off in [0, (m.size / 2) & !0xfff, m.size - PAGE_SIZE] {
                let va = VirtAddr(m.va + off);
                let want = m.pa_of(off);
                let k = pt.translate(pt.kernel_root(), va);
                prop_assert_eq!(
                    k.map(|k| k.translate(va)),
                    Some(want),
                    "kernel range {:x?} at +{:#x} after {:?}",
                    m,
                    off,
                    after
                );
                for (s, _) in &self.spaces {
                    prop_assert_eq!(
                        pt.translate(s.root(), va),
                        k,
                        "space {:?} after {:?}",
                        s,
                        after
                    );
                }
            }
        }
        for (s, maps) in &self.spaces {
            for m in maps {
                for off in [0, m.size - PAGE_SIZE] {
                    let va = VirtAddr(m.va + off);
                    let got = pt.translate(s.root(), va).map(|g| g.translate(va));
                    prop_assert_eq!(got, Some(m.pa_of(off)), "user {:x?} after {:?}", m, after);
                }
            }
        }
        Ok(())
    }

    /// Run `op`; whether it succeeded.
    fn apply(&mut self, op: &Op) -> bool {
        self.last_ok = false;
        let pt = &self.pt;
        let arch = *pt.arch();
        let frames_of = |f: &[u64]| f.iter().map(|&p| PhysAddr(p)).collect::<Vec<_>>();
        match op {
            Op::Create => {
                if let Ok(s) = pt.create_space() {
                    self.last_ok = true;
                    self.spaces.push((s, Vec::new()));
                }
            }
            Op::Destroy(i) => {
                if !self.spaces.is_empty() {
                    self.last_ok = true;
                    let (s, _) = self.spaces.remove(i % self.spaces.len());
                    pt.destroy_space(s).expect("own space").ignore();
                }
            }
            Op::VmapRange {
                va,
                size,
                pa,
                shift,
            } => {
                let v = resolve(arch, va);
                let r = pt
                    .kernel()
                    .edit(|e| e.vmap_range(VirtAddr(v), PhysAddr(*pa), *size, Prot::KERNEL, *shift))
                    .0;
                if r.is_ok() {
                    self.last_ok = true;
                    self.kernel.push(Mapped {
                        va: v,
                        size: *size,
                        pa: Ok(*pa),
                    });
                }
            }
            Op::VmapPages { va, frames } => {
                let v = resolve(arch, va);
                let r = pt
                    .kernel()
                    .edit(|e| e.vmap_pages(VirtAddr(v), &frames_of(frames), Prot::KERNEL))
                    .0;
                if r.is_ok() {
                    self.last_ok = true;
                    let size = frames.len() as u64 * PAGE_SIZE;
                    self.kernel.push(Mapped {
                        va: v,
                        size,
                        pa: Err(frames.clone()),
                    });
                }
            }
            Op::VunmapRange { va, size } => {
                let v = resolve(arch, va);
                if pt
                    .kernel()
                    .edit(|e| e.vunmap_range(VirtAddr(v), *size))
                    .0
                    .is_ok()
                {
                    self.last_ok = true;
                    self.kernel.retain(|m| !m.overlaps(v, *size));
                    // An area whose pages went this way can no longer be
                    // vunmap()ed whole; forget it.
                    self.areas
                        .retain(|&a| !(a < v.wrapping_add(*size) && v <= a));
                }
            }
            Op::Vmap { frames } => {
                if let Ok(v) = pt
                    .kernel()
                    .edit(|e| e.vmap(&frames_of(frames), Prot::KERNEL))
                    .0
                {
                    self.last_ok = true;
                    let size = frames.len() as u64 * PAGE_SIZE;
                    self.kernel.push(Mapped {
                        va: v.0,
                        size,
                        pa: Err(frames.clone()),
                    });
                    self.areas.push(v.0);
                }
            }
            Op::Vunmap { pick, raw } => {
                let v = match (raw, self.areas.is_empty()) {
                    (Some(r), _) => *r,
                    (None, false) => self.areas[pick % self.areas.len()],
                    (None, true) => return false,
                };
                let base = v & !0xfff;
                if pt.kernel().edit(|e| e.vunmap(VirtAddr(v))).0.is_ok() {
                    self.last_ok = true;
                    self.kernel.retain(|m| m.va != base);
                    self.areas.retain(|&a| a != base);
                }
            }
            Op::Ioremap { pa, size, cache } => {
                let cache = [
                    CacheMode::WriteBack,
                    CacheMode::WriteCombining,
                    CacheMode::WriteThrough,
                    CacheMode::Uncached,
                ][*cache as usize % 4];
                if let Ok(v) = pt
                    .kernel()
                    .edit(|e| e.ioremap(PhysAddr(*pa), *size, cache))
                    .0
                {
                    self.last_ok = true;
                    let base = v.0 & !0xfff;
                    let pbase = pa & !0xfff;
                    let len = ((pa + size - 1) | 0xfff) - pbase + 1;
                    self.kernel.push(Mapped {
                        va: base,
                        size: len,
                        pa: Ok(pbase),
                    });
                    self.areas.push(base);
                }
            }
            Op::UMap {
                space,
                va,
                size,
                pa,
                shift,
            } => {
                if self.spaces.is_empty() {
                    return false;
                }
                let n = self.spaces.len();
                let (s, maps) = &mut self.spaces[space % n];
                let v = resolve(arch, va);
                if pt
                    .user(s)
                    .unwrap()
                    .map_range(VirtAddr(v), PhysAddr(*pa), *size, Prot::USER_RW, *shift)
                    .is_ok()
                {
                    self.last_ok = true;
                    maps.push(Mapped {
                        va: v,
                        size: *size,
                        pa: Ok(*pa),
                    });
                }
            }
            Op::UMapPages { space, va, frames } => {
                if self.spaces.is_empty() {
                    return false;
                }
                let n = self.spaces.len();
                let (s, maps) = &mut self.spaces[space % n];
                let v = resolve(arch, va);
                if pt
                    .user(s)
                    .unwrap()
                    .map_pages(VirtAddr(v), &frames_of(frames), Prot::USER_RO)
                    .is_ok()
                {
                    self.last_ok = true;
                    let size = frames.len() as u64 * PAGE_SIZE;
                    maps.push(Mapped {
                        va: v,
                        size,
                        pa: Err(frames.clone()),
                    });
                }
            }
            Op::UUnmap { space, va, size } => {
                if self.spaces.is_empty() {
                    return false;
                }
                let n = self.spaces.len();
                let (s, maps) = &mut self.spaces[space % n];
                let v = resolve(arch, va);
                if pt.user(s).unwrap().unmap(VirtAddr(v), *size).is_ok() {
                    self.last_ok = true;
                    maps.retain(|m| !m.overlaps(v, *size));
                }
            }
        }
        self.last_ok
    }

    /// Destroy every space, unmap every kernel leaf, check the frames.
    fn teardown(self) -> Result<(), TestCaseError> {
        let pt = self.pt;
        for (s, _) in self.spaces {
            pt.destroy_space(s).expect("own space").ignore();
        }
        let snap = harness::snapshot(&pt);
        {
            let mut k = pt.kernel();
            k.edit(|e| {
                for &(_, va, level, _) in &snap.leaves {
                    let size = pt.arch().level_size(level);
                    prop_assert_eq!(
                        e.vunmap_range(VirtAddr(va), size).map(TlbFlush::ignore),
                        Ok(()),
                        "unmapping leaf {:#x}",
                        va
                    );
                }
                Ok(())
            })
            .0?;
        }
        let snap = harness::snapshot(&pt);
        prop_assert!(snap.leaves.is_empty(), "leaves left: {:x?}", snap.leaves);
        prop_assert_eq!(pt.space_count(), 0);
        prop_assert_eq!(pt.first_out_of_sync(), None);
        prop_assert_eq!(
            snap.reachable,
            snap.tables_in_use,
            "frames leaked at the end"
        );
        Ok(())
    }
}

fn run(arch: X86_64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut w = World {
        pt: machine(arch),
        spaces: Vec::new(),
        kernel: Vec::new(),
        areas: Vec::new(),
        last_ok: false,
    };
    for op in ops {
        let ok = w.apply(op);
        RAN.fetch_add(1, Ordering::Relaxed);
        if ok {
            SUCCEEDED.fetch_add(1, Ordering::Relaxed);
        }
        w.check(op)?;
    }
    w.teardown()
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

#[test]
fn random_operation_lists_keep_every_invariant() {
    let t0 = std::time::Instant::now();
    let cfg = config();
    let cases = cfg.cases;
    for arch in MODES {
        let mut runner = TestRunner::new(Config {
            source_file: Some(file!()),
            ..cfg.clone()
        });
        let r = runner.run(&prop::collection::vec(op(), 1..50), |ops| run(arch, &ops));
        if let Err(e) = r {
            panic!("{}: {e}", arch.name());
        }
    }
    println!(
        "{cases} cases x 2 modes, {} operations ({} changed the tables) in {:?}",
        RAN.load(Ordering::Relaxed),
        SUCCEEDED.load(Ordering::Relaxed),
        t0.elapsed()
    );
}
