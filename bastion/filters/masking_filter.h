// Replaces policy-chosen patterns (RE2: linear time, no catastrophic
// backtracking) in target output before the client or the recorder sees it.
// A match may straddle reads, anywhere in a line of any length: each pattern
// holds back only as much output as its longest match could still need (see
// StreamReplacer; regex_max_length() bounds the pattern), until more output,
// an idle tick or the end of the stream. A pattern without a bound (* + {n,})
// looks kLookaheadCap bytes ahead (and, searching that window again only
// after a quarter of it is new, holds up to 1.25 times that); a longer match
// split across reads is not guaranteed to be caught.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "filters/output_filter.h"
#include "filters/mask_patterns.h"
#include "filters/stream_replacer.h"
#include "policy/policy.h"

namespace bastion {

class MaskingFilter : public OutputFilter {
 public:
  static constexpr std::size_t kLookaheadCap = 64 * 1024;

  explicit MaskingFilter(const std::vector<MaskRule>& rules);
  // Patterns compiled once and shared (mask_patterns.h).
  explicit MaskingFilter(std::shared_ptr<const CompiledMasks> compiled);
  MaskingFilter(const MaskingFilter&) = delete;  // the replacers point into patterns_
  MaskingFilter& operator=(const MaskingFilter&) = delete;

  void filter(Stream s, std::string& data) override;
  void flush(Stream s, std::string& data) override;
  bool holding() const override { return held(Stream::out) + held(Stream::err) > 0; }

  // Bytes of one stream held back now, and the most that can be (the sum of
  // StreamReplacer::max_held over the rules).
  std::size_t held(Stream s) const;
  std::size_t max_held() const;
  // Bytes the patterns searched so far, both streams (for tests).
  std::size_t searched() const;

  // Applies every rule to a complete piece of text (exposed for tests).
  void mask(std::string& text) const;

 private:
  // Passes `data` through the stream's rules in order with `step` (write,
  // or finish at the end of the stream).
  void through_chain(Stream s, std::string& data, void (StreamReplacer::*step)(std::string_view, std::string&));

  std::shared_ptr<const CompiledMasks> patterns_;
  // Per stream, the rules in order: each one's output is the next's input.
  std::vector<StreamReplacer> chain_[2];
};

}  // namespace bastion
