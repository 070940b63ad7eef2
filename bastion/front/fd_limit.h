// The descriptor limit: a bastion holds several per session (client and
// target sockets, its waker, recording files), so the usual soft limit of
// 1024 caps it near 250 sessions. Raised to the hard limit at start.
#pragma once
#include <cstdint>

namespace bastion {

struct FdLimit {
  uint64_t before = 0;  // soft limit as started
  uint64_t now = 0;     // soft limit after raising (the hard limit, or before when it could not be)
  uint64_t hard = 0;
};

// What one idle interactive session holds: the client socket, the target
// socket, the session's waker, and the recording file.
inline constexpr uint64_t kFdsPerSession = 4;
// Kept for the process itself: listeners, the audit store, logs, the web
// and metrics listeners and their connections.
inline constexpr uint64_t kFdsReserved = 64;

FdLimit raise_fd_limit();
// Sessions `limit` descriptors allow, at kFdsPerSession each.
uint64_t sessions_allowed(uint64_t fd_limit);

}  // namespace bastion
