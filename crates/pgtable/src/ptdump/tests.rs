use super::*;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{arm32::Arm32, arm64::Arm64, riscv64::Riscv64, x86_32::X86_32};
use crate::PageSize;
use crate::{Prot, SparseMemory, TableMemory, X86_64};
use alloc::string::{String, ToString};

fn pt<A: Arch>(arch: A) -> PageTables<A, SparseMemory> {
    PageTables::new(
        arch,
        SparseMemory::new(PhysAddr(256 << 20)..PhysAddr(512 << 20)),
    )
    .unwrap()
}

fn lines<A: Arch, M: TableMemory>(pt: &PageTables<A, M>, root: PhysAddr) -> Vec<String> {
    let mut s = String::new();
    dump(pt, root, &mut s, &Options::default()).unwrap();
    s.lines().map(String::from).collect()
}

fn vmalloc<A: Arch>(arch: &A) -> u64 {
    arch.layout().get(RegionKind::Vmalloc).unwrap().start
}

#[test]
fn equal_neighbours_make_one_line_and_a_change_splits_it() {
    let pt = pt(X86_64::FOUR_LEVEL);
    let va = vmalloc(pt.arch()) + (64 << 20);
    let (r, _) = pt.kernel().edit(|e| -> crate::Result<()> {
        e.vmap_range(
            VirtAddr(va),
            PhysAddr(0x10_0000),
            4 * 4096,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        e.vmap_range(
            VirtAddr(va + 0x4000),
            PhysAddr(0x20_0000),
            4096,
            Prot::KERNEL_RO,
            PageSize::Base,
        )?;
        // The first attributes again, after the read-only page: a new
        // line (x86 never looks at the frame).
        e.vmap_range(
            VirtAddr(va + 0x5000),
            PhysAddr(0x30_0000),
            2 * 4096,
            Prot::KERNEL,
            PageSize::Base,
        )
    });
    r.unwrap();
    let l = lines(&pt, pt.kernel_root());
    let at = |a: u64| {
        l.iter()
            .find(|x| x.starts_with(&alloc::format!("0x{a:016x}-")))
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        at(va).contains(&alloc::format!("-0x{:016x}", va + 0x4000)),
        "{l:#?}"
    );
    assert!(
        at(va).ends_with("     RW                 GLB NX pte"),
        "{l:#?}"
    );
    assert!(at(va + 0x4000).contains("          4K     ro "), "{l:#?}");
    assert!(at(va + 0x5000).contains("           8K     RW "), "{l:#?}");
    // The rest of the PTE table is one empty pte line, then empty pmds.
    assert!(
        at(va + 0x7000).ends_with("                              pte"),
        "{l:#?}"
    );
}

#[test]
fn runs_of_empty_entries_follow_the_level_they_are_found_at() {
    let pt = pt(X86_64::FOUR_LEVEL);
    let l = lines(&pt, pt.kernel_root());
    // Nothing mapped: the user half and every kernel slot are p4d holes,
    // one line per marker.
    assert_eq!(l[0], "---[ User Space ]---");
    assert_eq!(
        l[1],
        "0x0000000000000000-0xffff880000000000    16777096T                               p4d"
    );
    assert!(l
        .iter()
        .filter(|x| x.starts_with("0x"))
        .all(|x| x.ends_with(" p4d")));
    // Markers are noticed only where an entry is noted: the last slot
    // holds the ESPfix area and every marker after it.
    assert_eq!(
        l.last().unwrap().as_str(),
        "0xffffff0000000000-0x0000000000000000           1T                               p4d"
    );
}

#[test]
fn size_column_counts_in_the_largest_whole_unit() {
    let r = |start: u64, end: u64, format: Format| RangeLine {
        format,
        start,
        end,
        level: Level::Pte,
        level_name: "pte",
        prot: 0,
        pa: 0,
        domain: None,
        nx: true,
    };
    let s = |x: RangeLine| Item::Range(x).to_string();
    assert!(s(r(0, 0x3000, Format::X86_64)).contains("       12K "));
    assert!(s(r(0, 0x801, Format::X86_64)).contains("     2049B "));
    assert!(s(r(0xffff_8000_0000_0000, 0, Format::X86_64)).contains("      128T "));
    assert!(s(r(0xfff0_0000, 0, Format::X86_32)).starts_with("0xfff00000-0x00000000           1M "));
    // arm64 counts KiB.
    assert!(
        s(r(0, 0x3000, Format::Arm64)).contains("       12K PTE")
            || s(r(0, 0x3000, Format::Arm64)).contains("       12K pte")
    );
}

/// Garbage in every root slot (present bits, reserved bits, huge bits,
/// tables pointing anywhere, at the root itself): no panic, nothing
/// written, every line well formed.
#[test]
fn garbage_tables_never_panic_and_are_never_written() {
    fn one<A: Arch>(arch: A) {
        let pt = pt(arch);
        let root = pt.kernel_root();
        let n = arch.table_bytes(Level::Pgd) / arch.entry_size();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 7 {
                // A table: the root itself (twice, so the walk meets it at
                // every level: 2^levels walks of it, no more).
                _ if i == 3 || i == n - 1 => root.0 | 0x63,
                0 => x | 0x63,
                1 => u64::MAX,                  // every bit
                2 => x & 0x000f_ffff_ffff_f0ff, // somewhere in memory
                3 => 0,
                _ => x,
            };
            let pa = PhysAddr(root.0 + i * arch.entry_size());
            if arch.entry_size() == 8 {
                pt.mem().write_u64(pa, v);
            } else {
                pt.mem().write_u32(pa, v as u32);
            }
        }
        let words: Vec<u64> = (0..arch.table_bytes(Level::Pgd) / 8)
            .map(|i| pt.mem().read_u64(PhysAddr(root.0 + i * 8)))
            .collect();
        let before = pt.mem().tables_in_use();
        let mut count = 0usize;
        let r = items(
            &pt,
            root,
            &Options {
                out_of_sync: true,
                user: true,
                ..Options::default()
            },
            &mut |i| {
                let s = alloc::format!("{i}");
                assert!(!s.contains('\n'));
                count += 1;
                Ok(())
            },
        );
        assert_eq!(r, Ok(()), "{}", arch.name());
        assert!(count > 0);
        assert_eq!(pt.mem().tables_in_use(), before);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(
                pt.mem().read_u64(PhysAddr(root.0 + i as u64 * 8)),
                *w,
                "{}: the dump wrote",
                arch.name()
            );
        }
    }
    one(X86_64::FOUR_LEVEL);
    one(X86_64::FIVE_LEVEL);
    one(X86_32::TWO_LEVEL);
    one(X86_32::PAE);
    one(Arm64::VA_39);
    one(Arm64::VA_48);
    one(Arm64::VA_52);
    one(Riscv64::SV39);
    one(Riscv64::SV48);
    one(Riscv64::SV57);
    one(Arm32::SHORT);
}

#[test]
fn markers_are_in_address_order_for_every_mode() {
    fn one<A: Arch>(arch: A) {
        for user in [false, true] {
            let m = model::markers(
                &arch,
                &Options {
                    user,
                    ..Options::default()
                },
            );
            assert!(
                m.windows(2).all(|w| w[0].addr <= w[1].addr),
                "{}: {m:?}",
                arch.name()
            );
        }
    }
    one(X86_64::FOUR_LEVEL);
    one(X86_64::FIVE_LEVEL);
    one(X86_32::TWO_LEVEL);
    one(X86_32::PAE);
    one(Arm64::VA_39);
    one(Arm64::VA_48);
    one(Arm64::VA_52);
    one(Riscv64::SV39);
    one(Riscv64::SV48);
    one(Riscv64::SV57);
    one(Arm32::SHORT);
}
