#include "filters/masking_filter.h"

#include <algorithm>
#include <memory>

#include "filters/regex_max_length.h"

namespace bastion {

namespace {

int stream_index(Stream s) { return s == Stream::out ? 0 : 1; }

// How many bytes a stream must hold back for a match of `pattern` that is
// still arriving: the longest match minus one, plus the byte after a match
// when the pattern looks at it ($ \b \B \z).
std::size_t hold_for(const std::string& pattern) {
  const RegexLength len = regex_max_length(pattern);
  const std::size_t window = len.bounded ? std::min(len.max_bytes, MaskingFilter::kLookaheadCap) : MaskingFilter::kLookaheadCap;
  return (window > 0 ? window - 1 : 0) + (len.reads_past_end ? 1 : 0);
}

}  // namespace

MaskingFilter::MaskingFilter(const std::vector<MaskRule>& rules) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);
  patterns_.reserve(rules.size());
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
    patterns_.push_back(std::move(p));
  }
  for (auto& chain : chain_)
    for (const auto& p : patterns_) chain.emplace_back(p);
}

void MaskingFilter::mask(std::string& text) const {
  for (const auto& p : patterns_) RE2::GlobalReplace(&text, *p.re, p.rewrite);
}

void MaskingFilter::through_chain(Stream s, std::string& data,
                                  void (StreamReplacer::*step)(std::string_view, std::string&)) {
  std::string out;
  for (auto& r : chain_[stream_index(s)]) {
    out.clear();
    (r.*step)(data, out);
    data.swap(out);
  }
}

void MaskingFilter::filter(Stream s, std::string& data) { through_chain(s, data, &StreamReplacer::write); }

void MaskingFilter::flush(Stream s, std::string& data) { through_chain(s, data, &StreamReplacer::finish); }

std::size_t MaskingFilter::held(Stream s) const {
  std::size_t n = 0;
  for (const auto& r : chain_[stream_index(s)]) n += r.held();
  return n;
}

std::size_t MaskingFilter::searched() const {
  std::size_t n = 0;
  for (const auto& chain : chain_)
    for (const auto& r : chain) n += r.searched();
  return n;
}

std::size_t MaskingFilter::max_held() const {
  std::size_t n = 0;
  for (const auto& p : patterns_) n += StreamReplacer::max_held(p.hold);
  return n;
}

}  // namespace bastion
