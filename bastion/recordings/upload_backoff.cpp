#include "recordings/upload_backoff.h"

namespace bastion {

int64_t upload_retry_delay(int failures) {
  if (failures <= 1) return 1;
  if (failures > 5) return kUploadBackoffMaxSeconds;  // 2^4 = 16 already past the cap
  const int64_t d = int64_t{1} << (failures - 1);
  return d < kUploadBackoffMaxSeconds ? d : kUploadBackoffMaxSeconds;
}

}  // namespace bastion
