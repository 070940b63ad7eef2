#include "policy/policy.h"

#include <algorithm>

namespace bastion {

std::optional<Decision> combine(std::optional<Decision> a, std::optional<Decision> b) {
  if (!a) return b;
  if (!b) return a;
  // Each layer may choose the session's credential; they must agree, since
  // running under one layer's choice would ignore the other's (fail closed).
  if (!a->credential.empty() && !b->credential.empty() && a->credential != b->credential) {
    Decision d = Decision::deny("the policies chose different credentials (\"" + a->credential + "\" and \"" +
                                b->credential + "\")");
    const Decision& src = a->verdict >= b->verdict ? *a : *b;
    d.hook = src.hook;
    d.policy_hash = src.policy_hash;
    d.source = src.source;
    return d;
  }
  const std::string credential = a->credential.empty() ? b->credential : a->credential;
  Decision& strict = a->verdict >= b->verdict ? *a : *b;
  const Decision& other = a->verdict >= b->verdict ? *b : *a;
  Decision out = strict;
  out.credential = credential;
  // Masking from either side still applies when the result lets output
  // through, now or once approved (an approver lets the command run, not
  // what the other layer hides).
  if (out.allowed() || out.verdict == Decision::Verdict::review) {
    for (const auto& m : other.mask) out.mask.push_back(m);
    // Derived columns stay visible only if every side that masks columns says so.
    if (out.column_masks.empty()) out.mask_derived = other.mask_derived;
    else if (!other.column_masks.empty()) out.mask_derived = out.mask_derived || other.mask_derived;
    // Objects made from masked relations only if every side that masks columns allows them.
    if (out.column_masks.empty()) out.allow_derived_objects = other.allow_derived_objects;
    else if (!other.column_masks.empty())
      out.allow_derived_objects = out.allow_derived_objects && other.allow_derived_objects;
    for (const auto& m : other.column_masks) out.column_masks.push_back(m);
    if (other.row_limit && (!out.row_limit || *other.row_limit < *out.row_limit)) out.row_limit = other.row_limit;
  }
  if (out.verdict == Decision::Verdict::allow && out.masks()) out.verdict = Decision::Verdict::mask;
  // Session options: the stricter of both sides, option by option (a target
  // policy must not lift limits the global policy set). For time limits 0
  // means none, so the smaller non-zero value wins; recording input wins.
  auto limit = [](std::optional<int>& dst, const std::optional<int>& a, const std::optional<int>& b) {
    if (!a || !b) return void(dst = a ? a : b);
    if (*a == 0) return void(dst = b);
    if (*b == 0) return void(dst = a);
    dst = std::min(*a, *b);
  };
  const SessionOptions sa = out.options, sb = other.options;
  limit(out.options.idle_timeout, sa.idle_timeout, sb.idle_timeout);
  limit(out.options.max_session_length, sa.max_session_length, sb.max_session_length);
  if (sa.record_input || sb.record_input)
    out.options.record_input = sa.record_input.value_or(false) || sb.record_input.value_or(false);
  return out;
}

}  // namespace bastion
