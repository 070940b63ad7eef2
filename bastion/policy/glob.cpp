#include "policy/glob.h"

#include <vector>

namespace bastion {
namespace {

// Matches one pattern element at `p` against `c`; sets `len` to the element's length.
bool element_matches(std::string_view pat, std::size_t p, char c, std::size_t& len) {
  if (pat[p] == '?') return len = 1, true;
  if (pat[p] == '[') {
    std::size_t i = p + 1;
    bool negate = false;
    if (i < pat.size() && (pat[i] == '!' || pat[i] == '^')) negate = true, ++i;
    bool hit = false;
    const std::size_t first = i;
    while (i < pat.size() && (pat[i] != ']' || i == first)) {
      if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
        if (c >= pat[i] && c <= pat[i + 2]) hit = true;
        i += 3;
      } else {
        if (c == pat[i]) hit = true;
        ++i;
      }
    }
    if (i >= pat.size()) return len = 1, c == '[';  // no closing ']': a literal '['
    len = i - p + 1;
    return hit != negate;
  }
  if (pat[p] == '\\' && p + 1 < pat.size()) return len = 2, pat[p + 1] == c;
  return len = 1, pat[p] == c;
}

}  // namespace

bool glob_match(std::string_view pat, std::string_view text) {
  // Dynamic programming over pattern positions: reachable[p] says the pattern
  // prefix ending before p matched the text read so far.
  std::vector<char> cur(pat.size() + 1, 0), next(pat.size() + 1, 0);
  auto close_stars = [&](std::vector<char>& v) {
    for (std::size_t p = 0; p < pat.size(); ++p)
      if (v[p] && pat[p] == '*') v[p + 1] = 1;
  };
  cur[0] = 1;
  close_stars(cur);
  for (char c : text) {
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t p = 0; p < pat.size(); ++p) {
      if (!cur[p]) continue;
      if (pat[p] == '*') {
        next[p] = 1;  // the star absorbs c
        continue;
      }
      std::size_t len = 1;
      if (element_matches(pat, p, c, len)) next[p + len] = 1;
    }
    close_stars(next);
    cur.swap(next);
  }
  return cur[pat.size()] != 0;
}

}  // namespace bastion
