//! Symbols the precompiled `core` needs from the environment: the C memory
//! functions (not exported by the host target's `compiler_builtins`), the
//! unwinding personality, and the panic handler.
//!
//! The memory functions are in assembly so the optimiser cannot turn them
//! into calls to themselves.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.mem, "ax", @progbits

    .global memcpy
    .type memcpy, @function
memcpy:                         # (rdi dst, rsi src, rdx n) -> rax dst
    mov rax, rdi
    mov rcx, rdx
    rep movsb
    ret

    .global memmove
    .type memmove, @function
memmove:                        # overlapping copy
    mov rax, rdi
    mov rcx, rdx
    cmp rdi, rsi
    jbe .Lmemmove_fwd           # dst <= src: forward is safe
    lea r8, [rsi + rdx]
    cmp rdi, r8
    jae .Lmemmove_fwd           # dst >= src + n: no overlap
    lea rsi, [rsi + rdx - 1]
    lea rdi, [rdi + rdx - 1]
    std
    rep movsb
    cld
    ret
.Lmemmove_fwd:
    rep movsb
    ret

    .global memset
    .type memset, @function
memset:                         # (rdi dst, esi byte, rdx n) -> rax dst
    mov r9, rdi
    mov eax, esi
    mov rcx, rdx
    rep stosb
    mov rax, r9
    ret

    .global memcmp
    .type memcmp, @function
memcmp:                         # (rdi a, rsi b, rdx n) -> eax <0/0/>0
    xor eax, eax
    test rdx, rdx
    jz .Lmemcmp_done
.Lmemcmp_loop:
    movzx eax, byte ptr [rdi]
    movzx ecx, byte ptr [rsi]
    sub eax, ecx
    jnz .Lmemcmp_done
    inc rdi
    inc rsi
    dec rdx
    jnz .Lmemcmp_loop
.Lmemcmp_done:
    ret

    .global bcmp
    .type bcmp, @function
bcmp:
    jmp memcmp
"#
);

/// Required by the linker because the precompiled `core` was built with
/// unwinding; never called with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("PANIC {}", info);
    crate::println!("RESULT fail");
    crate::exit::fail()
}

/// Referenced by the precompiled `alloc` (built with unwinding) on cleanup
/// paths that `panic = "abort"` never takes.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate::println!("PANIC _Unwind_Resume called");
    crate::println!("RESULT fail");
    crate::exit::fail()
}
