//! The paging modes `--arch` accepts: each mode's name and its short
//! aliases. This table is what the command accepts and what its errors
//! list; a test checks that it names every mode of the simulator and that
//! each alias means that mode to the simulator too ([`SimArch::by_name`]).

use pgtable::arch::RegionKind;
use pgtable::KernelPolicy;
use pgtable_sim::SimArch;

/// Every mode's name (as [`Arch::name`] gives it), then its aliases, in the
/// order [`SimArch::all`] runs them.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("x86_64/5-level", &["x86_64/5", "la57"]),
    ("x86_64/4-level", &["x86_64", "x86-64", "x86_64/4"]),
    ("x86_32/2-level", &["x86_32", "x86-32", "i386"]),
    ("x86_32/PAE", &["pae"]),
    ("x86_32/PAE-unshared-pmd", &["pae-unshared"]),
    ("arm64/48-bit", &["arm64", "aarch64", "arm64/48"]),
    ("arm64/39-bit", &["arm64/39"]),
    ("riscv64/sv57", &["sv57"]),
    ("riscv64/sv48", &["sv48"]),
    ("riscv64/sv39", &["riscv64", "sv39"]),
    ("arm32/short", &["arm32", "arm"]),
];

/// The mode `s` names (a name or an alias, in any case).
pub fn by_name(s: &str) -> Option<SimArch> {
    let (name, _) = ALIASES.iter().find(|(name, aliases)| {
        name.eq_ignore_ascii_case(s) || aliases.iter().any(|a| a.eq_ignore_ascii_case(s))
    })?;
    SimArch::by_name(name)
}

/// The modes and their aliases, one mode a line, for errors and help.
pub fn table() -> String {
    let width = ALIASES.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    ALIASES
        .iter()
        .map(|(name, aliases)| format!("  {name:<width$}  {}", aliases.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `--pti` means something on `arch`: the simulator's page-table
/// isolation gives each process a user-mode root holding the kernel's CPU
/// entry area only, so a mode without one has nothing to isolate with.
pub fn has_cpu_entry_area(arch: SimArch) -> bool {
    arch.layout().get(RegionKind::CpuEntryArea).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgtable::PagingGeometry;

    #[test]
    fn the_table_names_every_mode_in_order() {
        let names: Vec<&str> = ALIASES.iter().map(|(n, _)| *n).collect();
        let modes: Vec<&str> = SimArch::all().iter().map(|a| a.name()).collect();
        assert_eq!(names, modes);
    }

    #[test]
    fn every_name_and_alias_means_its_mode_to_the_simulator_too() {
        for (name, aliases) in ALIASES {
            for s in std::iter::once(name).chain(aliases.iter()) {
                assert_eq!(by_name(s).map(|a| a.name()), Some(*name), "{s}");
                assert_eq!(SimArch::by_name(s).map(|a| a.name()), Some(*name), "{s}");
                let upper = s.to_ascii_uppercase();
                assert_eq!(by_name(&upper).map(|a| a.name()), Some(*name), "{upper}");
            }
        }
        assert!(by_name("vax").is_none());
    }

    #[test]
    fn the_table_fits_80_columns_and_lists_every_alias() {
        let t = table();
        assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");
        for (_, aliases) in ALIASES {
            for a in *aliases {
                assert!(t.contains(a), "{a} missing:\n{t}");
            }
        }
    }

    /// The x86 modes have a CPU entry area, the others none; `--pti` is
    /// refused on those, and the machine refuses them too.
    #[test]
    fn pti_applies_to_the_x86_modes_only() {
        for arch in SimArch::all() {
            let x86 = arch.name().starts_with("x86");
            assert_eq!(has_cpu_entry_area(arch), x86, "{}", arch.name());
            let cfg = pgtable_sim::scenarios::Config {
                arch,
                pti: true,
                ..Default::default()
            };
            let booted = pgtable_sim::scenarios::machine(&cfg).is_ok();
            assert_eq!(booted, x86, "{}", arch.name());
        }
    }
}
