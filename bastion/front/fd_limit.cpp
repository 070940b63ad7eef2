#include "front/fd_limit.h"

#include <sys/resource.h>

namespace bastion {

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return out;
  out.before = out.now = r.rlim_cur;
  out.hard = r.rlim_max;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised = r;
    raised.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = r.rlim_max;
  }
  return out;
}

uint64_t sessions_allowed(uint64_t fd_limit) {
  return fd_limit <= kFdsReserved ? 0 : (fd_limit - kFdsReserved) / kFdsPerSession;
}

}  // namespace bastion
