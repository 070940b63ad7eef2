#include "filters/mask_patterns.h"

#include <algorithm>

#include "filters/masking_filter.h"
#include "filters/regex_max_length.h"

namespace bastion {

namespace {

// How many bytes a stream must hold back for a match of `pattern` that is
// still arriving: the longest match minus one, plus the byte after a match
// when the pattern looks at it ($ \b \B \z).
std::size_t hold_for(const std::string& pattern) {
  const RegexLength len = regex_max_length(pattern);
  const std::size_t window =
      len.bounded ? std::min(len.max_bytes, MaskingFilter::kLookaheadCap) : MaskingFilter::kLookaheadCap;
  return (window > 0 ? window - 1 : 0) + (len.reads_past_end ? 1 : 0);
}

// Length-prefixed, so no two rule sets share a key.
std::string key_of(const std::vector<MaskRule>& rules) {
  std::string k;
  for (const auto& r : rules)
    k += std::to_string(r.pattern.size()) + ":" + r.pattern + std::to_string(r.replacement.size()) + ":" +
         r.replacement;
  return k;
}

}  // namespace

std::shared_ptr<const CompiledMasks> compile_masks(const std::vector<MaskRule>& rules) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaskRegexMaxMem);
  auto out = std::make_shared<CompiledMasks>();
  out->reserve(rules.size());
  for (const auto& r : rules) {
    ReplacePattern p;
    p.re = std::make_unique<RE2>(r.pattern, o);
    std::string pattern = r.pattern;
    // Patterns were validated when the decision was made; a bad one here
    // would be a bug, and we mask everything rather than leak.
    if (!p.re->ok()) {
      pattern = "(?s).+";
      p.re = std::make_unique<RE2>(pattern, o);
    }
    // Capture groups are kept: the first before the replacement, the second
    // after it (e.g. "(password=)\S+" -> "password=****"); the rest goes.
    const int groups = p.re->NumberOfCapturingGroups();
    p.rewrite = groups > 0 ? "\\1" : "";
    for (char c : r.replacement) {  // RE2 rewrites treat '\' specially
      if (c == '\\') p.rewrite += '\\';
      p.rewrite += c;
    }
    if (groups > 1) p.rewrite += "\\2";
    p.nvec = 1 + std::min(groups, 2);
    p.hold = hold_for(pattern);
    out->push_back(std::move(p));
  }
  return out;
}

std::shared_ptr<const CompiledMasks> MaskPatternCache::get(const std::vector<MaskRule>& rules) {
  std::string key = key_of(rules);
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&key](const auto& e) { return e.first == key; });
  if (it != entries_.end()) {
    std::rotate(it, it + 1, entries_.end());  // now the most recent
    return entries_.back().second;
  }
  auto compiled = compile_masks(rules);
  if (entries_.size() >= kEntries) entries_.erase(entries_.begin());
  entries_.emplace_back(std::move(key), compiled);
  return compiled;
}

}  // namespace bastion
