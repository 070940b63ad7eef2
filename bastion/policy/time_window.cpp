#include "policy/time_window.h"

#include <array>
#include <chrono>
#include <sstream>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

namespace bastion {
namespace {

constexpr std::array<const char*, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int day_index(const std::string& d) {
  for (int i = 0; i < 7; ++i)
    if (d == kDays[static_cast<std::size_t>(i)]) return i;
  return -1;
}

bool parse_hhmm(const std::string& s, int& minutes) {
  if (s.size() != 5 || s[2] != ':' || !isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) || !isdigit(s[4]))
    return false;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  minutes = h * 60 + m;
  return true;
}

bool parse_days(const std::string& spec, std::array<bool, 7>& days) {
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto dash = item.find('-');
    const int a = day_index(item.substr(0, dash));
    const int b = dash == std::string::npos ? a : day_index(item.substr(dash + 1));
    if (a < 0 || b < 0) return false;
    for (int d = a;; d = (d + 1) % 7) {  // wraps: Fri-Mon
      days[static_cast<std::size_t>(d)] = true;
      if (d == b) break;
    }
  }
  return true;
}

}  // namespace

int within_time_window(const std::string& spec, const std::string& zone, int64_t unix_time, std::string& error) {
  std::array<bool, 7> days{};
  std::string times = spec;
  const auto space = spec.find(' ');
  if (space != std::string::npos) {
    if (!parse_days(spec.substr(0, space), days)) return error = "bad days in \"" + spec + "\"", -1;
    times = spec.substr(space + 1);
  } else {
    days.fill(true);
  }
  const auto dash = times.find('-');
  int from = 0, to = 0;
  if (dash == std::string::npos || !parse_hhmm(times.substr(0, dash), from) || !parse_hhmm(times.substr(dash + 1), to))
    return error = "bad time range in \"" + spec + "\" (expected HH:MM-HH:MM)", -1;
  cctz::time_zone tz;
  if (!cctz::load_time_zone(zone, &tz)) return error = "unknown time zone \"" + zone + "\"", -1;
  const auto tp = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(unix_time));
  const cctz::civil_second cs = cctz::convert(tp, tz);
  const int weekday = static_cast<int>(cctz::get_weekday(cctz::civil_day(cs)));  // monday = 0
  const int minute = static_cast<int>(cs.hour()) * 60 + static_cast<int>(cs.minute());
  if (from <= to) return days[static_cast<std::size_t>(weekday)] && minute >= from && minute < to ? 1 : 0;
  // Crosses midnight: the part after midnight belongs to the previous day's window.
  if (minute >= from) return days[static_cast<std::size_t>(weekday)] ? 1 : 0;
  if (minute < to) return days[static_cast<std::size_t>((weekday + 6) % 7)] ? 1 : 0;
  return 0;
}

}  // namespace bastion
