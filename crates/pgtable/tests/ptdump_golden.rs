//! ptdump against golden files: one deterministic machine per architecture
//! family (and per x86-64 level count), dumped and compared byte for byte
//! with `tests/golden/*.txt`. `UPDATE_GOLDEN=1 cargo test -p pgtable --test
//! ptdump_golden` rewrites the files; review every change by eye against
//! Linux's format before committing it.
//!
//! Each machine maps, with the library's public API only:
//! - the direct map from physical 0 with the largest leaves the mode has
//!   (1 GiB where the PUD or the top level allows it, then 2 or 4 MiB
//!   sections, then 4 KiB pages), read-write, not executable, global;
//! - kernel text (read-only, executable) with a large leaf and pages, and
//!   read-only data;
//! - a vmalloc page, a device (`ioremap`, uncached) and a write-combining
//!   mapping in the vmalloc area, and a fixmap page;
//! - in one process: user pages read-write and read-only, and a user
//!   read-execute page; that process's root is dumped too.

use pgtable::arch::{arm32::Arm32, arm64::Arm64, riscv64::Riscv64, x86_32::X86_32, RegionKind};
use pgtable::ptdump::{self, Item, Options};
use pgtable::PageSize;
use pgtable::{
    Access, AddressSpace, Arch, CacheMode, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr,
    X86_64,
};
use std::path::PathBuf;

type Pt<A> = PageTables<A, SparseMemory>;

/// The machine: tables at 256 MiB..512 MiB, data frames below.
fn machine<A: Arch>(arch: A) -> (Pt<A>, AddressSpace) {
    let mem = SparseMemory::new(PhysAddr(256 << 20)..PhysAddr(512 << 20));
    let pt = PageTables::new(arch, mem).unwrap();
    let layout = arch.layout();
    let region = |k| layout.get(k).map(|r| r.start);
    let dm = region(RegionKind::DirectMap).unwrap();
    let vmalloc = region(RegionKind::Vmalloc).unwrap();
    let text = region(RegionKind::KernelText).or(region(RegionKind::Modules));
    let fixmap = region(RegionKind::Fixmap).unwrap();
    let pmd = arch.level_size(pgtable::Level::Pmd);
    let wide = arch.va_bits() > 32;
    let space = pt.create_space().unwrap();
    let (r, _) = pt.kernel().edit(|e| -> pgtable::Result<()> {
        let page = 4096;
        if wide {
            // 1 GiB + 4 MiB + 16 KiB of RAM at physical 0.
            e.vmap_range(
                VirtAddr(dm),
                PhysAddr(0),
                (1 << 30) + (4 << 20) + 16 * 1024,
                Prot::KERNEL,
                PageSize::Pud,
            )?;
        } else {
            // Two sections and four pages.
            e.vmap_range(
                VirtAddr(dm),
                PhysAddr(0),
                2 * pmd + 4 * page,
                Prot::KERNEL,
                PageSize::Pud,
            )?;
        }
        let (tva, tpa) = match text {
            Some(t) if wide => (t, 32 << 20),
            _ => (dm + 32 * pmd, 32 * pmd),
        };
        e.vmap_range(
            VirtAddr(tva),
            PhysAddr(tpa),
            pmd + 2 * page,
            Prot::KERNEL_ROX,
            PageSize::Pud,
        )?;
        e.vmap_range(
            VirtAddr(tva + 2 * pmd),
            PhysAddr(tpa + 2 * pmd),
            3 * page,
            Prot::KERNEL_RO,
            PageSize::Base,
        )?;
        e.vmap_range(
            VirtAddr(vmalloc + 16 * pmd),
            PhysAddr(0x70_0000),
            2 * page,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        e.ioremap(PhysAddr(0xfe00_0000), 16 * page, CacheMode::Uncached)?;
        e.ioremap(PhysAddr(0xfd00_0000), 2 * page, CacheMode::WriteCombining)?;
        e.vmap_range(
            VirtAddr(fixmap),
            PhysAddr(0x80_0000),
            page,
            Prot::KERNEL,
            PageSize::Base,
        )?;
        Ok(())
    });
    r.unwrap();
    let mut space = space;
    {
        let mut u = pt.user(&mut space).unwrap();
        u.map_range(
            VirtAddr(0x40_0000),
            PhysAddr(0x90_0000),
            3 * 4096,
            Prot::USER_RW,
            PageSize::Base,
        )
        .unwrap();
        u.map_range(
            VirtAddr(0x40_3000),
            PhysAddr(0x90_3000),
            4096,
            Prot::USER_RO,
            PageSize::Base,
        )
        .unwrap();
        let rx = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
        u.map_range(
            VirtAddr(0x60_0000),
            PhysAddr(0xa0_0000),
            4096,
            rx,
            PageSize::Base,
        )
        .unwrap();
    }
    (pt, space)
}

fn text<A: Arch>(pt: &Pt<A>, root: PhysAddr, opts: &Options<'_>) -> String {
    let mut s = String::new();
    ptdump::dump(pt, root, &mut s, opts).unwrap();
    s
}

/// The kernel's dump, then the process's (with its user half where the
/// format would leave it out), under `# ` separators that are not part of
/// any Linux output.
fn golden_text<A: Arch>(arch: A) -> String {
    let (pt, space) = machine(arch);
    let mut s = format!("# {}: kernel root\n", arch.name());
    s += &text(&pt, pt.kernel_root(), &Options::default());
    s += &format!("# {}: process root\n", arch.name());
    let opts = Options {
        user: true,
        out_of_sync: true,
        ..Options::default()
    };
    s += &text(&pt, space.root(), &opts);
    s
}

fn check(name: &str, got: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name]
        .iter()
        .collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n want: {:?}\n  got: {:?}\n\nwhole output:\n{got}",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

#[test]
fn x86_64_4_level() {
    check("x86_64_4level.txt", &golden_text(X86_64::FOUR_LEVEL));
}

#[test]
fn x86_64_5_level() {
    check("x86_64_5level.txt", &golden_text(X86_64::FIVE_LEVEL));
}

#[test]
fn x86_32_2_level() {
    check("x86_32_2level.txt", &golden_text(X86_32::TWO_LEVEL));
}

#[test]
fn x86_32_pae() {
    check("x86_32_pae.txt", &golden_text(X86_32::PAE));
}

#[test]
fn arm64_48_bit() {
    check("arm64_48bit.txt", &golden_text(Arm64::VA_48));
}

#[test]
fn arm64_39_bit() {
    check("arm64_39bit.txt", &golden_text(Arm64::VA_39));
}

#[test]
fn riscv64_sv39() {
    check("riscv64_sv39.txt", &golden_text(Riscv64::SV39));
}

#[test]
fn riscv64_sv57() {
    check("riscv64_sv57.txt", &golden_text(Riscv64::SV57));
}

#[test]
fn arm32_short_descriptors() {
    check("arm32_short.txt", &golden_text(Arm32::SHORT));
}

/// Every mode dumps, every line is well formed, and the markers come in
/// the order of their addresses.
#[test]
fn every_mode_dumps() {
    fn one<A: Arch>(arch: A) {
        let (pt, space) = machine(arch);
        for root in [pt.kernel_root(), space.root()] {
            let mut items = Vec::new();
            ptdump::items(&pt, root, &Options::default(), &mut |i| {
                items.push(*i);
                Ok(())
            })
            .unwrap();
            assert!(
                matches!(items.first(), Some(Item::Marker(_))),
                "{}",
                arch.name()
            );
            assert!(
                items
                    .iter()
                    .any(|i| matches!(i, Item::Range(r) if r.is_mapped())),
                "{}: nothing mapped",
                arch.name()
            );
            for i in &items {
                let line = i.to_string();
                assert!(!line.contains('\n'), "{line:?}");
                if let Item::Range(r) = i {
                    assert!(line.starts_with("0x"), "{line}");
                    assert!(r.end == 0 || r.end > r.start, "{}: {line}", arch.name());
                }
            }
        }
        assert_eq!(
            ptdump::out_of_sync(&pt, space.root()).unwrap(),
            vec![],
            "{}",
            arch.name()
        );
    }
    one(X86_64::FOUR_LEVEL);
    one(X86_64::FIVE_LEVEL);
    one(X86_32::TWO_LEVEL);
    one(X86_32::PAE);
    one(X86_32::PAE_UNSHARED_PMD);
    one(Arm64::VA_39);
    one(Arm64::VA_48);
    one(Arm64::VA_52);
    one(Riscv64::SV39);
    one(Riscv64::SV48);
    one(Riscv64::SV57);
    one(Arm32::SHORT);
}

#[test]
fn a_foreign_root_is_refused_and_a_failing_writer_stops_the_dump() {
    let (pt, _space) = machine(X86_64::FOUR_LEVEL);
    let mut s = String::new();
    assert_eq!(
        ptdump::dump(&pt, PhysAddr(0x1234_5000), &mut s, &Options::default()),
        Err(ptdump::DumpError::UnknownRoot)
    );
    assert!(s.is_empty());
    struct Full(usize);
    impl std::fmt::Write for Full {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.0 < s.len() {
                return Err(std::fmt::Error);
            }
            self.0 -= s.len();
            Ok(())
        }
    }
    assert_eq!(
        ptdump::dump(&pt, pt.kernel_root(), &mut Full(200), &Options::default()),
        Err(ptdump::DumpError::Write)
    );
}
