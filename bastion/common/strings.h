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

}  // namespace bastion
