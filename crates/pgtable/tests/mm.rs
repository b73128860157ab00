//! The kernel's populating users (`pgtable::mm`) seen from outside: memory
//! hotplug with a table allocation failing at every point, then removal,
//! in both x86-64 paging modes, with the leak oracle's own walk
//! (`harness::reachable_frames`), never the library's count of its tables.
//!
//! A failed `arch_add_memory()` must return `OutOfMemory`, leave no leaf
//! of its own (direct map or memmap), give back every data frame, keep
//! every root in sync and leak no table frame. The healed call must map
//! the memory in every root; `arch_remove_memory()` must then give back
//! every data frame and every table below the top level, and a second
//! add/remove cycle must end with exactly as many tables.

mod common;

use common::{assert_consistent, machine, Sim, MODES};
use pgtable::arch::arm32::Arm32;
use pgtable::arch::arm64::Arm64;
use pgtable::arch::riscv64::Riscv64;
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::mm::{arch_add_memory, arch_remove_memory, FrameSource, SubPmdUse, Vmemmap};
use pgtable::mm::{
    kasan_populate_early_shadow, kernel_physical_mapping_init, kernel_physical_mapping_remove,
    pcpu_page_first_chunk, vmemmap_free, vmemmap_populate, vmemmap_populate_compound_pages,
    KasanEarlyShadow,
};
use pgtable::KernelPolicy;
use pgtable::{Arch, Error, PageTables, PhysAddr, SparseMemory, TableMemory, VirtAddr, X86_64};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

const SECTION: u64 = 128 << 20;

/// Data frames from a bump pointer, remembering what is out; at most
/// `budget` of them. A strict source fails the test when given back a frame
/// it did not hand out; the hostile sweep's is not strict, since it frees
/// whatever another call left mapped in its range.
struct Frames {
    next: u64,
    live: BTreeMap<u64, u64>,
    budget: usize,
    strict: bool,
}

impl FrameSource for Frames {
    type Error = Error;
    fn alloc(&mut self, size: u64) -> Result<PhysAddr, Error> {
        if self.budget == 0 {
            return Err(Error::OutOfMemory);
        }
        self.budget -= 1;
        let pa = self.next.next_multiple_of(size);
        self.next = pa + size;
        self.live.insert(pa, size);
        Ok(PhysAddr(pa))
    }
    fn free(&mut self, pa: PhysAddr, size: u64) {
        let was = self.live.remove(&pa.0);
        assert!(
            !self.strict || was == Some(size),
            "{pa:?} given back unasked"
        );
    }
}

/// Memory whose direct map needs a new top-level slot, and under 4-level
/// paging its memmap too (32 TiB: 512 GiB of `struct page`s).
fn new_slots(arch: X86_64) -> PhysAddr {
    PhysAddr(if arch == X86_64::FOUR_LEVEL {
        32 << 40
    } else {
        256 << 40
    })
}

fn region(arch: X86_64, kind: RegionKind) -> VirtAddr {
    VirtAddr(arch.layout().get(kind).unwrap().start)
}

fn vmemmap(arch: X86_64) -> Vmemmap {
    Vmemmap {
        base: region(arch, RegionKind::Vmemmap),
        struct_page: 64,
        section_size: SECTION,
    }
}

/// A machine with two other spaces and boot memory mapped.
fn booted(arch: X86_64) -> (Sim, Frames) {
    let pt = machine(arch);
    let mut frames = Frames {
        next: 1 << 40,
        live: BTreeMap::new(),
        budget: usize::MAX,
        strict: true,
    };
    let (r, _) = pt.kernel().edit(|e| {
        arch_add_memory(
            e,
            region(arch, RegionKind::DirectMap),
            &vmemmap(arch),
            PhysAddr(0),
            4 * SECTION,
            &mut frames,
        )
    });
    assert_eq!(r, Ok(SubPmdUse::default()));
    for _ in 0..2 {
        let _ = pt.create_space().unwrap();
    }
    (pt, frames)
}

#[test]
fn hotplug_survives_a_failed_table_allocation_at_every_point() {
    for arch in MODES {
        let (offset, vm) = (region(arch, RegionKind::DirectMap), vmemmap(arch));
        let pa = new_slots(arch);
        let (page, va) = (vm.page(pa).unwrap(), VirtAddr(offset.0 + pa.0));
        for k in 0.. {
            let (pt, mut frames) = booted(arch);
            let out = frames.live.len();
            pt.mem().fail_once_at(k);
            let (r, report) = pt
                .kernel()
                .edit(|e| arch_add_memory(e, offset, &vm, pa, SECTION, &mut frames));
            pt.mem().heal();
            assert!(report.check().is_ok());
            assert_consistent(&pt);
            let kroot = pt.kernel_root();
            if r.is_ok() {
                assert!(k > 0, "{arch:?}: the add allocated no table");
                assert!(report.synced(), "{arch:?}: {report:?}");
                for root in pt.roots() {
                    assert!(pt.translate(root, va).is_some(), "{arch:?}");
                    assert!(pt.translate(root, page).is_some(), "{arch:?}");
                }
                let before_remove = pt.mem().tables_in_use();
                let (r, _) = pt.kernel().edit(|e| {
                    arch_remove_memory(
                        e,
                        offset,
                        &vm,
                        pa,
                        SECTION,
                        &mut frames,
                        &mut |_: &pgtable::FlushRange| {},
                    )
                });
                let (memmap, direct) = r.unwrap();
                assert_eq!((memmap.unmapped, direct.unmapped), (2 << 20, SECTION));
                assert_eq!(frames.live.len(), out, "{arch:?}: data frames kept");
                assert!(pt.translate(kroot, va).is_none());
                assert!(pt.translate(kroot, page).is_none());
                assert!(pt.mem().tables_in_use() < before_remove);
                assert_consistent(&pt);
                let after = pt.mem().tables_in_use();
                let _ = pt
                    .kernel()
                    .edit(|e| arch_add_memory(e, offset, &vm, pa, SECTION, &mut frames));
                let _ = pt.kernel().edit(|e| {
                    arch_remove_memory(
                        e,
                        offset,
                        &vm,
                        pa,
                        SECTION,
                        &mut frames,
                        &mut |_: &pgtable::FlushRange| {},
                    )
                });
                assert_eq!(pt.mem().tables_in_use(), after, "{arch:?}: tables leaked");
                assert_eq!(frames.live.len(), out);
                assert_consistent(&pt);
                break;
            }
            assert_eq!(r, Err(Error::OutOfMemory), "{arch:?}, k = {k}");
            assert!(pt.translate(kroot, va).is_none(), "{arch:?}, k = {k}");
            assert!(pt.translate(kroot, page).is_none(), "{arch:?}, k = {k}");
            assert_eq!(
                frames.live.len(),
                out,
                "{arch:?}, k = {k}: data frames kept"
            );
        }
    }
}

/// The same call in the legacy edit populates the same entries and syncs
/// nothing: the old spaces see the memory only after `sync_global_pgds()`
/// (9b861528a801's machine: 4-level, new top-level slots for both).
#[test]
fn the_legacy_edit_runs_the_same_users_without_syncing() {
    for arch in [X86_64::FOUR_LEVEL] {
        let (pt, mut frames) = booted(arch);
        let (offset, vm) = (region(arch, RegionKind::DirectMap), vmemmap(arch));
        let pa = new_slots(arch);
        let (page, va) = (vm.page(pa).unwrap(), VirtAddr(offset.0 + pa.0));
        let old = pt.roots();
        let mut ks = pt.kernel();
        // SAFETY (of the contract): synced below before any access.
        let r = unsafe {
            ks.legacy_edit(|e| arch_add_memory(e, offset, &vm, pa, SECTION, &mut frames))
        };
        assert_eq!(r, Ok(SubPmdUse::default()));
        assert!(ks.translate(va).is_some() && ks.translate(page).is_some());
        let kroot = ks.root();
        for &root in old.iter().filter(|r| **r != kroot) {
            assert!(pt.translate(root, va).is_none(), "{arch:?}");
            assert!(pt.translate(root, page).is_none(), "{arch:?}");
        }
        for (s, size) in [(va, SECTION), (page, 2 << 20)] {
            ks.sync_global_pgds(s, VirtAddr(s.0 + size - 1)).unwrap();
        }
        drop(ks);
        for &root in &old {
            assert!(pt.translate(root, va).is_some(), "{arch:?}");
            assert!(pt.translate(root, page).is_some(), "{arch:?}");
        }
        assert_consistent(&pt);
    }
}

/// Hostile arguments to every `mm` call, on every paging mode: extreme
/// addresses, sizes, physical addresses, `struct page` sizes and compound
/// sizes. Run in debug by `cargo test`, so arithmetic overflow panics too;
/// the test lists every call that panicked. At the end no table may have
/// leaked.
#[test]
fn no_mm_call_panics_on_hostile_arguments() {
    let mut failures = Vec::new();
    hostile(X86_64::FOUR_LEVEL, &mut failures);
    hostile(X86_64::FIVE_LEVEL, &mut failures);
    hostile(X86_32::TWO_LEVEL, &mut failures);
    hostile(X86_32::PAE, &mut failures);
    hostile(Arm64::VA_48, &mut failures);
    hostile(Arm64::VA_39, &mut failures);
    hostile(Riscv64::SV39, &mut failures);
    hostile(Riscv64::SV57, &mut failures);
    hostile(Arm32::SHORT, &mut failures);
    assert!(
        failures.is_empty(),
        "{} panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn hostile<A: Arch>(arch: A, failures: &mut Vec<String>) {
    let name = arch.name();
    let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x0400_0000));
    let pt = PageTables::new(arch, mem).unwrap();
    let space = pt.create_space().unwrap();
    let ks = arch.kernel_start();
    let mut addrs = vec![
        0,
        0xfff,
        ks,
        ks + 0x1000,
        ks + 0x20_0800,
        !0xfff_u64,
        u64::MAX,
    ];
    addrs.extend(arch.layout().regions.iter().map(|r| r.start));
    let sizes = [
        0,
        1,
        0x1000,
        0x20_0000,
        0x800_0000,
        1 << 40,
        !0xfff_u64,
        u64::MAX,
    ];
    let lim = arch.phys_limit();
    let phys = [0, 0x1000, lim.wrapping_sub(0x1000), lim, u64::MAX];
    let mut frames = Frames {
        next: 1 << 30,
        live: BTreeMap::new(),
        budget: 0,
        strict: false,
    };
    let mut run = |what: String, f: &mut dyn FnMut(&mut Frames)| {
        frames.budget = 64;
        if catch_unwind(AssertUnwindSafe(|| f(&mut frames))).is_err() {
            failures.push(format!("{name}: {what}"));
        }
    };
    let (z, _) = pt
        .kernel()
        .edit(|e| KasanEarlyShadow::new(e, PhysAddr(0x1000)));
    let z = z.ok();
    for &va in &addrs {
        for &size in &sizes {
            let end = VirtAddr(va.wrapping_add(size));
            for &pa in &phys {
                run(format!("direct map {va:#x} {pa:#x} {size:#x}"), &mut |_| {
                    let _ = pt.kernel().edit(|e| {
                        kernel_physical_mapping_init(e, VirtAddr(va), PhysAddr(pa), size)
                    });
                    let _ = pt.kernel().edit(|e| {
                        kernel_physical_mapping_remove(
                            e,
                            VirtAddr(va),
                            PhysAddr(pa),
                            size,
                            &mut |_: &pgtable::FlushRange| {},
                        )
                    });
                });
            }
            for struct_page in [0, 64, 80, u64::MAX] {
                let vm = Vmemmap {
                    base: VirtAddr(va),
                    struct_page,
                    section_size: SECTION,
                };
                run(
                    format!("vmemmap {va:#x} {size:#x} {struct_page}"),
                    &mut |f| {
                        let _ = pt
                            .kernel()
                            .edit(|e| vmemmap_populate(e, &vm, VirtAddr(va), end, f));
                        let _ = pt.kernel().edit(|e| {
                            vmemmap_free(e, VirtAddr(va), end, f, &mut |_: &pgtable::FlushRange| {})
                        });
                    },
                );
                run(
                    format!("compound {va:#x} {size:#x} {struct_page}"),
                    &mut |f| {
                        let _ = pt.kernel().edit(|e| {
                            vmemmap_populate_compound_pages(e, VirtAddr(va), end, struct_page, f)
                        });
                        let _ = pt.kernel().edit(|e| {
                            vmemmap_free(e, VirtAddr(va), end, f, &mut |_: &pgtable::FlushRange| {})
                        });
                    },
                );
            }
            if let Some(z) = &z {
                run(format!("kasan {va:#x} {size:#x}"), &mut |_| {
                    let _ = pt
                        .kernel()
                        .edit(|e| kasan_populate_early_shadow(e, z, VirtAddr(va), end));
                });
            }
        }
        let pages: Vec<PhysAddr> = phys.iter().map(|&p| PhysAddr(p)).collect();
        run(format!("percpu {va:#x}"), &mut |_| {
            let _ = pt
                .kernel()
                .edit(|e| pcpu_page_first_chunk(e, VirtAddr(va), &pages));
        });
    }
    // The shared zero tables are never freed (Linux's are static arrays);
    // those no call managed to link are in use and unreachable.
    let (tables, frames) = common::harness::reachable(&pt);
    let unlinked: std::collections::BTreeSet<u64> = z.as_ref().map_or(Default::default(), |z| {
        pgtable::Level::ALL
            .into_iter()
            .filter_map(|l| z.table_below(l))
            .filter(|t| !tables.contains(&t.frame().0))
            .map(|t| t.frame().0 & !0xfff)
            .filter(|page| !frames.contains(page))
            .collect()
    });
    let reachable = frames.len() + unlinked.len();
    if reachable != pt.mem().tables_in_use() {
        failures.push(format!("{name}: table frames leaked or lost"));
    }
    pt.destroy_space(space).unwrap().ignore();
}
