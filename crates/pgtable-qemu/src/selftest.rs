//! Self-test of the boot infrastructure: CPU state, memory map, probes
//! (mapped, unmapped, non-canonical), CR3 switching with invlpg, the frame
//! allocator and the heap.

use crate::memmap::BootInfo;
use crate::report::{CheckResult, Checks};
use crate::{boot, cpu, ensure, frame, heap, probe};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// Target for the mapped probes.
static PROBE_TARGET: AtomicU64 = AtomicU64::new(0x5eed_cafe_f00d_0001);

/// Not mapped by the boot tables (they stop at 4 GiB), canonical in both modes.
const UNMAPPED_VA: u64 = 8 << 30;
/// Non-canonical with 48- and 57-bit addresses: probing it raises #GP.
const NON_CANONICAL_VA: u64 = 0x8000_0000_0000_0000;

pub fn run(c: &mut Checks, info: &BootInfo, la57_active: bool) {
    c.run("paging_mode", || paging_mode(la57_active));
    c.run("cpu_state", cpu_state);
    c.run("boot_info", || boot_info(info));
    c.run("probe_mapped", probe_mapped);
    c.run("probe_unmapped_read", || probe_unmapped(false));
    c.run("probe_unmapped_write", || probe_unmapped(true));
    c.run("probe_noncanonical", probe_noncanonical);
    c.run("cr3_switch_copy", || cr3_switch_copy(la57_active));
    c.run("frame_alloc", frame_alloc);
    c.run("heap_alloc", heap_alloc);
    c.run("mem_functions", mem_functions);
}

/// Deliberate crashes to check the fatal paths by hand, chosen on the kernel
/// command line (`-append pgq.crash=pf|ud|panic|hang`); they never return.
pub fn crash_if_asked(cmdline: &str) {
    for word in cmdline.split_whitespace() {
        match word {
            // SAFETY: none: this read is meant to fault outside a probe.
            "pgq.crash=pf" => unsafe {
                core::ptr::read_volatile(UNMAPPED_VA as *const u64);
            },
            // SAFETY: none: ud2 is meant to raise #UD.
            "pgq.crash=ud" => unsafe { core::arch::asm!("ud2") },
            "pgq.crash=panic" => panic!("deliberate panic from the command line"),
            "pgq.crash=hang" => cpu::halt_forever(),
            _ => {}
        }
    }
}

fn paging_mode(la57_active: bool) -> CheckResult {
    ensure!(
        !boot::LA57_REQUESTED || la57_active,
        "5-level paging requested but CPUID.7.0:ECX[16] (LA57) is clear"
    );
    ensure!(
        cpu::la57_active() == la57_active,
        "CR4.LA57={} but trampoline said {}",
        cpu::la57_active(),
        la57_active
    );
    let top = cpu::read_cr3() & cpu::CR3_ADDR_MASK;
    ensure!(
        top == boot::boot_top_table(la57_active),
        "CR3 {top:#x} is not the boot top-level table"
    );
    Ok(())
}

fn cpu_state() -> CheckResult {
    let (cr0, cr4, efer) = (cpu::read_cr0(), cpu::read_cr4(), cpu::read_efer());
    ensure!(
        cr0 & cpu::CR0_PG != 0 && cr0 & cpu::CR0_WP != 0,
        "CR0 {cr0:#x}: PG/WP clear"
    );
    ensure!(
        cr0 & cpu::CR0_EM == 0 && cr0 & cpu::CR0_MP != 0,
        "CR0 {cr0:#x}: SSE not enabled"
    );
    ensure!(
        cr4 & cpu::CR4_PAE != 0 && cr4 & cpu::CR4_OSFXSR != 0,
        "CR4 {cr4:#x}"
    );
    ensure!(
        efer & cpu::EFER_LME != 0 && efer & cpu::EFER_LMA != 0,
        "EFER {efer:#x}: not in long mode"
    );
    ensure!(efer & cpu::EFER_NXE != 0, "EFER {efer:#x}: NXE clear");
    Ok(())
}

fn boot_info(info: &BootInfo) -> CheckResult {
    ensure!(info.version >= 1, "hvm_start_info version {}", info.version);
    ensure!(info.nr_ranges > 0, "empty memory map");
    let ram = info.ram_bytes();
    ensure!(ram >= 64 << 20, "only {} KiB of RAM", ram >> 10);
    Ok(())
}

fn probe_mapped() -> CheckResult {
    let va = PROBE_TARGET.as_ptr() as u64;
    let v = probe::read_u64(va).map_err(|f| format!("read faulted: {f:?}"))?;
    ensure!(v == 0x5eed_cafe_f00d_0001, "read {v:#x}");
    probe::probe(va, false).map_err(|f| format!("probe read faulted: {f:?}"))?;
    probe::probe(va, true).map_err(|f| format!("probe write faulted: {f:?}"))?;
    // SAFETY: PROBE_TARGET is an atomic static meant to be written.
    unsafe { probe::write_u64(va, 0x1234) }.map_err(|f| format!("write faulted: {f:?}"))?;
    ensure!(
        PROBE_TARGET.load(Ordering::SeqCst) == 0x1234,
        "write not seen"
    );
    Ok(())
}

fn probe_unmapped(write: bool) -> CheckResult {
    let before = probe::fault_count();
    let f = match probe::probe(UNMAPPED_VA, write) {
        Ok(()) => return Err(format!("{UNMAPPED_VA:#x} did not fault")),
        Err(f) => f,
    };
    ensure!(f.is_page_fault(), "vector {} instead of #PF", f.vector);
    ensure!(f.addr == UNMAPPED_VA, "CR2 {:#x}", f.addr);
    ensure!(
        f.write() == write && !f.present(),
        "error code {:#x}",
        f.error_code
    );
    let want = if write { 0x2 } else { 0x0 };
    ensure!(
        f.error_code == want,
        "error code {:#x}, want {want:#x}",
        f.error_code
    );
    ensure!(probe::fault_count() == before + 1, "fault count");
    // Execution continued; a mapped probe still works.
    probe::probe(PROBE_TARGET.as_ptr() as u64, false).map_err(|f| format!("after: {f:?}"))?;
    Ok(())
}

fn probe_noncanonical() -> CheckResult {
    match probe::probe(NON_CANONICAL_VA, false) {
        Ok(()) => Err("no fault".into()),
        Err(f) if f.vector == 13 && f.addr == NON_CANONICAL_VA => Ok(()),
        Err(f) => Err(format!("{f:?}")),
    }
}

/// Copy the boot top-level table into a fresh frame, add an alias of entry 0
/// at entry 1, switch CR3 to the copy and back, checking visibility and
/// invlpg on the way.
fn cr3_switch_copy(la57_active: bool) -> CheckResult {
    let boot_cr3 = cpu::read_cr3();
    let boot_top = boot_cr3 & cpu::CR3_ADDR_MASK;
    let copy = frame::alloc_zeroed_frame().ok_or("no frame")?;
    let top = frame::phys_to_virt(copy) as *mut u64;
    // SAFETY: both are identity-mapped 4 KiB tables; `copy` is ours.
    unsafe {
        core::ptr::copy_nonoverlapping(frame::phys_to_virt(boot_top) as *const u64, top, 512)
    };
    // SAFETY: `top` points to our frame; index 1 is in bounds.
    unsafe { top.add(1).write_volatile(top.read_volatile()) };

    let span = if la57_active { 1u64 << 48 } else { 1u64 << 39 };
    let va = PROBE_TARGET.as_ptr() as u64;
    let alias = va + span;
    PROBE_TARGET.store(0xa11a_5000, Ordering::SeqCst);
    ensure!(
        probe::probe(alias, false).is_err(),
        "alias {alias:#x} mapped before switch"
    );

    // SAFETY: the copy holds the same entry 0 as the boot table, so every
    // address the kernel uses stays mapped identically.
    unsafe { cpu::write_cr3(copy) };
    let switched = cpu::read_cr3() & cpu::CR3_ADDR_MASK;
    let through_alias = probe::read_u64(alias);
    let direct = probe::read_u64(va);
    // Unmap the alias in the live copy; invlpg must make that visible.
    // SAFETY: as above, `top` is our table.
    unsafe { top.add(1).write_volatile(0) };
    cpu::invlpg(alias);
    let after_invlpg = probe::read_u64(alias);
    // Put it back; a full flush makes it visible again.
    // SAFETY: as above.
    unsafe { top.add(1).write_volatile(top.read_volatile()) };
    cpu::flush_tlb_all();
    let after_flush = probe::read_u64(alias);
    // SAFETY: boot tables are static and map everything.
    unsafe { cpu::write_cr3(boot_cr3) };
    let back = cpu::read_cr3();
    let after_back = probe::probe(alias, false);
    // SAFETY: the copy is no longer loaded nor referenced.
    unsafe { frame::free_frame(copy) };

    ensure!(switched == copy, "CR3 reads {switched:#x}, wrote {copy:#x}");
    ensure!(
        direct == Ok(0xa11a_5000),
        "direct read under copy: {direct:?}"
    );
    ensure!(
        through_alias == Ok(0xa11a_5000),
        "alias read under copy: {through_alias:?}"
    );
    ensure!(
        matches!(after_invlpg, Err(f) if f.addr == alias && !f.present()),
        "alias still readable after clearing entry + invlpg: {after_invlpg:?}"
    );
    ensure!(
        after_flush == Ok(0xa11a_5000),
        "alias after restore + flush: {after_flush:?}"
    );
    ensure!(back == boot_cr3, "CR3 {back:#x} after switching back");
    ensure!(after_back.is_err(), "alias readable under boot tables");
    Ok(())
}

fn frame_alloc() -> CheckResult {
    let before = frame::stats();
    let (_, kend) = boot::kernel_image();
    let a = frame::alloc_zeroed_frame().ok_or("alloc a")?;
    let b = frame::alloc_frame().ok_or("alloc b")?;
    ensure!(a != b, "same frame twice {a:#x}");
    for p in [a, b] {
        ensure!(p.is_multiple_of(frame::PAGE_SIZE), "{p:#x} not aligned");
        ensure!(
            p >= kend && p < frame::DIRECT_MAP_END,
            "{p:#x} outside RAM window"
        );
    }
    // SAFETY: `a` is our identity-mapped frame.
    let zero = unsafe { core::slice::from_raw_parts(frame::phys_to_virt(a) as *const u64, 512) };
    ensure!(zero.iter().all(|&w| w == 0), "zeroed frame not zero");
    // SAFETY: `b` is ours and unused.
    unsafe { frame::free_frame(b) };
    let c = frame::alloc_frame().ok_or("alloc c")?;
    ensure!(c == b, "free list not reused: {c:#x} vs {b:#x}");
    // SAFETY: `a` and `c` are ours and unused.
    unsafe {
        frame::free_frame(a);
        frame::free_frame(c);
    }
    let after = frame::stats();
    ensure!(
        after.in_use == before.in_use,
        "leak: {before:?} -> {after:?}"
    );
    Ok(())
}

fn heap_alloc() -> CheckResult {
    let (used_before, _) = heap::usage();
    {
        let v: Vec<u64> = (0..100_000u64).collect();
        let sum: u64 = v.iter().sum();
        ensure!(sum == 100_000 * 99_999 / 2, "vec sum {sum}");
        let b = Box::new([7u8; 4096]);
        ensure!(b.iter().all(|&x| x == 7), "box");
        let mut m = BTreeMap::new();
        for i in 0..1000u32 {
            m.insert(i, format!("v{i}"));
        }
        ensure!(m.get(&999).map(String::as_str) == Some("v999"), "btreemap");
    }
    let (used_after, free) = heap::usage();
    ensure!(
        used_after == used_before,
        "heap leak {used_before} -> {used_after}"
    );
    ensure!(free > 1 << 20, "heap nearly full ({free} free)");
    Ok(())
}

/// memmove in both directions, memset, memcmp/bcmp (the kernel's own asm).
fn mem_functions() -> CheckResult {
    use core::hint::black_box;
    let mut buf: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let n = black_box(3000);
    // Forward overlap (dst < src) and backward overlap (dst > src).
    buf.copy_within(black_box(100)..100 + n, black_box(0));
    ensure!(
        (0..n).all(|i| buf[i] == ((i + 100) % 256) as u8),
        "memmove forward"
    );
    let mut buf: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    buf.copy_within(black_box(0)..n, black_box(100));
    ensure!(
        (0..n).all(|i| buf[i + 100] == (i % 256) as u8),
        "memmove backward"
    );
    let mut z = vec![0xffu8; black_box(1000)];
    z.fill(black_box(0x5a));
    ensure!(z.iter().all(|&b| b == 0x5a), "memset");
    let a = black_box(vec![1u8; 500]);
    let mut b = black_box(vec![1u8; 500]);
    ensure!(a == b, "bcmp equal");
    b[499] = 2;
    ensure!(a != b && a[..] < b[..], "bcmp/memcmp differ");
    ensure!(
        a[..].cmp(&b[..]) == core::cmp::Ordering::Less,
        "memcmp order"
    );
    Ok(())
}
