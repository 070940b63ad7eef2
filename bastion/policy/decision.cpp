#include "policy/policy.h"

namespace bastion {

std::optional<Decision> combine(std::optional<Decision> a, std::optional<Decision> b) {
  if (!a) return b;
  if (!b) return a;
  Decision& strict = a->verdict >= b->verdict ? *a : *b;
  const Decision& other = a->verdict >= b->verdict ? *b : *a;
  Decision out = strict;
  // Masking from either side still applies when the result lets output through.
  if (out.allowed()) {
    for (const auto& m : other.mask) out.mask.push_back(m);
    // Derived columns stay visible only if every side that masks columns says so.
    if (out.column_masks.empty()) out.mask_derived = other.mask_derived;
    else if (!other.column_masks.empty()) out.mask_derived = out.mask_derived || other.mask_derived;
    for (const auto& m : other.column_masks) out.column_masks.push_back(m);
    if (other.row_limit && (!out.row_limit || *other.row_limit < *out.row_limit)) out.row_limit = other.row_limit;
  }
  if (out.verdict == Decision::Verdict::allow && out.masks()) out.verdict = Decision::Verdict::mask;
  // Session options: take each from whichever set it (the stricter first).
  auto pick = [](auto& dst, const auto& src) {
    if (!dst && src) dst = src;
  };
  pick(out.options.record_input, other.options.record_input);
  pick(out.options.idle_timeout, other.options.idle_timeout);
  pick(out.options.max_session_length, other.options.max_session_length);
  return out;
}

}  // namespace bastion
