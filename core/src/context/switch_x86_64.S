// goro's context switch for x86-64 (System V ABI). See core/src/context.hpp.
//
// A suspended context is just a stack pointer: the callee-saved registers, the MXCSR
// and x87 control words, and the resume address were pushed on its own stack.
//
//   goro_ctx_switch(void** save_sp, void* load_sp)
//     saves the caller's context, stores its sp in *save_sp, resumes load_sp.
//   goro_ctx_start(void** save_sp, void* stack_top, void* arg, void (*fn)(void*))
//     saves the caller's context like goro_ctx_switch, then calls fn(arg) on a fresh
//     stack whose (16-byte aligned) top is stack_top. fn never returns.
//
// Frame of a suspended context, from its saved sp upwards:
//   +0  mxcsr (4 bytes), x87 control word (2 bytes), pad
//   +8  r15  +16 r14  +24 r13  +32 r12  +40 rbx  +48 rbp  +56 return address
// Caller-saved registers need no saving: the switch is an ordinary call. The
// asynchronous preemption trampoline (issue 5) saves every register itself on the
// goroutine's stack before entering the scheduler, then resumes through this switch.

        .text
        .globl  goro_ctx_switch
        .type   goro_ctx_switch, @function
        .p2align 4
goro_ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   goro_ctx_switch, .-goro_ctx_switch

        .globl  goro_ctx_start
        .type   goro_ctx_start, @function
        .p2align 4
goro_ctx_start:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        movq    %rdx, %rdi
        jmp     goro_ctx_entry
        .cfi_endproc
        .size   goro_ctx_start, .-goro_ctx_start

// The outermost frame of every goroutine: the return address is undefined, so
// debuggers and unwinders stop here.
        .type   goro_ctx_entry, @function
        .p2align 4
goro_ctx_entry:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        callq   *%rcx
        ud2
        .cfi_endproc
        .size   goro_ctx_entry, .-goro_ctx_entry

        .section .note.GNU-stack,"",@progbits
