//! Bare-metal riscv64 test kernel for QEMU `virt` (S-mode under OpenSBI):
//! runs `pgtable` on the real (emulated) MMU and checks it against the
//! software MMU `pgtable-mmu`. See README.md.

#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![no_main]

extern crate alloc;

mod boot;
mod compare;
mod console;
mod crosscheck;
mod data;
mod frame;
mod heap;
mod ioremap;
mod machine;
mod probe;
mod report;
mod scenarios;

use alloc::format;
use report::Checks;

/// Table frames of the main machine.
const MAIN_TABLE_PAGES: u64 = 1024;

/// Called by boot.rs on the boot stack, satp = the boot table, running at
/// KBASE + pa.
extern "C" fn kmain() -> ! {
    let (start, end) = boot::kernel_image();
    println!(
        "pgtable-qemu-riscv64: kernel {:#x}..{:#x} (physical {:#x})",
        start,
        end,
        start - boot::KBASE
    );
    let first = (end - boot::KBASE + (2 << 20) - 1) & !((2 << 20) - 1);
    frame::init(first);
    if let Err(e) = heap::init() {
        println!("CHECK boot FAIL {e}");
        println!("RESULT fail");
        console::fail();
    }
    println!("MODE riscv64/sv{}", machine::VA_BITS);
    let mut c = Checks::default();
    c.run("boot", || {
        Ok(format!(
            "S-mode, satp={:#x} (boot Sv39 root {:#x})",
            machine::satp_bits(),
            boot::boot_root()
        ))
    });
    c.run("probe-recovery", selftest);
    let main = match machine::Machine::new(MAIN_TABLE_PAGES) {
        Ok(m) => m,
        Err(e) => {
            c.record("own-tables", Err(e));
            c.finish();
        }
    };
    c.run("own-tables", || {
        main.set_home();
        let v = alloc::vec![1u64, 2, 3];
        Ok(format!(
            "satp={:#x} (library kernel root {:#x}) sum={}",
            machine::satp_bits(),
            main.pt.kernel_root().0,
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
        "heap {} KiB used, {} MiB RAM left, {} faults recovered",
        heap::used() / 1024,
        frame::free_bytes() >> 20,
        probe::fault_count()
    );
    c.finish()
}

/// A load and a store of unmapped addresses fault (causes 13 and 15, stval
/// the address) and are survived; a load of a mapped word returns it.
fn selftest() -> report::CheckResult {
    let va = 0x1000u64;
    let before = probe::fault_count();
    let r = probe::read(va);
    // SAFETY: `va` is unmapped in the boot table (only slots 2 and 510
    // hold leaves), so the store faults and writes nothing.
    let w = unsafe { probe::write(va, 0) };
    match (r, w) {
        (Err(l), Err(s))
            if l.scause == compare::LOAD_PF
                && s.scause == compare::STORE_PF
                && l.stval == va
                && s.stval == va => {}
        other => return Err(format!("unmapped {va:#x}: {other:?}")),
    }
    let word = 0x1234_5678_9abc_def0u64;
    let x = alloc::boxed::Box::new(word);
    let got = probe::read(&*x as *const u64 as u64);
    if got != Ok(word) {
        return Err(format!("mapped word read {got:?}"));
    }
    Ok(format!(
        "load fault cause 13 and store fault cause 15 at {va:#x} recovered ({} faults), mapped load ok",
        probe::fault_count() - before
    ))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("PANIC {info}");
    println!("RESULT fail");
    console::fail()
}
