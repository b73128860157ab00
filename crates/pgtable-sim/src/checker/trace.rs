//! Translations through the kernel's roots, with the reads their walk made
//! of the kernel's root tables, and the test that another space's walk of
//! the same address reads the same there.
//!
//! Why the test is enough: a page walk reads its root table at an offset
//! that depends on the address alone (the root plus the address's index
//! times the entry size), and every later read at an address taken from
//! the entries read before. So if a space's root tables hold, at the
//! offsets where the kernel's walk read its root tables, the values it
//! read there, the space's walk reads the same values, takes the same
//! path and gives the same result (or fault). A read that falls in a root
//! table's span without being a root read (a lower table that lies there)
//! is compared too: if it matches the walk is the same; if not, the caller
//! walks the space's tables for real. The test never decides "different":
//! a mismatch only means "walk it".

use crate::bus::PageBus;
use crate::machine::Machine;
use pgtable::PagingGeometry;
use pgtable::{Level, PhysAddr};
use pgtable_mmu::{Access, Fault, Mmu, Mode, PhysBus, Roots, Xlat};
use std::cell::{Cell, RefCell};

/// One read a walk made inside one of its root tables' spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RootRead {
    /// `true`: from the upper-half root (TTBR1), else from the single or
    /// lower-half one.
    upper: bool,
    /// Offset from that root's address (wrapping: a span starts at its
    /// page, which may lie before a 32-byte PAE root).
    off: u64,
    /// The 8 bytes read.
    pub value: u64,
}

impl RootRead {
    /// Whether `other` was read at the same offset of the same root.
    pub(crate) fn same_place(&self, other: &RootRead) -> bool {
        (self.upper, self.off) == (other.upper, other.off)
    }
}

/// What a walk read of its root tables, in order.
pub(crate) type RootReads = Vec<RootRead>;

/// The span a walk's reads of `root` are looked for in: the page the
/// root table starts in, or the table if longer (arm32's 16 KiB). Too
/// large a span only costs walks (see the module docs); it must not be too
/// small, or a root read would go uncompared. The root is indexed by
/// [`Level::Pgd`]'s bits even where the levels below it fold (arm32's top
/// level is its PMD, its root the 4096-entry first-level table).
pub(crate) fn span(m: &Machine, root: u64) -> (u64, u64, u64) {
    let bytes = m.arch.table_bytes(Level::Pgd).max(1);
    let start = root & !0xfff;
    (
        root,
        start,
        (root.saturating_add(bytes)).max(start + 0x1000),
    )
}

/// The physical bus, noting the reads that fall in the root spans.
struct Tracing<'a> {
    bus: PageBus<'a>,
    /// (root, span start, span end) of the lower/only and upper roots.
    spans: [Option<(u64, u64, u64)>; 2],
    reads: RefCell<RootReads>,
    /// The first read outside the spans: (address, value).
    next: Cell<Option<(u64, u64)>>,
}

impl PhysBus for Tracing<'_> {
    fn read_u64(&self, pa: u64) -> u64 {
        let value = self.bus.read_u64(pa);
        for (i, s) in self.spans.iter().enumerate() {
            if let Some((root, start, end)) = *s {
                if (start..end).contains(&pa) {
                    self.reads.borrow_mut().push(RootRead {
                        upper: i == 1,
                        off: pa.wrapping_sub(root),
                        value,
                    });
                    return value;
                }
            }
        }
        if self.next.get().is_none() {
            self.next.set(Some((pa, value)));
        }
        value
    }
    fn write_u64(&self, pa: u64, value: u64) {
        self.bus.write_u64(pa, value)
    }
}

/// A traced walk: its result, what it read of the root tables, and its
/// first read past them (address, value), if any.
pub(crate) struct Traced {
    pub result: Result<Xlat, Fault>,
    pub reads: RootReads,
    pub next: Option<(u64, u64)>,
}

/// Translate `va` through `roots` (a supervisor read, as the checker
/// always asks), noting what the walk read of the root tables.
pub(crate) fn traced(m: &Machine, mmu: &dyn Mmu, roots: &Roots, va: u64) -> Traced {
    let bus = Tracing {
        bus: PageBus::new(m.pt.mem()),
        spans: [Some(span(m, roots.user)), roots.kernel.map(|k| span(m, k))],
        reads: RefCell::new(Vec::new()),
        next: Cell::new(None),
    };
    let result = mmu.translate_any(&bus, roots, va, Access::Read, Mode::Supervisor);
    Traced {
        result,
        reads: bus.reads.into_inner(),
        next: bus.next.get(),
    }
}

/// Translate `va` through `roots`, untraced.
pub(crate) fn translate(m: &Machine, mmu: &dyn Mmu, roots: &Roots, va: u64) -> Result<Xlat, Fault> {
    mmu.translate_any(
        &PageBus::new(m.pt.mem()),
        roots,
        va,
        Access::Read,
        Mode::Supervisor,
    )
}

/// Whether `roots`' tables hold, at the offsets in `reads`, the values
/// read there: then a walk through `roots` goes as the traced one did.
pub(crate) fn reads_same(m: &Machine, roots: &Roots, reads: &RootReads) -> bool {
    let mem = m.pt.mem();
    reads.iter().all(|r| {
        let base = if r.upper {
            roots.kernel
        } else {
            Some(roots.user)
        };
        base.is_some_and(|b| mem.read_u64(PhysAddr(b.wrapping_add(r.off))) == r.value)
    })
}

/// Whether the first root entry the kernel's walk read is zero in
/// `roots`' tables: a walk through them stops there, with a fault (a zero
/// entry is invalid in every mode), as under the lazy strategy before the
/// entry is copied on the first fault.
pub(crate) fn first_read_zero(m: &Machine, roots: &Roots, reads: &RootReads) -> bool {
    reads.first().is_some_and(|r| {
        let base = if r.upper {
            roots.kernel
        } else {
            Some(roots.user)
        };
        base.is_some_and(|b| m.pt.mem().read_u64(PhysAddr(b.wrapping_add(r.off))) == 0)
    })
}

/// Where each space copies the table below a root entry (x86-32 PAE with
/// per-process kernel PMDs), its root entry differs from the kernel's and
/// [`reads_same`] fails. `walked` is a walk through `roots` that read one
/// root entry, `own` (the kernel's walk of the same address read `kernel`
/// at the same offset, and nothing else of the root tables), then
/// `walked.next` where the kernel's walk read `kernel_next`. The distance
/// `d` between those two reads is where the space's copy lies from the
/// kernel's table, as the MMU itself found it. If `own` is the kernel's
/// entry moved by `d` (its address in place, every other bit the same, as
/// a PDPTE holds it), then a walk through `roots` of any address whose
/// kernel walk read `kernel` first reads `own`, then the kernel walk's next
/// address plus `d`. This returns that `d`, to compare those reads with.
pub(crate) fn copy_distance(
    own: u64,
    kernel: u64,
    walked_next: Option<(u64, u64)>,
    kernel_next: Option<(u64, u64)>,
) -> Option<u64> {
    let (Some((a, _)), Some((k, _))) = (walked_next, kernel_next) else {
        return None;
    };
    let d = a.wrapping_sub(k);
    (d & 0xfff == 0 && own == kernel.wrapping_add(d)).then_some(d)
}

/// The physical bus, noting every address read.
struct Recording<'a> {
    bus: PageBus<'a>,
    reads: RefCell<Vec<u64>>,
}

impl PhysBus for Recording<'_> {
    fn read_u64(&self, pa: u64) -> u64 {
        self.reads.borrow_mut().push(pa);
        self.bus.read_u64(pa)
    }
    fn write_u64(&self, pa: u64, value: u64) {
        self.bus.write_u64(pa, value)
    }
}

/// Whether the MMU's walk of `va` through `roots` reads the entry at
/// `entry`, next reads inside `table` (it takes that entry as pointing at
/// that table) and faults (the table holds nothing there).
pub(crate) fn walk_enters(
    m: &Machine,
    mmu: &dyn Mmu,
    roots: &Roots,
    va: u64,
    entry: u64,
    table: std::ops::Range<u64>,
) -> bool {
    let bus = Recording {
        bus: PageBus::new(m.pt.mem()),
        reads: RefCell::new(Vec::new()),
    };
    // The table is all zero: the walk must fault in it.
    let faulted = mmu
        .translate_any(&bus, roots, va, Access::Read, Mode::Supervisor)
        .is_err();
    let reads = bus.reads.into_inner();
    // 4-byte entries are read as the quadword holding them.
    faulted
        && reads
            .windows(2)
            .any(|w| w[0] == entry & !7 && table.contains(&w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{machine, Config};
    use crate::{Context, SimArch};
    use pgtable::{EntryFormat, KernelPolicy};

    /// In every mode a kernel walk's root reads are noted (none escapes
    /// the span), a process's walk matches them (but for per-process copies
    /// below the top), and once the process's
    /// entry there is changed the test says "walk it" and the walk indeed
    /// differs. Split roots read the kernel's own root for the kernel half.
    #[test]
    fn root_reads_are_noted_and_a_changed_entry_is_not_taken_as_the_same() {
        for arch in SimArch::all() {
            let m = machine(&Config {
                arch,
                spaces: 2,
                ..Config::default()
            })
            .unwrap();
            let mmu = m.arch.mmu();
            let (va, _, _) = m.mapped_ranges()[0];
            let kroots = m.roots_for(m.pt.kernel_root().0);
            let Traced { result, reads, .. } = traced(&m, &*mmu, &kroots, va);
            let want = result.unwrap();
            let root = m.root_of(Context::Process(0)).unwrap();
            let roots = m.roots_for(root.0);
            assert!(!reads.is_empty(), "{}: no root read noted", arch.name());
            // Where each process has its own copy of the table below the
            // top, its entry points elsewhere: walked, not matched.
            let copies = super::super::Checker::copied_level(&m).is_some();
            assert_eq!(reads_same(&m, &roots, &reads), !copies, "{}", arch.name());
            assert_eq!(translate(&m, &*mmu, &roots, va), Ok(want));
            if m.arch.split_roots() {
                assert!(reads.iter().all(|r| r.upper), "{}", arch.name());
                continue;
            }
            let first = reads[0];
            let pa = PhysAddr(root.0.wrapping_add(first.off));
            m.pt.mem().write_u64(pa, 0);
            assert!(!reads_same(&m, &roots, &reads), "{}", arch.name());
            assert!(
                translate(&m, &*mmu, &roots, va).is_err(),
                "{}: the process's walk should fault",
                arch.name()
            );
        }
    }

    /// The guard that lets the audit skip an empty table: the walk must
    /// read the entry, go into that very table, and fault.
    #[test]
    fn walk_enters_only_the_table_the_mmu_goes_into() {
        use crate::Variant;
        use pgtable::arch::riscv64::Riscv64;
        use pgtable::Decoded;
        let m = machine(&Config {
            arch: SimArch::Riscv64(Riscv64::SV48),
            spaces: 1,
            ..Config::default()
        })
        .unwrap();
        let mmu = m.arch.mmu();
        let kroot = m.pt.kernel_root().0;
        let kroots = m.roots_for(kroot);
        let top = m.arch.top_level();
        let slot_va = |s: usize| {
            let first = m.arch.kernel_top_slots().start;
            m.arch.kernel_start() + ((s - first) as u64) * m.arch.level_size(top)
        };
        let table_of = |s: usize| {
            let e = m.pt.mem().read_u64(PhysAddr(kroot + 8 * s as u64));
            match m.arch.decode(top, e) {
                Decoded::Table(t) => Some(t.0),
                _ => None,
            }
        };
        let empty = m
            .arch
            .kernel_top_slots()
            .find(|&s| {
                table_of(s).is_some_and(|t| {
                    (0..512).all(|i| m.pt.mem().read_u64(PhysAddr(t + 8 * i)) == 0)
                })
            })
            .unwrap();
        let (t, entry) = (table_of(empty).unwrap(), kroot + 8 * empty as u64);
        let va = slot_va(empty);
        assert!(walk_enters(&m, &*mmu, &kroots, va, entry, t..t + 4096));
        assert!(!walk_enters(
            &m,
            &*mmu,
            &kroots,
            va,
            entry,
            t + 4096..t + 8192
        ));
        assert!(!walk_enters(&m, &*mmu, &kroots, va, entry + 8, t..t + 4096));
        // A mapped address: the walk succeeds, so nothing is skipped.
        let va = m.kernel().vmalloc(Variant::New, 1).unwrap();
        let s = m
            .arch
            .kernel_top_slots()
            .rfind(|&s| slot_va(s) <= va)
            .unwrap();
        let t = table_of(s).unwrap();
        let entry = kroot + 8 * s as u64;
        assert!(!walk_enters(&m, &*mmu, &kroots, va, entry, t..t + 4096));
    }
}
