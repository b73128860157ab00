//! The panic handler: print the panic and leave QEMU with the fail status.
//!
//! Nothing else is needed from the environment: `x86_64-unknown-none`'s
//! `compiler_builtins` exports `memcpy`, `memmove`, `memset`, `memcmp` and
//! `bcmp` (checked by the `mem_functions` self-test), and its `core`/`alloc`
//! are built with `panic = "abort"`, so no unwinding symbols are asked for.

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("PANIC {}", info);
    crate::println!("RESULT fail");
    crate::exit::fail()
}
