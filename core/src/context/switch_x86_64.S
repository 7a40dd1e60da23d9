// goro's context switch for x86-64 (System V ABI). See core/src/context.hpp.
//
// A suspended context is just a stack pointer: the callee-saved registers and the resume
// address were stored on its own stack. The floating-point control state (MXCSR, the x87
// control word: rounding mode, exception masks) is not switched, as Go's gogo does not:
// it belongs to the thread, and goroutines share it. Saving it cost ~3 ns of an ~8 ns
// switch (stmxcsr/ldmxcsr). A goroutine stopped asynchronously saves and restores all of
// it (XSAVE) in the preemption trampoline, so preemption never changes it under code.
//
//   goro_ctx_switch(void** save_sp, void* load_sp)
//     saves the caller's context, stores its sp in *save_sp, resumes load_sp.
//   goro_ctx_start(void** save_sp, void* stack_top, void* arg, void (*fn)(void*))
//     saves the caller's context like goro_ctx_switch, then calls fn(arg) on a fresh
//     stack whose (16-byte aligned) top is stack_top. fn never returns.
//
// Frame of a suspended context, from its saved sp upwards:
//   +0x00 unused (kept for alignment)
//   +0x08 r15  +0x10 r14  +0x18 r13  +0x20 r12  +0x28 rbx  +0x30 rbp  +0x38 return address
// Caller-saved registers need no saving: the switch is an ordinary call. The
// asynchronous preemption trampoline (issue 5) saves every register itself on the
// goroutine's stack before entering the scheduler, then resumes through this switch.

        .text
        .globl  goro_ctx_switch
        .type   goro_ctx_switch, @function
        .p2align 4
goro_ctx_switch:
        .cfi_startproc
        // Stores to fixed offsets rather than push/pop. It ends with ret, not with a jmp
        // to the loaded return address as Boost's fcontext does: a jmp is a little faster
        // in a switch-only loop, but it leaves the call's return-stack-buffer entry
        // behind, and every ret after the switch then mispredicts (yield ping-pong went
        // from ~20 to ~40 ns). Goroutines suspended at the same call site make the ret
        // itself predictable.
        leaq    -0x38(%rsp), %rsp
        movq    %r15, 0x08(%rsp)
        movq    %r14, 0x10(%rsp)
        movq    %r13, 0x18(%rsp)
        movq    %r12, 0x20(%rsp)
        movq    %rbx, 0x28(%rsp)
        movq    %rbp, 0x30(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        movq    0x08(%rsp), %r15
        movq    0x10(%rsp), %r14
        movq    0x18(%rsp), %r13
        movq    0x20(%rsp), %r12
        movq    0x28(%rsp), %rbx
        movq    0x30(%rsp), %rbp
        leaq    0x38(%rsp), %rsp
        ret
        .cfi_endproc
        .size   goro_ctx_switch, .-goro_ctx_switch

        .globl  goro_ctx_start
        .type   goro_ctx_start, @function
        .p2align 4
goro_ctx_start:
        .cfi_startproc
        leaq    -0x38(%rsp), %rsp
        movq    %r15, 0x08(%rsp)
        movq    %r14, 0x10(%rsp)
        movq    %r13, 0x18(%rsp)
        movq    %r12, 0x20(%rsp)
        movq    %rbx, 0x28(%rsp)
        movq    %rbp, 0x30(%rsp)
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
