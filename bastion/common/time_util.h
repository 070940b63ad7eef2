#pragma once
#include <cstdint>
#include <string>

namespace bastion {

// "2026-11-28T23:59:01.123Z"
std::string iso8601_now();
std::string iso8601(int64_t unix_seconds);
// "2026-11-28"
std::string utc_date();
int64_t unix_now();
double monotonic_seconds();
// "90", "90s", "30m", "8h", "2d", "1w" -> seconds; -1 if malformed (no sign)
// or longer than 100 years.
int64_t parse_duration(const std::string& s);
// 3725 -> "1h2m", 125 -> "2m5s".
std::string format_duration(int64_t seconds);
// A sortable, unique session id: "20261128T235901-<16 hex>"; empty when the
// random generator fails (the caller refuses the login).
std::string new_session_id();

}  // namespace bastion
