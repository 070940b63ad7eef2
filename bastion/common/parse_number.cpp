#include "common/parse_number.h"

#include <charconv>
#include <type_traits>

namespace bastion {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

template <typename T>
std::optional<T> fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return std::nullopt;
}

template <typename T>
std::optional<T> in_range(T v, T lo, T hi, std::string* why) {
  if (v < lo || v > hi) return fail<T>(why, "out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return v;
}

// Decimal digits, after one leading '-' when T is signed.
template <typename T>
std::optional<T> parse_integer(std::string_view s, T lo, T hi, std::string* why) {
  const bool negative = std::is_signed_v<T> && !s.empty() && s.front() == '-';
  if (!all_digits(negative ? s.substr(1) : s)) return fail<T>(why, "not a number");
  T v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range)
    return fail<T>(why, "out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  if (ec != std::errc() || end != s.data() + s.size()) return fail<T>(why, "not a number");
  return in_range(v, lo, hi, why);
}

}  // namespace

std::optional<uint64_t> parse_unsigned(std::string_view s, uint64_t lo, uint64_t hi, std::string* why) {
  return parse_integer(s, lo, hi, why);
}

std::optional<int64_t> parse_signed(std::string_view s, int64_t lo, int64_t hi, std::string* why) {
  return parse_integer(s, lo, hi, why);
}

std::optional<double> parse_decimal(std::string_view s, double lo, double hi, std::string* why) {
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if ((whole.empty() && frac.empty()) || (!whole.empty() && !all_digits(whole)) ||
      (dot != std::string_view::npos && !frac.empty() && !all_digits(frac)) ||
      (dot != std::string_view::npos && frac.empty()))
    return fail<double>(why, "not a number");
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || end != s.data() + s.size()) return fail<double>(why, "not a number");
  if (v < lo || v > hi) {
    std::string l = std::to_string(lo), h = std::to_string(hi);
    auto trim = [](std::string& x) {
      x.erase(x.find_last_not_of('0') + 1);
      if (!x.empty() && x.back() == '.') x.pop_back();
    };
    trim(l), trim(h);
    return fail<double>(why, "out of range (" + l + ".." + h + ")");
  }
  return v;
}

}  // namespace bastion
