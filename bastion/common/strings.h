// Small string helpers shared by the stores, the consoles and bastionctl.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

// The items with `sep` between them ("" for none).
std::string join(const std::vector<std::string>& items, std::string_view sep);

// "a,b,,c" -> {"a", "b", "c"}: empty items are dropped, nothing is trimmed.
std::vector<std::string> split_commas(std::string_view s);

// Without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view s);

// Appends code point `cp` (at most U+10FFFF; callers decide what an
// impossible one becomes) as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

// What a client sends before it has authenticated (a user name, the key ID
// of a certificate not yet verified, a parser's complaint about its blob)
// goes into auth rows and log lines; unbounded, one client fills the disk.
constexpr std::size_t kMaxUntrustedBytes = 256;

// `s` unchanged if it is at most `max_bytes` long; otherwise its first
// `max_bytes` bytes or fewer, cut on a UTF-8 boundary, then "…(N bytes)"
// with the full length N.
std::string clip_untrusted(std::string_view s, std::size_t max_bytes = kMaxUntrustedBytes);

}  // namespace bastion
