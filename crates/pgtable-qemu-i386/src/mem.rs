//! Symbols the precompiled `core` and `alloc` of i686-unknown-linux-gnu
//! expect from the C library, which this kernel does not link: the memory
//! functions (that target's `compiler_builtins` does not export them) and
//! the unwinding hooks (the precompiled `alloc` was built with unwinding;
//! `panic = "abort"` never reaches them). As in the x86-64 kernel's
//! `mem.rs`, the memory functions are assembly (cdecl: arguments on the
//! stack), so the optimiser cannot turn them into calls to themselves.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.mem, "ax", @progbits

    .global memcpy
    .type memcpy, @function
memcpy:                         # (dst, src, n) -> eax dst
    push edi
    push esi
    mov edi, [esp + 12]
    mov esi, [esp + 16]
    mov ecx, [esp + 20]
    mov eax, edi
    rep movsb
    pop esi
    pop edi
    ret

    .global memmove
    .type memmove, @function
memmove:                        # overlapping copy
    push edi
    push esi
    mov edi, [esp + 12]
    mov esi, [esp + 16]
    mov ecx, [esp + 20]
    mov eax, edi
    cmp edi, esi
    jbe .Lmemmove_fwd           # dst <= src: forward is safe
    lea edx, [esi + ecx]
    cmp edi, edx
    jae .Lmemmove_fwd           # dst >= src + n: no overlap
    lea esi, [esi + ecx - 1]
    lea edi, [edi + ecx - 1]
    std
    rep movsb
    cld
    pop esi
    pop edi
    ret
.Lmemmove_fwd:
    rep movsb
    pop esi
    pop edi
    ret

    .global memset
    .type memset, @function
memset:                         # (dst, byte, n) -> eax dst
    push edi
    mov edi, [esp + 8]
    mov eax, [esp + 12]
    mov ecx, [esp + 16]
    rep stosb
    mov eax, [esp + 8]
    pop edi
    ret

    .global memcmp
    .type memcmp, @function
memcmp:                         # (a, b, n) -> eax <0/0/>0
    push esi
    push edi
    mov esi, [esp + 12]
    mov edi, [esp + 16]
    mov edx, [esp + 20]
    xor eax, eax
    test edx, edx
    jz .Lmemcmp_done
.Lmemcmp_loop:
    movzx eax, byte ptr [esi]
    movzx ecx, byte ptr [edi]
    sub eax, ecx
    jnz .Lmemcmp_done
    inc esi
    inc edi
    dec edx
    jnz .Lmemcmp_loop
.Lmemcmp_done:
    pop edi
    pop esi
    ret

    .global bcmp
    .type bcmp, @function
bcmp:
    jmp memcmp
"#
);

/// Required by the linker because the precompiled `alloc` was built with
/// unwinding; never called with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// Referenced by the precompiled `alloc` on cleanup paths that
/// `panic = "abort"` never takes.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate::println!("PANIC _Unwind_Resume called");
    crate::println!("RESULT fail");
    crate::console::fail()
}
