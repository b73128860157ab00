//! ptdump of a simulated machine: the library's dumper
//! ([`pgtable::ptdump`]), with the markers of the regions KASLR placed at
//! the machine's bases (`page_offset_base`, `vmalloc_base`,
//! `vmemmap_base`).

use crate::machine::Machine;
use pgtable::arch::RegionKind;
use pgtable::ptdump::{self, DumpError, Item, Options, SlotDiff};
use pgtable::PhysAddr;

/// The machine's region bases, for [`Options::region_starts`].
pub fn region_starts(m: &Machine) -> Vec<(RegionKind, u64)> {
    let mut v = Vec::new();
    if m.layout.page_offset != 0 {
        v.push((RegionKind::DirectMap, m.layout.page_offset));
    }
    if m.layout.has_vmemmap {
        v.push((RegionKind::Vmemmap, m.layout.vmemmap));
    }
    if m.layout.vmalloc.0 != 0 {
        v.push((RegionKind::Vmalloc, m.layout.vmalloc.0));
    }
    v
}

/// The dump of the tables under `root` as [`Item`]s; with `marks`, the
/// entries of `root` that differ from init_mm's are marked, and the user
/// half is included where Linux's dumper leaves it out.
pub fn items(m: &Machine, root: PhysAddr, marks: bool) -> Result<Vec<Item>, DumpError> {
    let starts = region_starts(m);
    let opts = Options {
        out_of_sync: marks,
        user: marks,
        region_starts: &starts,
    };
    let mut v = Vec::new();
    ptdump::items(&m.pt, root, &opts, &mut |i| {
        v.push(*i);
        Ok(())
    })?;
    Ok(v)
}

/// The entries of `root` that differ from init_mm's.
pub fn out_of_sync(m: &Machine, root: PhysAddr) -> Result<Vec<SlotDiff>, DumpError> {
    ptdump::out_of_sync(&m.pt, root)
}

/// [`items`] as text, one item a line.
pub fn render(items: &[Item]) -> String {
    let mut s = String::new();
    for i in items {
        s.push_str(&i.to_string());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::{run_machine, Config};
    use crate::vocab::{Context, Variant};
    use pgtable::PagingGeometry;

    #[test]
    fn every_mode_dumps_the_kernel_and_a_process() {
        for arch in crate::arch::SimArch::all() {
            let cfg = Config {
                arch,
                ..Config::default()
            };
            let m = run_machine("vmalloc-new-slot", &cfg, Variant::New).unwrap();
            for ctx in [Context::Kernel, Context::Process(0)] {
                let root = m.root_of(ctx).unwrap();
                let items = items(&m, root, true).unwrap();
                assert!(matches!(items[0], Item::Marker(_)), "{}", arch.name());
                assert!(
                    !items.iter().any(|i| matches!(i, Item::OutOfSync(_))),
                    "{}: the new code leaves every root in sync",
                    arch.name()
                );
            }
        }
    }

    #[test]
    fn the_kaslr_direct_map_base_is_where_its_marker_goes() {
        let cfg = Config {
            arch: crate::arch::SimArch::x86_64(false),
            ..Config::default()
        };
        let m = run_machine("hotplug-new-slot", &cfg, Variant::New).unwrap();
        let text = render(&items(&m, m.pt.kernel_root(), false).unwrap());
        let dm = format!(
            "0x{:016x}-0x{:016x}          16G     RW         PSE     GLB NX pud",
            m.layout.page_offset,
            m.layout.page_offset + (16 << 30)
        );
        let i = text.lines().position(|l| l == dm).expect(&text);
        assert!(
            text.lines()
                .take(i + 3)
                .any(|l| l == "---[ Low Kernel Mapping ]---"),
            "{text}"
        );
    }

    #[test]
    fn an_out_of_sync_slot_is_marked_for_the_old_code() {
        for la57 in [false, true] {
            let cfg = Config {
                arch: crate::arch::SimArch::x86_64(la57),
                ..Config::default()
            };
            let m = run_machine("hotplug-new-slot", &cfg, Variant::Old).unwrap();
            let root = m.root_of(Context::Process(0)).unwrap();
            let diffs = out_of_sync(&m, root).unwrap();
            let slot = crate::scenarios::slot(&m, m.layout.va(crate::layout::HOTPLUG_BASE));
            assert!(
                diffs.iter().any(|d| d.index == slot && d.this == 0),
                "{diffs:?}"
            );
            let text = render(&items(&m, root, true).unwrap());
            let marks: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
            assert_eq!(marks.len(), diffs.len(), "{text}");
            // The kernel's own dump has no mark.
            let k = render(&items(&m, m.pt.kernel_root(), true).unwrap());
            assert!(!k.lines().any(|l| l.starts_with('#')));
        }
    }
}
