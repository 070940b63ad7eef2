#include "common/time_util.h"
#include "common/parse_number.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <openssl/rand.h>

namespace bastion {
namespace {
std::string utc_format(std::time_t t, const char* fmt) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}
}  // namespace

std::string iso8601(int64_t t) { return utc_format(static_cast<std::time_t>(t), "%Y-%m-%dT%H:%M:%SZ"); }

std::string iso8601_now() {
  // Calendar arithmetic, not gmtime_r + strftime + snprintf: every audited
  // statement stamps several times.
  using namespace std::chrono;
  const auto now = time_point_cast<milliseconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day ymd{day};
  const hh_mm_ss hms{now - day};
  const int y = static_cast<int>(ymd.year());
  if (y < 1000 || y > 9999) {  // not a four-digit year: the general way
    const auto ms = now.time_since_epoch().count();
    char out[64];
    std::snprintf(out, sizeof out, "%s.%03dZ",
                  utc_format(static_cast<std::time_t>(floor<seconds>(now).time_since_epoch().count()),
                             "%Y-%m-%dT%H:%M:%S").c_str(),
                  static_cast<int>(((ms % 1000) + 1000) % 1000));
    return out;
  }
  char out[] = "0000-00-00T00:00:00.000Z";
  auto put = [&out](int at, unsigned v, int width) {
    for (int i = at + width - 1; i >= at; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
  };
  put(0, static_cast<unsigned>(y), 4);
  put(5, static_cast<unsigned>(ymd.month()), 2);
  put(8, static_cast<unsigned>(ymd.day()), 2);
  put(11, static_cast<unsigned>(hms.hours().count()), 2);
  put(14, static_cast<unsigned>(hms.minutes().count()), 2);
  put(17, static_cast<unsigned>(hms.seconds().count()), 2);
  put(20, static_cast<unsigned>(hms.subseconds().count()), 3);
  return out;
}

std::string utc_date() { return utc_format(std::time(nullptr), "%Y-%m-%d"); }

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string new_session_id() {
  const std::string ts = utc_format(std::time(nullptr), "%Y%m%dT%H%M%S");
  unsigned char rnd[8];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return {};
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
  return ts + "-" + hex;
}

int64_t parse_duration(const std::string& in) {
  std::string s = in;
  if (s.empty()) return -1;
  int64_t unit = 1;
  switch (s.back()) {
    case 's': s.pop_back(); break;
    case 'm': unit = 60, s.pop_back(); break;
    case 'h': unit = 3600, s.pop_back(); break;
    case 'd': unit = 86400, s.pop_back(); break;
    case 'w': unit = 7 * 86400, s.pop_back(); break;
    default: break;
  }
  // At most 100 years: the product stays far from overflow.
  const auto n = parse_unsigned(s, 0, uint64_t{100} * 365 * 86400 / static_cast<uint64_t>(unit));
  return n ? static_cast<int64_t>(*n) * unit : -1;
}

std::string format_duration(int64_t s) {
  if (s < 0) s = 0;
  if (s >= 3600) return std::to_string(s / 3600) + "h" + (s % 3600 / 60 ? std::to_string(s % 3600 / 60) + "m" : "");
  if (s >= 60) return std::to_string(s / 60) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  return std::to_string(s) + "s";
}

}  // namespace bastion
