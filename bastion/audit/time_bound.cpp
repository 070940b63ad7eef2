#include "audit/time_bound.h"

#include <cstdio>

#include "common/time_util.h"

namespace bastion {
namespace {

// Exactly `n` digits at s[pos..]; advances pos.
std::optional<int> digits(std::string_view s, std::size_t& pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm):
// no timegm, no TZ environment.
int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view s) {
  std::size_t p = 0;
  const auto y = digits(s, p, 4);
  if (!y || p >= s.size() || s[p++] != '-') return std::nullopt;
  const auto mo = digits(s, p, 2);
  if (!mo || p >= s.size() || s[p++] != '-') return std::nullopt;
  const auto d = digits(s, p, 2);
  if (!d || *y < 1970 || *mo < 1 || *mo > 12 || *d < 1 || *d > days_in_month(*y, *mo)) return std::nullopt;
  int h = 0, mi = 0, sec = 0;
  if (p < s.size() && s[p] == 'T') {
    ++p;
    const auto hh = digits(s, p, 2);
    if (!hh || p >= s.size() || s[p++] != ':') return std::nullopt;
    const auto mm = digits(s, p, 2);
    if (!mm || *hh > 23 || *mm > 59) return std::nullopt;
    h = *hh, mi = *mm;
    if (p < s.size() && s[p] == ':') {
      ++p;
      const auto ss = digits(s, p, 2);
      if (!ss || *ss > 59) return std::nullopt;
      sec = *ss;
      if (p < s.size() && s[p] == '.') {
        const std::size_t start = ++p;
        while (p < s.size() && p - start < 9 && s[p] >= '0' && s[p] <= '9') ++p;
        if (p == start) return std::nullopt;
      }
    }
  }
  if (p < s.size() && s[p] == 'Z') ++p;
  if (p != s.size()) return std::nullopt;
  return days_from_civil(*y, *mo, *d) * 86400 + h * 3600 + mi * 60 + sec;
}

std::optional<int64_t> parse_time_bound(std::string_view text, int64_t now, std::string* why) {
  auto fail = [why](const char* w) -> std::optional<int64_t> {
    if (why) *why = w;
    return std::nullopt;
  };
  if (text.empty()) return fail("empty time");
  const char last = text.back();
  if (text.find('-') == std::string_view::npos) {
    // A duration back from now; a bare number is refused (seconds or a year?).
    if (last < 'a' || last > 'z') return fail("not a duration (10m, 2h, 7d) or a timestamp (2026-11-30T10:00:00Z)");
    const int64_t secs = parse_duration(std::string(text));
    if (secs < 0) return fail("not a duration (10m, 2h, 7d) or a timestamp (2026-11-30T10:00:00Z)");
    if (secs > now) return fail("duration reaches before 1970");
    return now - secs;
  }
  const auto t = parse_timestamp(text);
  if (!t) return fail("not a timestamp (2026-11-30, 2026-11-30T10:00, 2026-11-30T10:00:00Z; UTC)");
  return t;
}

std::string iso8601_bound(int64_t t) { return iso8601(t).insert(19, ".000"); }

}  // namespace bastion
