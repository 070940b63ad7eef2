#include "common/closest_name.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace bastion {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  auto low = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const std::size_t n = a.size(), m = b.size();
  // Three rows: the swap of two neighbours looks two rows back.
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::optional<std::string> closest_name(std::string_view word, const std::set<std::string>& known) {
  // Names are short; a long word is no typo of one (and stays cheap).
  if (word.empty() || word.size() > 128) return std::nullopt;
  const std::size_t limit = word.size() <= 4 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_d = limit + 1;
  bool tie = false;
  for (const auto& k : known) {
    const std::size_t d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d, best = k, tie = false;
    } else if (d == best_d) {
      tie = true;
    }
  }
  if (!best || tie) return std::nullopt;
  return best;
}

std::string did_you_mean(std::string_view word, const std::set<std::string>& known) {
  const auto k = closest_name(word, known);
  return k ? " (did you mean \"" + *k + "\"?)" : std::string();
}

}  // namespace bastion
