// Points in time an auditor types: "10m", "2h", "7d" (back from now) or a
// UTC timestamp "2026-11-30", "2026-11-30T10:00", "2026-11-30T10:00:00Z"
// (seconds may carry a fraction, which is dropped). The store's own ISO 8601
// timestamps parse with parse_timestamp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

// Unix seconds, or nullopt with *why saying what is wrong.
std::optional<int64_t> parse_time_bound(std::string_view text, int64_t now, std::string* why = nullptr);

// "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z]", UTC, years 1970..9999; nullopt otherwise.
std::optional<int64_t> parse_timestamp(std::string_view text);

// "2026-11-30T10:00:00.000Z": the store's format, so text comparison orders
// like time (a row at 10:00:00.123Z sorts after this bound).
std::string iso8601_bound(int64_t unix_seconds);

}  // namespace bastion
