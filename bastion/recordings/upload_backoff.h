// When a failed upload is tried again: 1 s after the first failure, then
// doubling, at most kUploadBackoffMaxSeconds apart, for as long as it takes
// (a recording is never given up on: it stays on disk until the store has it).
#pragma once
#include <cstdint>

namespace bastion {

inline constexpr int64_t kUploadBackoffMaxSeconds = 15;

// Seconds to wait after the `failures`-th consecutive failure (1-based).
int64_t upload_retry_delay(int failures);

}  // namespace bastion
