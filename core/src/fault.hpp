// fault.hpp — turning a stack overflow into a clear fatal error.
#pragma once

namespace goro::detail {

struct M;

// Installs the SIGSEGV/SIGBUS handler (once per process; it chains to the previous one).
void install_fault_handler() noexcept;
// Gives the calling thread (M) an alternate signal stack: the handler cannot run on a
// stack that just overflowed.
void install_altstack(M* m) noexcept;
void remove_altstack(M* m) noexcept;

}  // namespace goro::detail
