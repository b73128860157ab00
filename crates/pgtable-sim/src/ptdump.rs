//! ptdump: the page tables of one root in the format of Linux's debugfs
//! `page_tables` files (`arch/x86/mm/dump_pagetables.c`).
//!
//! The leaves come from the software MMU's enumeration
//! ([`X86Mmu::for_each_mapping`]), never from the library's walk, so the dump
//! shows what the hardware would see through that root.
//!
//! What is printed, as Linux does:
//! - a line per run of consecutive leaves of the same level with the same
//!   printed attributes (`USR`, `RW`/`ro`, `PWT`, `PCD`, `PSE`, `PAT`, `GLB`,
//!   `NX`/`x`): `0xSTART-0xEND   SIZE attributes level`, taken from the leaf
//!   entry itself (Linux prints the leaf's bits, not the rights accumulated
//!   along the path; both are in [`PtdumpItem::Range`]);
//! - section headers (`---[ Direct map ]---`) where a region of the kernel
//!   memory map starts, with the direct map and vmemmap at the simulated
//!   machine's KASLR bases; a line never crosses a header.
//!
//! Where this differs from Linux, on purpose:
//! - Holes. The MMU enumeration skips non-present subtrees without
//!   reporting them, so a gap between two leaves is printed as Linux prints
//!   it when no *empty* table lies in the gap: one non-present line per
//!   level on the way up (the rest of the pte table, of the pmd table, ...),
//!   whole entries of the largest level, then down again. Where an empty
//!   table remains (all its entries cleared but the table not freed), Linux
//!   would print that part at the lower level; here it is shown as if the
//!   entry pointing to it were empty.
//! - The non-canonical gap between the user and kernel halves is not a
//!   range of any table and is not printed (Linux folds it into the last
//!   user-space hole).
//! - Lines that Linux splits only because the accessed or dirty bits differ
//!   are merged, since those bits are not printed.
//! - Each top-level kernel slot whose entry in the dumped root differs from
//!   init_mm's is marked with a `---[ slot N OUT OF SYNC ... ]---` line at
//!   its start, and lines break at both ends of such a slot.
//!
//! An `end` of 0 means the top of the address space (the range is
//! half-open), as in [`pgtable::arch::Region::range`].

use crate::bus::Bus;
use crate::machine::Machine;
use pgtable::arch::RegionKind;
use pgtable::{Arch, PhysAddr, TableMemory};
use pgtable_mmu::x86_64::{entry, Level, Mapping, X86Mmu};
use serde::Serialize;
use std::fmt::Write as _;

/// One line of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PtdumpItem {
    /// A section header: a region of the memory map starts here.
    Section {
        /// The region's name.
        name: String,
        /// Where it starts.
        start: u64,
    },
    /// A top-level kernel slot whose entry differs from init_mm's.
    OutOfSync {
        /// Index in the root table.
        slot: usize,
        /// First address the slot maps.
        start: u64,
        /// init_mm's entry.
        kernel: u64,
        /// The dumped root's entry.
        this: u64,
    },
    /// A run of leaves with the same attributes, or a hole.
    Range {
        /// First address.
        start: u64,
        /// End (exclusive; 0 = the top of the address space).
        end: u64,
        /// Size in bytes.
        size: u64,
        /// Whether the range is mapped (false: a hole).
        present: bool,
        /// Linux's level name of the entries: pgd, p4d, pud, pmd or pte.
        level: &'static str,
        /// Number of leaf entries merged into this line (0 for a hole).
        leaves: u64,
        /// Leaf bits; all false for a hole.
        attrs: Attrs,
    },
}

/// The bits ptdump prints, as the leaf entry has them, plus the rights the
/// MMU computes along the whole path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Attrs {
    /// U/S.
    pub user: bool,
    /// R/W.
    pub rw: bool,
    /// PWT.
    pub pwt: bool,
    /// PCD.
    pub pcd: bool,
    /// PS in a PDE or PDPTE (a large page).
    pub pse: bool,
    /// PAT (bit 7 of a PTE, bit 12 of a large leaf).
    pub pat: bool,
    /// G.
    pub global: bool,
    /// XD.
    pub nx: bool,
    /// Writable along the whole path.
    pub eff_writable: bool,
    /// User-accessible along the whole path.
    pub eff_user: bool,
    /// Executable along the whole path.
    pub eff_executable: bool,
}

impl Attrs {
    fn of(x: &Mapping) -> Attrs {
        let e = x.entry;
        Attrs {
            user: e & entry::US != 0,
            rw: e & entry::RW != 0,
            pwt: x.pwt,
            pcd: x.pcd,
            pse: x.level != Level::Pt,
            pat: x.pat,
            global: e & entry::G != 0,
            nx: e & entry::XD != 0,
            eff_writable: x.writable,
            eff_user: x.user,
            eff_executable: x.executable,
        }
    }
}

/// Linux's name for the entries of an MMU level: the hardware PML4 entry is
/// the p4d whether or not 5-level paging is on (the pgd is folded into it
/// with 4 levels, as in Linux and in the library).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Pml5 => "pgd",
        Level::Pml4 => "p4d",
        Level::Pdpt => "pud",
        Level::Pd => "pmd",
        Level::Pt => "pte",
    }
}

/// Something the sweep must stop at.
#[derive(Clone, Debug)]
struct Mark {
    at: u128,
    /// What to print there (`None`: only break the line).
    item: Option<PtdumpItem>,
}

/// The line being built.
struct Line {
    start: u128,
    end: u128,
    level: Level,
    attrs: Attrs,
    leaves: u64,
}

struct Sweep<'a> {
    out: Vec<PtdumpItem>,
    line: Option<Line>,
    marks: std::iter::Peekable<std::vec::IntoIter<Mark>>,
    cursor: u128,
    levels: &'a [Level],
}

/// u128 end → the u64 Linux prints (2^64 wraps to 0).
fn wrap(a: u128) -> u64 {
    a as u64
}

impl Sweep<'_> {
    fn flush(&mut self) {
        if let Some(l) = self.line.take() {
            self.out.push(PtdumpItem::Range {
                start: wrap(l.start),
                end: wrap(l.end),
                size: wrap(l.end - l.start),
                present: true,
                level: level_name(l.level),
                leaves: l.leaves,
                attrs: l.attrs,
            });
        }
    }

    /// Non-present lines for `[start, end)`.
    fn hole(&mut self, start: u128, end: u128) {
        if start >= end {
            return;
        }
        self.flush();
        for (start, end, level) in hole_pieces(start, end, self.levels) {
            self.out.push(PtdumpItem::Range {
                start: wrap(start),
                end: wrap(end),
                size: wrap(end - start),
                present: false,
                level: level_name(level),
                leaves: 0,
                attrs: Attrs::default(),
            });
        }
    }

    /// Move the cursor to `to`, printing holes and every mark before it
    /// (and at it too when `inclusive`).
    fn advance(&mut self, to: u128, inclusive: bool) {
        while let Some(m) = self
            .marks
            .next_if(|m| m.at < to || (inclusive && m.at == to))
        {
            if m.at > self.cursor {
                // The cursor is past every leaf: a hole up to the mark.
                self.hole(self.cursor, m.at);
                self.cursor = m.at;
            }
            self.flush();
            if let Some(item) = m.item {
                self.out.push(item);
            }
        }
        if to > self.cursor {
            self.hole(self.cursor, to);
            self.cursor = to;
        }
    }

    fn leaf(&mut self, x: &Mapping) {
        let start = u128::from(x.va);
        self.advance(start, true);
        let attrs = Attrs::of(x);
        let end = start + u128::from(x.size);
        match &mut self.line {
            Some(l) if l.end == start && l.level == x.level && l.attrs == attrs => {
                l.end = end;
                l.leaves += 1;
            }
            _ => {
                self.flush();
                self.line = Some(Line {
                    start,
                    end,
                    level: x.level,
                    attrs,
                    leaves: 1,
                });
            }
        }
        self.cursor = self.cursor.max(end);
    }
}

/// A gap split as Linux's walk meets it when the gap holds no empty table:
/// the rest of the last table at each level on the way up (pte, pmd, ...),
/// whole entries of the largest level that fits, then down again. Each piece
/// is a run of non-present entries of one level. `levels` is largest first.
fn hole_pieces(start: u128, end: u128, levels: &[Level]) -> Vec<(u128, u128, Level)> {
    let size = |l: Level| u128::from(l.page_size());
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let Some(i) = levels
            .iter()
            .position(|&l| a & (size(l) - 1) == 0 && a + size(l) <= end)
        else {
            // Not page-aligned: cannot happen with page-table boundaries.
            out.push((a, end, Level::Pt));
            break;
        };
        let sz = size(levels[i]);
        // As many entries of this level as fit, but only up to where an
        // entry of the level above would fit.
        let mut stop = a + (end - a) / sz * sz;
        if i > 0 {
            let up = size(levels[i - 1]);
            let next = (a + 1).next_multiple_of(up);
            if next + up <= end {
                stop = stop.min(next);
            }
        }
        out.push((a, stop, levels[i]));
        a = stop;
    }
    out
}

/// Sign-extend the address of a top-level slot.
fn slot_start(la57: bool, slot: usize) -> u64 {
    let shift = if la57 { 48 } else { 39 };
    let va = (slot as u64) << shift;
    let unused = 64 - (shift + 9);
    (((va << unused) as i64) >> unused) as u64
}

/// The section headers of the machine's memory map, in address order.
fn sections(m: &Machine) -> Vec<(u64, String)> {
    let mut v = vec![
        (0, "User Space".to_string()),
        (m.arch.kernel_start(), "Kernel Space".to_string()),
    ];
    for r in m.arch.layout().regions {
        let start = match r.kind {
            RegionKind::DirectMap => m.layout.page_offset,
            RegionKind::Vmemmap => m.layout.vmemmap,
            RegionKind::Vmalloc => m.layout.vmalloc.0,
            _ => r.start,
        };
        v.push((start, r.name.to_string()));
    }
    v.sort_by_key(|(a, _)| *a);
    v
}

/// The dump of the tables under `root`, with every top-level kernel slot
/// whose entry differs from init_mm's marked (unless `root` is init_mm's).
pub fn ptdump(m: &Machine, root: PhysAddr) -> Vec<PtdumpItem> {
    let la57 = m.arch.as_x86_64().is_some_and(|a| a.la57);
    let mmu = if la57 {
        X86Mmu::new_la57()
    } else {
        X86Mmu::new()
    };
    let bus = Bus(m.pt.mem());
    let mut leaves = Vec::new();
    // A reserved bit somewhere only hides that subtree; the rest is dumped.
    let _ = mmu.for_each_mapping(&bus, root.0, 0, 0, |x| leaves.push(x));

    // Marks, ordered by address; at one address: the end of an
    // out-of-sync slot, then a section header, then a slot's start.
    let mut marks: Vec<(u128, u8, Mark)> = sections(m)
        .into_iter()
        .map(|(at, name)| {
            (
                u128::from(at),
                1,
                Mark {
                    at: at.into(),
                    item: Some(PtdumpItem::Section { name, start: at }),
                },
            )
        })
        .collect();
    let kroot = m.pt.kernel_root();
    if root != kroot {
        let top = 1u128 << if la57 { 48 } else { 39 };
        for slot in m.arch.kernel_top_slots() {
            let read = |r: PhysAddr| m.pt.mem().read_u64(PhysAddr(r.0 + slot as u64 * 8));
            let (kernel, this) = (read(kroot), read(root));
            if kernel != this {
                let start = slot_start(la57, slot);
                let at = u128::from(start);
                let item = PtdumpItem::OutOfSync {
                    slot,
                    start,
                    kernel,
                    this,
                };
                marks.push((
                    at,
                    2,
                    Mark {
                        at,
                        item: Some(item),
                    },
                ));
                marks.push((
                    at + top,
                    0,
                    Mark {
                        at: at + top,
                        item: None,
                    },
                ));
            }
        }
    }
    marks.sort_by_key(|(at, rank, _)| (*at, *rank));

    let levels: &[Level] = if la57 {
        &[Level::Pml5, Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt]
    } else {
        &[Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt]
    };
    let mut s = Sweep {
        out: Vec::new(),
        line: None,
        marks: marks
            .into_iter()
            .map(|(_, _, m)| m)
            .collect::<Vec<_>>()
            .into_iter()
            .peekable(),
        cursor: 0,
        levels,
    };
    let user_end = u128::from(m.arch.user_end());
    let kernel_start = u128::from(m.arch.kernel_start());
    let mut in_kernel = false;
    for x in &leaves {
        if !in_kernel && u128::from(x.va) >= kernel_start {
            s.advance(user_end, false);
            s.flush();
            s.cursor = kernel_start;
            in_kernel = true;
        }
        s.leaf(x);
    }
    if !in_kernel {
        s.advance(user_end, false);
        s.flush();
        s.cursor = kernel_start;
    }
    s.advance(1 << 64, false);
    s.flush();
    s.out
}

/// Linux's size column: the largest unit that divides the size exactly.
fn size_column(start: u64, end: u64) -> String {
    // An end of 0 is the top: the wrapping difference is the size.
    let mut delta = end.wrapping_sub(start);
    let units = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];
    let mut u = 0;
    while delta & 1023 == 0 && u + 1 < units.len() && delta != 0 {
        delta >>= 10;
        u += 1;
    }
    format!("{delta:>9}{} ", units[u])
}

/// One item as Linux prints it.
pub fn render_item(item: &PtdumpItem) -> String {
    match item {
        PtdumpItem::Section { name, .. } => format!("---[ {name} ]---"),
        PtdumpItem::OutOfSync {
            slot, kernel, this, ..
        } => {
            let this = if *this == 0 {
                "0".to_string()
            } else {
                format!("{this:#x}")
            };
            format!("---[ slot {slot} OUT OF SYNC with init_mm: kernel has {kernel:#x}; this space has {this} ]---")
        }
        PtdumpItem::Range {
            start,
            end,
            present,
            level,
            attrs: a,
            ..
        } => {
            let mut s = format!(
                "0x{start:016x}-0x{end:016x}   {}",
                size_column(*start, *end)
            );
            if !present {
                s.push_str(&" ".repeat(30));
            } else {
                let flag = |on: bool, name: &str| {
                    if on {
                        format!("{name} ")
                    } else {
                        " ".repeat(name.len() + 1)
                    }
                };
                s.push_str(&flag(a.user, "USR"));
                s.push_str(if a.rw { "RW " } else { "ro " });
                s.push_str(&flag(a.pwt, "PWT"));
                s.push_str(&flag(a.pcd, "PCD"));
                s.push_str(&flag(a.pse, "PSE"));
                s.push_str(&flag(a.pat, "PAT"));
                s.push_str(&flag(a.global, "GLB"));
                s.push_str(if a.nx { "NX " } else { "x  " });
            }
            s.push_str(level);
            s
        }
    }
}

/// The whole dump as text, one item a line.
pub fn render(items: &[PtdumpItem]) -> String {
    let mut s = String::new();
    for item in items {
        let _ = writeln!(s, "{}", render_item(item));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Context;
    use crate::report::Variant;
    use crate::scenarios::{run_machine, Config};

    fn lines(items: &[PtdumpItem]) -> Vec<String> {
        items.iter().map(render_item).collect()
    }

    #[test]
    fn a_known_mapping_renders_as_linux_does() {
        let item = PtdumpItem::Range {
            start: 0x40_0000,
            end: 0x40_1000,
            size: 0x1000,
            present: true,
            level: "pte",
            leaves: 1,
            attrs: Attrs {
                user: true,
                rw: true,
                nx: true,
                ..Attrs::default()
            },
        };
        assert_eq!(
            render_item(&item),
            "0x0000000000400000-0x0000000000401000           4K USR RW                     NX pte"
        );
        let big = PtdumpItem::Range {
            start: 0xffff_88f0_0000_0000,
            end: 0xffff_88f4_0000_0000,
            size: 16 << 30,
            present: true,
            level: "pud",
            leaves: 16,
            attrs: Attrs {
                rw: true,
                pse: true,
                global: true,
                nx: true,
                ..Attrs::default()
            },
        };
        assert_eq!(
            render_item(&big),
            "0xffff88f000000000-0xffff88f400000000          16G     RW         PSE     GLB NX pud"
        );
        let hole = PtdumpItem::Range {
            start: 0xffff_ffff_ff60_0000,
            end: 0,
            size: 0xa0_0000,
            present: false,
            level: "pmd",
            leaves: 0,
            attrs: Attrs::default(),
        };
        assert_eq!(
            render_item(&hole),
            format!(
                "0xffffffffff600000-0x0000000000000000          10M {}pmd",
                " ".repeat(30)
            )
        );
    }

    #[test]
    fn the_process_user_page_and_the_direct_map_show_up() {
        for la57 in [false, true] {
            let cfg = Config {
                arch: crate::arch::SimArch::x86_64(la57),
                ..Config::default()
            };
            let m = run_machine("hotplug-new-slot", &cfg, Variant::New).unwrap();
            let root = m.root_of(Context::Process(0)).unwrap();
            let items = ptdump(&m, root);
            let text = lines(&items);
            let user = text
                .iter()
                .find(|l| l.starts_with("0x0000000000400000-0x0000000000401000"))
                .unwrap();
            assert!(
                user.contains("4K USR RW") && user.ends_with("pte"),
                "{user}"
            );
            // Boot RAM's direct map: 16 GiB of 1 GiB leaves in one line,
            // right after the section header at the KASLR base.
            let i = text
                .iter()
                .position(|l| l == "---[ Direct map ]---")
                .unwrap();
            let dm = format!(
                "0x{:016x}-0x{:016x}          16G",
                m.layout.page_offset,
                m.layout.page_offset + (16 << 30)
            );
            assert!(text[i + 1].starts_with(&dm), "{}", text[i + 1]);
            assert!(text[i + 1].ends_with("pud"));
            // Ranges are contiguous and sorted within each half.
            let ranges: Vec<(u64, u64)> = items
                .iter()
                .filter_map(|x| match x {
                    PtdumpItem::Range { start, end, .. } => Some((*start, *end)),
                    _ => None,
                })
                .collect();
            assert_eq!(ranges.first().unwrap().0, 0);
            assert_eq!(ranges.last().unwrap().1, 0, "the dump reaches the top");
            for w in ranges.windows(2) {
                assert!(w[0].1 == w[1].0 || w[0].1 == m.arch.user_end(), "{w:x?}");
            }
            assert!(
                !text.iter().any(|l| l.contains("OUT OF SYNC")),
                "new code leaves every root in sync"
            );
            // JSON round trip of the structure.
            let json = serde_json::to_value(&items).unwrap();
            assert_eq!(json[0]["kind"], "section");
        }
    }

    #[test]
    fn an_out_of_sync_slot_is_marked() {
        for la57 in [false, true] {
            let cfg = Config {
                arch: crate::arch::SimArch::x86_64(la57),
                ..Config::default()
            };
            let m = run_machine("hotplug-new-slot", &cfg, Variant::Old).unwrap();
            let root = m.root_of(Context::Process(0)).unwrap();
            let items = ptdump(&m, root);
            let slot =
                crate::scenarios::slot(&m, m.layout.va(crate::layout::HOTPLUG_BASE)) as usize;
            let kernel =
                m.pt.mem()
                    .read_u64(PhysAddr(m.pt.kernel_root().0 + slot as u64 * 8));
            let want = format!("---[ slot {slot} OUT OF SYNC with init_mm: kernel has {kernel:#x}; this space has 0 ]---");
            let text = lines(&items);
            let i = text
                .iter()
                .position(|l| *l == want)
                .unwrap_or_else(|| panic!("{want} not in\n{}", text.join("\n")));
            // The slot is a hole in this root, exactly one slot long.
            let start = slot_start(la57, slot);
            let size = if la57 { 1u64 << 48 } else { 1 << 39 };
            assert!(
                text[i + 1].starts_with(&format!("0x{start:016x}-0x{:016x}", start + size)),
                "{}",
                text[i + 1]
            );
            assert!(matches!(
                items[i + 1],
                PtdumpItem::Range { present: false, .. }
            ));
            // The kernel's own dump has the mapping and no marker.
            let k = lines(&ptdump(&m, m.pt.kernel_root()));
            assert!(!k.iter().any(|l| l.contains("OUT OF SYNC")));
            let va = m.layout.va(crate::layout::HOTPLUG_BASE);
            assert!(k
                .iter()
                .any(|l| l.starts_with(&format!("0x{va:016x}-0x{:016x}", va + (1 << 30)))));
        }
    }

    #[test]
    fn holes_split_at_each_level_as_linux_walks_them() {
        let levels = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];
        let got = hole_pieces(0x40_1000, 0x8000_0000_0000, &levels);
        let want = vec![
            (0x40_1000, 0x60_0000, Level::Pt),
            (0x60_0000, 0x4000_0000, Level::Pd),
            (0x4000_0000, 0x80_0000_0000, Level::Pdpt),
            (0x80_0000_0000, 0x8000_0000_0000, Level::Pml4),
        ];
        assert_eq!(got, want);
        // Down again: 1 GiB + 2 MiB + 4 KiB after a 512 GiB boundary.
        let s = 0x80_0000_0000u128;
        let got = hole_pieces(0, s + (1 << 30) + (2 << 20) + 4096, &levels);
        let want = vec![
            (0, s, Level::Pml4),
            (s, s + (1 << 30), Level::Pdpt),
            (s + (1 << 30), s + (1 << 30) + (2 << 20), Level::Pd),
            (
                s + (1 << 30) + (2 << 20),
                s + (1 << 30) + (2 << 20) + 4096,
                Level::Pt,
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn slot_addresses_are_canonical() {
        assert_eq!(slot_start(false, 256), 0xffff_8000_0000_0000);
        assert_eq!(slot_start(false, 511), 0xffff_ff80_0000_0000);
        assert_eq!(slot_start(true, 256), 0xff00_0000_0000_0000);
        assert_eq!(slot_start(false, 1), 0x80_0000_0000);
    }

    #[test]
    fn size_column_uses_the_largest_exact_unit() {
        assert_eq!(size_column(0, 0x1000), "        4K ");
        assert_eq!(size_column(0, 0x3000), "       12K ");
        assert_eq!(size_column(0, 1 << 39), "      512G ");
        assert_eq!(size_column(0xffff_8000_0000_0000, 0), "      128T ");
        assert_eq!(size_column(0, 0x801), "     2049B ");
    }
}
