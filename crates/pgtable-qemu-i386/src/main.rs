//! Bare-metal x86-32 test kernel for QEMU's pc machine (multiboot, 32-bit
//! protected mode): runs `pgtable` on the real (emulated) MMU in 2-level or
//! PAE paging and checks it against the software MMU `pgtable-mmu`. See
//! README.md.

#![no_std]
#![deny(clippy::undocumented_unsafe_blocks)]
#![no_main]

extern crate alloc;

mod boot;
mod bus;
mod compare;
mod console;
mod cpu;
mod crosscheck;
mod data;
mod frame;
mod heap;
mod machine;
mod mem;
mod memory;
mod mode;
mod probe;
mod report;
mod scenarios;
mod trap;

use alloc::format;
use pgtable::PagingGeometry;
use report::Checks;

/// Table frames of the main machine.
const MAIN_TABLE_PAGES: u64 = 1024;
/// The multiboot loader's magic in EAX.
const MULTIBOOT_MAGIC: u32 = 0x2bad_b002;

/// Called by boot.rs on the boot stack, paging on (the boot table), running
/// at KBASE + pa, with the loader's EAX and EBX.
extern "C" fn kmain(magic: u32, mbi: u32) -> ! {
    console::init();
    trap::init_idt();
    let (start, end) = boot::kernel_image();
    println!(
        "pgtable-qemu-i386: kernel {:#x}..{:#x} (physical {:#x})",
        start,
        end,
        start - boot::KBASE
    );
    // RAM from the multiboot information: mem_upper KiB above 1 MiB.
    let ram_end = if magic == MULTIBOOT_MAGIC {
        multiboot_ram_end(mbi)
    } else {
        0
    };
    let first = (end - boot::KBASE + (4 << 20) - 1) & !((4 << 20) - 1);
    frame::init(first, ram_end);
    println!("MODE {}", machine::ARCH.name());
    if let Err(e) = heap::init() {
        println!("CHECK heap FAIL {e}");
        println!("RESULT fail");
        console::fail();
    }
    let mut c = Checks::default();
    c.run("boot", || {
        if magic != MULTIBOOT_MAGIC {
            return Err(format!("EAX={magic:#x}, not the multiboot magic"));
        }
        if ram_end < boot::LOWMEM_END + frame::HIGH_WINDOW {
            return Err(format!(
                "RAM ends at {ram_end:#x}; run with -m 1G (low memory to {:#x}, high above)",
                boot::LOWMEM_END
            ));
        }
        Ok(format!(
            "multiboot, RAM to {ram_end:#x}, boot cr3={:#x}",
            cpu::cr3()
        ))
    });
    if c.failed() != 0 {
        c.finish();
    }
    c.run("cpu", machine::init_cpu);
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
        let v = alloc::vec![1u32, 2, 3];
        Ok(format!(
            "cr3={:#x} (library kernel root {:#x}) sum={}",
            cpu::cr3(),
            main.pt.kernel_root().0,
            v.iter().sum::<u32>()
        ))
    });
    if machine::ARCH.pae {
        c.run("qemu-pdpte-accessed", || machine::qemu_sets_pdpte_a(&main));
    }
    if c.failed() == 0 {
        crosscheck::run(&mut c, main);
        scenarios::run(&mut c);
    }
    machine::go_home();
    println!(
        "heap {} KiB used, {} MiB low memory left, {} faults recovered",
        heap::used() / 1024,
        frame::free_bytes() >> 20,
        probe::fault_count()
    );
    c.finish()
}

/// End of RAM from the multiboot information at physical `mbi` (flags bit
/// 0: mem_lower/mem_upper valid; mem_upper is KiB from 1 MiB up).
fn multiboot_ram_end(mbi: u32) -> u64 {
    let pa = u64::from(mbi);
    if pa + 12 > boot::LOWMEM_END {
        return 0;
    }
    let word = |off: u64| {
        // SAFETY: the multiboot information lies in low memory, which the
        // boot table maps at KBASE + pa; it is read before any frame is
        // handed out, so nothing has overwritten it.
        unsafe { core::ptr::read_volatile(frame::kva(pa + off) as usize as *const u32) }
    };
    if word(0) & 1 == 0 {
        return 0;
    }
    (1 << 20) + u64::from(word(8)) * 1024
}

/// A load and a store of an unmapped address fault (#PF, CR2 = the
/// address, error codes 0 and W) and are survived; a load of a mapped word
/// returns it.
fn selftest() -> report::CheckResult {
    let va = 0xffff_f000u32;
    let before = probe::fault_count();
    let r = probe::read(va);
    // SAFETY: `va` is unmapped in the boot table (only [0, 880 MiB) and
    // KBASE + that are mapped), so the store faults and writes nothing.
    let w = unsafe { probe::write(va, 0) };
    match (r, w) {
        (Err(l), Err(s))
            if l.error == 0 && s.error == compare::ERR_W && l.cr2 == va && s.cr2 == va => {}
        other => return Err(format!("unmapped {va:#x}: {other:?}")),
    }
    let word = 0x1234_5678u32;
    let x = alloc::boxed::Box::new(word);
    let got = probe::read(&*x as *const u32 as u32);
    if got != Ok(word) {
        return Err(format!("mapped word read {got:?}"));
    }
    Ok(format!(
        "read #PF error 0 and write #PF error {:#x} at {va:#x} recovered ({} faults), mapped load ok",
        compare::ERR_W,
        probe::fault_count() - before
    ))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("PANIC {info}");
    println!("RESULT fail");
    console::fail()
}
