// Numbers from untrusted text (user commands, certificate options, database
// rows, command lines). std::sto* throw on overflow and accept signs, spaces
// and trailing junk; these accept exactly the text of a number in a range and
// say why not otherwise.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

// Decimal digits only (no sign, no spaces, no "+"), value in [lo, hi].
// On failure: nullopt, and *why (if given) says "not a number" or
// "out of range (LO..HI)".
std::optional<uint64_t> parse_unsigned(std::string_view s, uint64_t lo, uint64_t hi, std::string* why = nullptr);

// As parse_unsigned, with an optional leading "-".
std::optional<int64_t> parse_signed(std::string_view s, int64_t lo, int64_t hi, std::string* why = nullptr);

// A plain decimal fraction ("1", "2.5", ".5"; no sign, exponent, inf or nan)
// in [lo, hi].
std::optional<double> parse_decimal(std::string_view s, double lo, double hi, std::string* why = nullptr);

}  // namespace bastion
