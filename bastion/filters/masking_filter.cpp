#include "filters/masking_filter.h"

namespace bastion {

MaskingFilter::MaskingFilter(const std::vector<MaskRule>& rules) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);
  for (const auto& r : rules) {
    auto re = std::make_unique<RE2>(r.pattern, o);
    // Patterns were validated when the decision was made; a bad one here
    // would be a bug, and we mask everything rather than leak.
    if (!re->ok()) re = std::make_unique<RE2>("(?s).+", o);
    // Capture groups are kept: the first before the replacement, the second
    // after it (e.g. "(password=)\S+" -> "password=****"); the rest goes.
    const int groups = re->NumberOfCapturingGroups();
    std::string replacement = groups > 0 ? "\\1" : "";
    for (char c : r.replacement) {  // RE2 rewrites treat '\' specially
      if (c == '\\') replacement += '\\';
      replacement += c;
    }
    if (groups > 1) replacement += "\\2";
    rules_.emplace_back(std::move(re), std::move(replacement));
  }
}

void MaskingFilter::mask(std::string& text) const {
  for (const auto& [re, replacement] : rules_) RE2::GlobalReplace(&text, *re, replacement);
}

void MaskingFilter::filter(Stream s, std::string& data) {
  std::string& held = held_[s == Stream::out ? 0 : 1];
  if (!held.empty()) {
    data.insert(0, held);
    held.clear();
  }
  const std::size_t nl = data.rfind('\n');
  const std::size_t keep_from = nl == std::string::npos ? 0 : nl + 1;
  if (data.size() - keep_from <= kMaxHold) {
    held.assign(data, keep_from, std::string::npos);
    data.resize(keep_from);
  }
  mask(data);
}

void MaskingFilter::flush(Stream s, std::string& data) {
  std::string& held = held_[s == Stream::out ? 0 : 1];
  std::string tail;
  tail.swap(held);
  data.insert(0, tail);
  mask(data);
}

}  // namespace bastion
