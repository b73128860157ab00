//! Kernel eras: which Linux release range the simulated kernel users behave
//! as. Each era decides, per kernel user and architecture, whether a
//! populate is tracked and synced when the edit ends (the library's edit)
//! or plain (the `unsafe` legacy edit), whether x86's late
//! `sync_global_pgds()` follows, what the architecture preallocates at boot
//! and which kernel faults the fault handler fixes lazily.
//!
//! Facts and citations: `docs/linux-baselines.md` (sections 1, 2, 3 and the
//! quick reference).

use crate::arch::SimArch;
use crate::vocab::Variant;
use pgtable::KernelPolicy;
use serde::Serialize;

/// A range of Linux releases with one behaviour of the kernel users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Era {
    /// Before 9b861528a801 "x86-64, mem: Update all PGDs for direct mapping
    /// and vmemmap mapping changes" (believed 2.6.37; not established):
    /// nothing syncs the direct map or vmemmap; `vmalloc_fault()` fixes
    /// vmalloc faults.
    Pre9b86,
    /// 9b861528a801 to 5.7: x86's direct map and `vmemmap_populate()` call
    /// `sync_global_pgds()`; vmalloc and ioremap populate plainly and the
    /// fault handler fixes their faults lazily (`vmalloc_fault()`,
    /// `do_translation_fault()`).
    Pre58,
    /// 5.8 to 6.16: vmalloc and ioremap track `pgtbl_mod_mask` and call
    /// `arch_sync_kernel_mappings()`; x86-64 preallocates the vmalloc area
    /// at boot (5.9+); vmemmap, the KASAN early shadow and percpu still use
    /// plain `pgd/p4d_populate()`.
    V58To616,
    /// 6.17 and later: `{pgd,p4d}_populate_kernel()` everywhere, i.e. the
    /// library's edit.
    V617,
}

/// The simulated kernel users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum User {
    /// `vmalloc()`.
    Vmalloc,
    /// `ioremap()`.
    Ioremap,
    /// `vmemmap_populate()` (base pages or PMD blocks), as hotplug uses it.
    Vmemmap,
    /// `vmemmap_populate_compound_pages()`.
    VmemmapCompound,
    /// The direct map (`kernel_physical_mapping_init()`).
    DirectMap,
    /// The KASAN shadow.
    KasanShadow,
    /// The percpu first chunk (`pcpu_populate_pte()`).
    Percpu,
    /// The CPU entry area (set up at boot; no era difference modelled).
    CpuEntryArea,
}

/// How a kernel user's populate reaches the other roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Populate {
    /// Plain `pXd_populate(&init_mm, …)` through the `unsafe` legacy edit:
    /// nothing is synced when it ends.
    Plain,
    /// Tracked in `pgtbl_mod_mask` and synced when the edit ends (5.8+
    /// vmalloc/ioremap on the architectures whose sync mask covers the
    /// level; 6.17 `_kernel()` helpers): the library's edit.
    Tracked,
}

/// A fault handler that fixes kernel faults lazily by copying the missing
/// entry from init_mm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FaultHandler {
    /// The Linux function, e.g. `vmalloc_fault`.
    pub name: &'static str,
    /// Where it lives.
    pub source: &'static str,
    /// First address it handles.
    #[serde(serialize_with = "crate::json::hex")]
    pub start: u64,
    /// Last address it handles (inclusive).
    #[serde(serialize_with = "crate::json::hex")]
    pub last: u64,
}

impl FaultHandler {
    /// Whether a kernel fault at `va` reaches the handler's fixup.
    pub fn covers(&self, va: u64) -> bool {
        (self.start..=self.last).contains(&va)
    }
}

impl From<Variant> for Era {
    /// The two ends of the model: the oldest era modelled (plain populates,
    /// nothing synced) and the library.
    fn from(v: Variant) -> Era {
        match v {
            Variant::Old => Era::Pre9b86,
            Variant::New => Era::V617,
        }
    }
}

fn x86_32(arch: SimArch) -> bool {
    matches!(arch, SimArch::X86_32(_))
}

impl Era {
    /// Every era, oldest first.
    pub const ALL: [Era; 4] = [Era::Pre9b86, Era::Pre58, Era::V58To616, Era::V617];

    /// Short name, as verdict lines print it.
    pub fn name(self) -> &'static str {
        match self {
            Era::Pre9b86 => "pre-9b861528a801",
            Era::Pre58 => "pre-5.8",
            Era::V58To616 => "5.8–6.16",
            Era::V617 => "6.17+",
        }
    }

    /// The releases it covers.
    pub fn releases(self) -> &'static str {
        match self {
            Era::Pre9b86 => "before 9b861528a801 (believed 2.6.37, 2010; not established)",
            Era::Pre58 => "9b861528a801 (~2.6.37) to 5.7",
            Era::V58To616 => "5.8 to 6.16",
            Era::V617 => "6.17 and later",
        }
    }

    /// What the era does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Era::Pre9b86 => "nothing syncs the direct map or vmemmap; vmalloc faults are fixed lazily",
            Era::Pre58 => "x86 syncs its direct map and vmemmap late (sync_global_pgds()); vmalloc faults are fixed lazily by the fault handler",
            Era::V58To616 => "vmalloc/ioremap tracked and synced (x86-64: vmalloc area preallocated at boot); vmemmap, KASAN shadow and percpu use plain pgd/p4d_populate()",
            Era::V617 => "{pgd,p4d}_populate_kernel() everywhere: the pgtable library's edit",
        }
    }

    /// Whether `user`'s populate is tracked and synced (the library's edit)
    /// or plain, in this era on `arch`.
    pub fn populate(self, user: User, arch: SimArch) -> Populate {
        match (self, user) {
            (Era::V617, _) | (_, User::CpuEntryArea) => Populate::Tracked,
            // 5.8+: vmap_range_noflush()/vmap_pages_range_noflush() call
            // arch_sync_kernel_mappings() when the mask meets
            // ARCH_PAGE_TABLE_SYNC_MASK: PGTBL_PMD_MODIFIED on x86-32. On
            // x86-64 the mask is 0 from 58a18fe95e83 (the area is
            // preallocated instead); on arm32 the hook only bumps
            // vmalloc_seq (5.18+), the copy is left to switch_mm and
            // do_translation_fault(); arm64 and riscv have no mask.
            (Era::V58To616, User::Vmalloc | User::Ioremap) if x86_32(arch) => Populate::Tracked,
            _ => Populate::Plain,
        }
    }

    /// Whether x86's own `sync_global_pgds()` follows `user`'s populate
    /// (`kernel_physical_mapping_init()` and `vmemmap_populate()` from
    /// 9b861528a801 on). The calls remain in 6.17, but after the library's
    /// edit has synced they copy nothing, so 6.17+ does not repeat them.
    pub fn late_sync(self, user: User, arch: SimArch) -> bool {
        arch.as_x86_64().is_some()
            && matches!(self, Era::Pre58 | Era::V58To616)
            && matches!(user, User::Vmemmap | User::DirectMap)
    }

    /// Whether `vmemmap_use_new_sub_pmd()` clears the unused part of a new
    /// PMD block inside the populate, before `vmemmap_populate()`'s sync
    /// (8d400913c231, 5.13; in 6.17 the populate has synced by then).
    pub fn subpmd_memset(self) -> bool {
        matches!(self, Era::V58To616 | Era::V617)
    }

    /// Whether x86-64 preallocates the vmalloc area's top level at boot
    /// (`preallocate_vmalloc_pages()`, 5.9+).
    pub fn prealloc_vmalloc(self, arch: SimArch) -> bool {
        arch.as_x86_64().is_some() && self >= Era::V58To616
    }

    /// Whether x86-64 populates the top level of the vmalloc area's KASAN
    /// shadow at boot (`kasan_shallow_populate_pgds()`, with
    /// KASAN_VMALLOC, 5.5+; not in docs/linux-baselines.md).
    pub fn prealloc_kasan_vmalloc_shadow(self, arch: SimArch) -> bool {
        arch.as_x86_64().is_some() && self >= Era::Pre58
    }

    /// The fault handler that fixes kernel faults lazily in this era on
    /// `arch`, with the range it covers.
    pub fn fault_handler(self, arch: SimArch) -> Option<FaultHandler> {
        use pgtable::arch::RegionKind;

        let vmalloc = || {
            arch.layout()
                .get(RegionKind::Vmalloc)
                .map(|r| (r.start, r.last))
        };
        let (name, source, (start, last)) = match arch {
            // x86-64: only VMALLOC_START..VMALLOC_END, until 7f0a002b5a21
            // removed it in 5.8.
            SimArch::X86_64(_) if self <= Era::Pre58 => {
                ("vmalloc_fault", "arch/x86/mm/fault.c", vmalloc()?)
            }
            // x86-32: removed in 5.8, back in 5.9 (4819e15f740e), still
            // there in 6.17.
            SimArch::X86_32(_) => ("vmalloc_fault", "arch/x86/mm/fault.c", vmalloc()?),
            // arm32: any address >= TASK_SIZE, in every era.
            SimArch::Arm32(_) => (
                "do_translation_fault",
                "arch/arm/mm/fault.c",
                (arch.kernel_start(), arch.kernel_end().wrapping_sub(1)),
            ),
            _ => return None,
        };
        Some(FaultHandler {
            name,
            source,
            start,
            last,
        })
    }

    /// The Linux function that decides `user`'s behaviour in this era on
    /// `arch`.
    pub fn source(self, user: User, arch: SimArch) -> &'static str {
        let x86_64 = arch.as_x86_64().is_some();
        match (user, self) {
            (User::Vmalloc, Era::Pre9b86 | Era::Pre58) => "mm/vmalloc.c:vmap_page_range",
            (User::Vmalloc, _) => "mm/vmalloc.c:vmap_pages_range_noflush",
            (User::Ioremap, Era::Pre9b86 | Era::Pre58) => "lib/ioremap.c:ioremap_page_range",
            (User::Ioremap, _) => "mm/vmalloc.c:vmap_range_noflush (lib/ioremap.c before 5.15)",
            (User::Vmemmap, Era::V617) => {
                "mm/sparse-vmemmap.c:vmemmap_p4d_populate (p4d_populate_kernel)"
            }
            (User::Vmemmap, _) if x86_64 => {
                "arch/x86/mm/init_64.c:vmemmap_populate (+ sync_global_pgds after)"
            }
            (User::Vmemmap, _) => "mm/sparse-vmemmap.c:vmemmap_populate_basepages",
            (User::VmemmapCompound, Era::V617) => {
                "mm/sparse-vmemmap.c:vmemmap_populate_compound_pages (p4d_populate_kernel)"
            }
            (User::VmemmapCompound, _) => "mm/sparse-vmemmap.c:vmemmap_populate_compound_pages",
            (User::DirectMap, _) if x86_64 => "arch/x86/mm/init_64.c:kernel_physical_mapping_init",
            (User::DirectMap, _) => "arch_add_memory (arch code)",
            (User::KasanShadow, Era::V617) => {
                "mm/kasan/init.c:kasan_populate_early_shadow (pgd/p4d_populate_kernel)"
            }
            (User::KasanShadow, _) => "mm/kasan/init.c:kasan_populate_early_shadow",
            (User::Percpu, Era::V617) => "mm/percpu.c:pcpu_populate_pte (pgd/p4d_populate_kernel)",
            (User::Percpu, _) => "mm/percpu.c:pcpu_populate_pte",
            (User::CpuEntryArea, _) => "arch/x86/mm/cpu_entry_area.c:setup_cpu_entry_area",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras_are_ordered_and_named() {
        assert!(Era::ALL.windows(2).all(|w| w[0] < w[1]));
        for e in Era::ALL {
            assert!(!e.name().is_empty() && !e.releases().is_empty());
        }
        assert_eq!(Era::from(Variant::New), Era::V617);
    }

    #[test]
    fn only_6_17_tracks_everything() {
        let a = SimArch::x86_64(false);
        for u in [User::Vmemmap, User::KasanShadow, User::Percpu] {
            assert_eq!(Era::V58To616.populate(u, a), Populate::Plain);
            assert_eq!(Era::V617.populate(u, a), Populate::Tracked);
        }
        assert!(Era::Pre58.fault_handler(a).is_some());
        assert!(Era::V58To616.fault_handler(a).is_none());
        let arm = SimArch::Arm32(pgtable::arch::arm32::Arm32::SHORT);
        assert!(Era::ALL.iter().all(|e| e.fault_handler(arm).is_some()));
    }
}
