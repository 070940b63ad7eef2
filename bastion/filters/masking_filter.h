// Replaces policy-chosen patterns (RE2: linear time, no catastrophic
// backtracking) in target output before the client or the recorder sees it.
// A match may straddle two reads: the text after the last newline is held
// back (at most kMaxHold bytes) until more output, a newline, an idle tick
// or the end of the stream. Patterns match within a line.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "filters/output_filter.h"
#include "policy/policy.h"

namespace bastion {

class MaskingFilter : public OutputFilter {
 public:
  static constexpr std::size_t kMaxHold = 4096;

  explicit MaskingFilter(const std::vector<MaskRule>& rules);
  void filter(Stream s, std::string& data) override;
  void flush(Stream s, std::string& data) override;
  bool holding() const override { return !held_[0].empty() || !held_[1].empty(); }

  // Applies every rule to a complete piece of text (exposed for tests).
  void mask(std::string& text) const;

 private:
  std::vector<std::pair<std::unique_ptr<RE2>, std::string>> rules_;
  std::string held_[2];
};

}  // namespace bastion
