//! Bare-metal arm64 test kernel for QEMU `virt`: runs `pgtable` on the real
//! (emulated) MMU and checks it against the software MMU `pgtable-mmu`.
//! See README.md.

#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![no_main]

extern crate alloc;

mod boot;
mod compare;
mod cpu;
mod crosscheck;
mod data;
mod exit;
mod fetch;
mod frame;
mod heap;
mod high_pa;
mod ioremap;
mod machine;
mod probe;
mod report;
mod scenarios;
mod selftest;
mod uart;

use alloc::format;
use report::Checks;

/// Table frames of the main machine.
const MAIN_TABLE_PAGES: u64 = 1024;

/// Called by boot.rs on the boot stack, MMU on, running at KBASE + pa.
extern "C" fn kmain() -> ! {
    let (start, end) = boot::kernel_image();
    println!(
        "pgtable-qemu-arm64: kernel {:#x}..{:#x} (physical {:#x})",
        start,
        end,
        start - boot::KBASE
    );
    let first = (end - boot::KBASE + (2 << 20) - 1) & !((2 << 20) - 1);
    frame::init(first);
    if let Err(e) = heap::init() {
        println!("CHECK boot FAIL {e}");
        println!("RESULT fail");
        exit::fail();
    }
    println!("MODE arm64/{}-bit", cpu::VA_BITS);
    let mut c = Checks::default();
    c.run("boot", selftest::boot_facts);
    c.run("probe-recovery", selftest::probe_recovery);
    let main = match machine::Machine::new(MAIN_TABLE_PAGES) {
        Ok(m) => m,
        Err(e) => {
            c.record("own-tables", Err(e));
            c.finish();
        }
    };
    c.run("own-tables", || {
        main.set_home();
        // Still alive after TTBR1 moved to the library's root: prove it
        // with a heap allocation and a print through the new tables.
        let v = alloc::vec![1u64, 2, 3];
        Ok(format!(
            "TTBR1_EL1={:#x} (library kernel root) sum={}",
            cpu::ttbr1(),
            v.iter().sum::<u64>()
        ))
    });
    if c.failed() == 0 {
        crosscheck::run(&mut c, main);
        scenarios::run(&mut c);
        ioremap::run(&mut c);
    }
    machine::go_home();
    println!(
        "heap {} KiB used, {} MiB RAM left",
        heap::used() / 1024,
        frame::free_bytes() >> 20
    );
    c.finish()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("PANIC {info}");
    println!("RESULT fail");
    exit::fail()
}
