// membarrier.cpp — see membarrier.hpp.
#include "membarrier.hpp"

#include <goro/core/detail/sanitizers.hpp>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace goro::detail {

bool membarrier_register() noexcept {
#if GORO_TSAN
  return false;  // TSan does not model membarrier(2): keep its view of the fences exact
#else
  // Registration is per process and lasts.
  long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
         ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

bool membarrier_all() noexcept {
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace goro::detail
