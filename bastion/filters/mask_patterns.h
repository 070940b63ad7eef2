// Output-mask rules compiled once (RE2 programs, rewrites, hold-back
// sizes) and shared, read-only, by every MaskingFilter using the same
// rules: a policy that masks every statement the same way would otherwise
// compile its patterns for every statement.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "filters/stream_replacer.h"
#include "policy/policy.h"

namespace bastion {

using CompiledMasks = std::vector<ReplacePattern>;

// A pattern that does not compile (a bug: decisions are validated) becomes
// one that masks everything.
std::shared_ptr<const CompiledMasks> compile_masks(const std::vector<MaskRule>& rules);

// The last few rule sets compiled. One per session thread: not thread-safe
// (the compiled patterns it hands out are, being read-only).
class MaskPatternCache {
 public:
  static constexpr std::size_t kEntries = 16;
  std::shared_ptr<const CompiledMasks> get(const std::vector<MaskRule>& rules);

 private:
  std::vector<std::pair<std::string, std::shared_ptr<const CompiledMasks>>> entries_;  // most recent last
};

}  // namespace bastion
