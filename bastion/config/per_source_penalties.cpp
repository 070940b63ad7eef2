#include "config/per_source_penalties.h"

#include "common/time_util.h"
#include "config/config_reader.h"

namespace bastion {

bool parse_per_source_penalties(std::string_view s, PerSourcePenalties& out, std::string& why) {
  PerSourcePenalties p;
  if (s == "no") {
    p.enabled = false;
    out = p;
    return true;
  }
  if (s == "yes") return out = p, true;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(s.find(' ', i), s.size());
    const std::string_view item = s.substr(i, end - i);
    i = end;
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos)
      return why = "\"" + std::string(item) + "\": expected KEY:SECONDS (e.g. \"authfail:5\")", false;
    const std::string_view key = item.substr(0, colon);
    // As OpenSSH's PerSourcePenalties: seconds, or a duration ("max:10m").
    const int64_t v = parse_duration(std::string(item.substr(colon + 1)));
    if (v < 0 || v > 86400) return why = std::string(key) + ": " + duration_error(0, 86400), false;
    const int n = static_cast<int>(v);
    if (key == "authfail") p.authfail = n;
    else if (key == "noauth") p.noauth = n;
    else if (key == "grace-exceeded") p.grace_exceeded = n;
    else if (key == "max") p.max = n;
    else if (key == "min") p.min = n;
    else return why = "unknown key \"" + std::string(key) + "\" (authfail, noauth, grace-exceeded, max, min)", false;
    any = true;
  }
  if (!any) return why = "expected \"no\", \"yes\" or KEY:SECONDS items", false;
  if (p.min > p.max) return why = "min (" + std::to_string(p.min) + ") must not exceed max (" +
                                  std::to_string(p.max) + ")", false;
  out = p;
  return true;
}

}  // namespace bastion
