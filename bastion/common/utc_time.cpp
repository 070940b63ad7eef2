#include "common/utc_time.h"

#include <chrono>
#include <ctime>

namespace bastion {

double unix_now_precise() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::optional<double> parse_utc_time(const std::string& s) {
  std::size_t i = 0;
  // n decimal digits at i, or -1.
  auto digits = [&](std::size_t n) -> int {
    if (i + n > s.size()) return -1;
    int v = 0;
    for (std::size_t k = 0; k < n; ++k, ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto take = [&](char c) { return i < s.size() && s[i] == c ? (++i, true) : false; };
  const int y = digits(4);
  if (y < 0 || !take('-')) return std::nullopt;
  const int mo = digits(2);
  if (mo < 1 || mo > 12 || !take('-')) return std::nullopt;
  const int d = digits(2);
  if (d < 1 || d > 31) return std::nullopt;
  int h = 0, mi = 0, sec = 0;
  double frac = 0;
  if (take('T') || take(' ')) {
    h = digits(2);
    if (h < 0 || h > 24 || !take(':')) return std::nullopt;
    mi = digits(2);
    if (mi < 0 || mi > 59) return std::nullopt;
    if (take(':')) {
      sec = digits(2);
      if (sec < 0 || sec > 59) return std::nullopt;
      if (take('.')) {
        double scale = 0.1;
        const std::size_t from = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') frac += (s[i++] - '0') * scale, scale /= 10;
        if (i == from) return std::nullopt;
      }
    }
  }
  int offset = 0;  // seconds east of UTC
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i++] == '-' ? -1 : 1;
    const int oh = digits(2);
    if (oh < 0 || oh > 14 || !take(':')) return std::nullopt;
    const int om = digits(2);
    if (om < 0 || om > 59) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    take('Z');
  }
  if (i != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
  return static_cast<double>(timegm(&tm)) - offset + frac;
}

}  // namespace bastion
