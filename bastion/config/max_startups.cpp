#include "config/max_startups.h"

#include "common/parse_number.h"

namespace bastion {

constexpr uint64_t kMaxStartupsCeiling = 100000;

bool parse_max_startups(std::string_view s, MaxStartups& out, std::string& why) {
  std::string e;
  const std::size_t c1 = s.find(':');
  if (c1 == std::string_view::npos) {
    const auto n = parse_unsigned(s, 1, kMaxStartupsCeiling, &e);
    if (!n) return why = "\"" + std::string(s) + "\": " + e + "; expected N or START:RATE:FULL", false;
    out = {static_cast<int>(*n), 100, static_cast<int>(*n)};
    return true;
  }
  const std::size_t c2 = s.find(':', c1 + 1);
  if (c2 == std::string_view::npos || s.find(':', c2 + 1) != std::string_view::npos)
    return why = "\"" + std::string(s) + "\": expected N or START:RATE:FULL (e.g. \"10:30:100\")", false;
  const auto start = parse_unsigned(s.substr(0, c1), 1, kMaxStartupsCeiling, &e);
  if (!start) return why = "start: " + e, false;
  const auto rate = parse_unsigned(s.substr(c1 + 1, c2 - c1 - 1), 1, 100, &e);
  if (!rate) return why = "rate: " + e, false;
  const auto full = parse_unsigned(s.substr(c2 + 1), 1, kMaxStartupsCeiling, &e);
  if (!full) return why = "full: " + e, false;
  if (*full <= *start) return why = "full (" + std::to_string(*full) + ") must be greater than start (" +
                                    std::to_string(*start) + ")", false;
  out = {static_cast<int>(*start), static_cast<int>(*rate), static_cast<int>(*full)};
  return true;
}

}  // namespace bastion
