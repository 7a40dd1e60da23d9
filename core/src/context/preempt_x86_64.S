// The asynchronous preemption trampoline for x86-64 (see core/src/preempt.cpp).
//
// The SIGURG handler, finding a goroutine stopped at a safe instruction, rewrites the
// signal context so that, when the handler returns, the thread continues here as if the
// interrupted instruction had called us: the interrupted pc is at (%rsp), and the
// 128-byte red zone above it (which the interrupted leaf code may be using) is left
// alone. We save every register the interrupted code could be using — flags, the
// caller-saved general registers (the C function we call preserves the callee-saved
// ones), and the whole extended state with XSAVE (x87, SSE, AVX, AVX-512, ...) or FXSAVE —
// call goro_async_preempted (which parks this goroutine on the global run queue and runs
// another; it returns when this one is resumed, possibly on another thread), restore
// everything, and return to the interrupted pc, dropping the red zone gap (ret $128).

        .text
        .globl  goro_async_preempt_entry
        .hidden goro_async_preempt_entry
        .type   goro_async_preempt_entry, @function
        .p2align 4
goro_async_preempt_entry:
        pushfq
        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %rbp
        movq    %rsp, %rbp
        movl    goro_xsave_size(%rip), %eax
        subq    %rax, %rsp
        andq    $-64, %rsp
        // XRSTOR wants the reserved header bytes (512..575) zero.
        xorl    %eax, %eax
        movq    %rax, 512(%rsp)
        movq    %rax, 520(%rsp)
        movq    %rax, 528(%rsp)
        movq    %rax, 536(%rsp)
        movq    %rax, 544(%rsp)
        movq    %rax, 552(%rsp)
        movq    %rax, 560(%rsp)
        movq    %rax, 568(%rsp)
        cmpb    $0, goro_use_xsave(%rip)
        je      1f
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rsp)
        jmp     2f
1:      fxsave64 (%rsp)
2:      cld
        call    goro_async_preempted
        cmpb    $0, goro_use_xsave(%rip)
        je      3f
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        jmp     4f
3:      fxrstor64 (%rsp)
4:      movq    %rbp, %rsp
        popq    %rbp
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rax
        popfq
        ret     $128
        .size   goro_async_preempt_entry, .-goro_async_preempt_entry

        .section .note.GNU-stack,"",@progbits
