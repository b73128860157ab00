//! pgtable-qemu: a bare-metal x86-64 test kernel booted by QEMU through PVH.
//!
//! Boot (`boot.rs`) identity-maps the first 4 GiB and enters `kmain` in long
//! mode (4-level, or 5-level with the `la57` feature when the CPU has it).
//! `kmain` sets up serial, GDT/TSS/IDT, the memory map, the frame allocator
//! and the heap, runs the infrastructure self-test, then builds its own page
//! tables with `pgtable` and runs on them: the historical scenarios
//! (`scenarios`) and the real-vs-software MMU cross-check (`crosscheck`);
//! the `smp` image then starts the other CPUs and runs the SMP checks
//! (`smp`).

#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![no_main]

extern crate alloc;

mod apic;
mod boot;
mod cpu;
mod crosscheck;
mod data;
mod exit;
mod extable;
mod frame;
mod gdt;
mod heap;
mod interrupts;
mod memmap;
mod panic;
mod probe;
mod report;
mod scenarios;
mod selftest;
mod serial;
mod shootdown;
mod smp;
mod space;
mod sync;
mod touch;

use report::Checks;

/// The `smp` image (`-smp 4`): after the single-CPU checks, start the APs
/// and run the SMP checks (`smp`).
const SMP: bool = cfg!(feature = "smp");

/// Entered from the trampoline with the physical address of
/// `hvm_start_info` and whether CR4.LA57 was set.
#[no_mangle]
pub extern "C" fn kmain(start_info_pa: u32, la57_active: bool) -> ! {
    serial::init();
    gdt::init();
    interrupts::init();

    let (kstart, kend) = boot::kernel_image();
    println!("pgtable-qemu: PVH boot, hvm_start_info at {start_info_pa:#x}");
    println!(
        "MODE {}-level{}",
        if la57_active { 5 } else { 4 },
        if SMP { "+smp" } else { "" }
    );
    if boot::LA57_REQUESTED && !la57_active {
        println!("NOTE 5-level paging requested but CPUID.7.0:ECX[16] (LA57) is clear");
    }
    println!(
        "KERNEL image {kstart:#x}..{kend:#x}, boot stack top {:#x}",
        boot::boot_stack_top_addr()
    );

    let info = match memmap::parse(start_info_pa) {
        Ok(info) => info,
        Err(e) => {
            println!("CHECK boot_info FAIL {e}");
            println!("RESULT fail");
            exit::fail()
        }
    };
    println!("RAM {} MiB", info.ram_bytes() >> 20);
    for r in info.ranges() {
        println!(
            "  memmap {:#012x}..{:#012x} type {}",
            r.start, r.end, r.kind
        );
    }
    if !info.cmdline().is_empty() {
        println!("CMDLINE {}", info.cmdline());
    }

    frame::init(&info, kend);
    let Some((heap_pa, heap_size)) = heap::init() else {
        println!("CHECK heap_init FAIL no contiguous RAM for the heap");
        println!("RESULT fail");
        exit::fail()
    };
    let fs = frame::stats();
    let (fr, nr) = frame::ranges();
    for r in &fr[..nr] {
        println!("  frames {:#012x}..{:#012x}", r.start, r.end);
    }
    println!(
        "HEAP {:#x}..{:#x} ({} MiB); frames: {} total, {} free, {} on free list",
        heap_pa,
        heap_pa + heap_size,
        heap_size >> 20,
        fs.total,
        fs.total - fs.in_use,
        fs.free_listed
    );

    selftest::crash_if_asked(info.cmdline());
    let mut checks = Checks::new();
    selftest::run(&mut checks, &info, la57_active);

    // From here the kernel runs on page tables the library built.
    let main = crosscheck::setup::setup();
    checks.record_detail("own-tables", crosscheck::setup::running_on(&main));
    scenarios::run(&mut checks);
    if let Ok(main) = &main {
        crosscheck::run(&mut checks, main);
    }
    if SMP {
        smp::run(&mut checks, info.cmdline());
    }
    checks.finish()
}
