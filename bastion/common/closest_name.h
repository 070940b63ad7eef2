// "did you mean X?" for a misspelled name: the nearest of the known names by
// edit distance (insertions, deletions, substitutions and swaps of two
// neighbours, ignoring case), only when it is close enough to be a typo.
#pragma once
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace bastion {

// Optimal string alignment distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The one known name nearest to `word`, when the distance is at most 1 for
// names up to 4 characters and at most 2 for longer ones, and no other name
// is as near (a tie suggests nothing rather than a guess).
std::optional<std::string> closest_name(std::string_view word, const std::set<std::string>& known);

// " (did you mean \"X\"?)" or "".
std::string did_you_mean(std::string_view word, const std::set<std::string>& known);

}  // namespace bastion
