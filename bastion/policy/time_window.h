// "Mon-Fri 09:00-18:00" style windows evaluated in an IANA time zone.
#pragma once
#include <cstdint>
#include <string>

namespace bastion {

// Returns 1 inside the window, 0 outside, -1 on a malformed spec or unknown
// zone (with `error` set). Days: Mon..Sun, ranges (Mon-Fri, Fri-Mon) and
// lists (Sat,Sun); omitted means every day. Times: HH:MM-HH:MM, end
// exclusive; an end before the start crosses midnight (22:00-06:00).
int within_time_window(const std::string& spec, const std::string& zone, int64_t unix_time, std::string& error);

}  // namespace bastion
