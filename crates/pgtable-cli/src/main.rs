//! `pgtable`: runs the page-table scenarios.

use pgtable::arch::RegionKind;
use pgtable::{Arch, PageTables, PhysAddr, Prot, SparseMemory, VirtAddr, X86_64, PAGE_SIZE};
use std::process::ExitCode;

/// Map a vmalloc page into an empty top-level slot after a process exists,
/// once as pre-6.17 code did it and once through the kernel edit, and say
/// whether the process sees it.
fn vmalloc_new_slot(arch: X86_64, legacy: bool) -> Result<bool, pgtable::Error> {
    let mem = SparseMemory::new(PhysAddr(1 << 32)..PhysAddr(2 << 32));
    let pt = PageTables::new(arch, mem)?;
    let process = pt.create_space()?;
    let va = VirtAddr(arch.layout().get(RegionKind::Vmalloc).map_or(0, |r| r.start));
    let mut kernel = pt.kernel();
    if legacy {
        // SAFETY: this demonstration never runs code on the stale root; it
        // only shows that the root is stale.
        let mut edit = unsafe { kernel.legacy_edit() };
        edit.vmap_range(va, PhysAddr(0x20_0000), PAGE_SIZE, Prot::KERNEL, 12)?;
    } else {
        kernel.edit().vmap_range(va, PhysAddr(0x20_0000), PAGE_SIZE, Prot::KERNEL, 12)?;
    }
    drop(kernel);
    let seen = pt.translate(process.root(), va).is_some();
    pt.destroy_space(process);
    Ok(seen)
}

fn main() -> ExitCode {
    let mut ok = true;
    println!("{:<16} {:<16} {:<12} {:<12}", "mode", "scenario", "old code", "new code");
    for arch in [X86_64::FIVE_LEVEL, X86_64::FOUR_LEVEL] {
        let (old, new) = match (vmalloc_new_slot(arch, true), vmalloc_new_slot(arch, false)) {
            (Ok(o), Ok(n)) => (o, n),
            (a, b) => {
                eprintln!("{}: {a:?} {b:?}", arch.name());
                return ExitCode::FAILURE;
            }
        };
        let word = |seen: bool| if seen { "visible" } else { "MISSING" };
        println!("{:<16} {:<16} {:<12} {:<12}", arch.name(), "vmalloc-new-slot", word(old), word(new));
        ok &= !old && new;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
