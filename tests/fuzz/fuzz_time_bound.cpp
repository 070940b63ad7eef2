// Fuzzes the --since/--until parser (audit/time_bound). Checks, for any input:
//   * a duration gives a time in [0, now], never after now;
//   * an accepted timestamp is in 1970..9999 and formats back to the same
//     date and clock digits it was given (an independent check: glibc's
//     gmtime via iso8601), and the store-format bound parses back to it;
//   * a refusal always says why.
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/time_bound.h"
#include "common/time_util.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
constexpr int64_t kNow = 1796032800;  // 2026-11-30T10:00:00Z
constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto t = bastion::parse_time_bound(in, kNow, &why);
  if (!t) {
    if (why.empty()) fail();
    return 0;
  }
  if (*t < 0 || *t > kMax) fail();
  if (in.find('-') == std::string_view::npos) {
    if (*t > kNow) fail();  // a duration counts back
    return 0;
  }
  const std::string shown = bastion::iso8601(*t);  // YYYY-MM-DDTHH:MM:SSZ
  if (shown.compare(0, 10, in.substr(0, 10)) != 0) fail();
  if (in.size() >= 16 && in[10] == 'T' && shown.compare(10, 6, in.substr(10, 6)) != 0) fail();
  if (in.size() >= 19 && in[16] == ':' && shown.compare(16, 3, in.substr(16, 3)) != 0) fail();
  if (bastion::parse_timestamp(bastion::iso8601_bound(*t)) != t) fail();
  return 0;
}
