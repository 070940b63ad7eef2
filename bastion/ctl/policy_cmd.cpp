// bastionctl policy check FILE...
// bastionctl policy test FILE [request options] -- COMMAND
// bastionctl policy test FILE --cases CASES.lua
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common/display_escape.h"
#include "common/strings.h"
#include "ctl/commands.h"
#include "filters/masking_filter.h"
#include "filters/regex_max_length.h"
#include "policy/policy_cases.h"
#include "targets/target_kind.h"
#include "policy/policy_chain.h"

namespace bastion {
namespace {

// Reasons, patterns, names and trace lines come from the policy and the
// command under test: shown escaped, like everywhere else (display_escape.h).
std::string shown(const std::string& s) { return display_escape(s); }
// Error text (Lua messages may span lines): newlines kept, the rest escaped.
std::string shown_error(const std::string& s) { return display_escape_multiline(s); }

int usage() {
  std::string kinds = "exec|shell|subsystem";
  for (const auto& k : builtin_target_kinds().command_kinds()) kinds += "|" + k;
  std::fprintf(stderr,
               "usage: bastionctl policy check FILE...\n"
               "       bastionctl policy test FILE [--identity ID] [--principals a,b] [--target NAME]\n"
               "              [--labels k=v,...] [--kind %s] [--source-address IP]\n"
               "              [--tty] [--session] -- COMMAND\n"
               "       bastionctl policy test FILE --cases CASES.lua\n",
               kinds.c_str());
  return 2;
}

int check(const std::vector<std::string>& files) {
  int bad = 0;
  for (const auto& f : files) {
    std::string err;
    auto src = load_policy_source(f, PolicyLimits{}, err);
    if (!src) {
      std::fprintf(stderr, "%s\n", shown_error(err).c_str());
      ++bad;
      continue;
    }
    std::printf("%s: OK (sha256 %s, %zu modules)\n", shown(f).c_str(), src->hash.substr(0, 16).c_str(),
                src->modules.size());
  }
  return bad ? 1 : 0;
}

int test(const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  const TargetKinds kinds = builtin_target_kinds();
  const std::string file = a[0];
  SessionRequest s;
  s.session_id = "policy-test";
  s.identity = "alice";
  s.target = "web1";
  s.target_type = kinds.default_target_type();
  s.source_address = "127.0.0.1";
  std::string kind = "exec", command, cases;
  bool session_hook = false;
  std::size_t i = 1;
  for (; i < a.size(); ++i) {
    const std::string& o = a[i];
    auto val = [&]() -> std::string { return i + 1 < a.size() ? a[++i] : ""; };
    if (o == "--") {
      ++i;
      break;
    }
    if (o == "--identity") s.identity = val();
    else if (o == "--principals") s.principals = split_commas(val());
    else if (o == "--target") s.target = val();
    else if (o == "--labels")
      for (const auto& kv : split_commas(val())) {
        const auto eq = kv.find('=');
        if (eq != std::string::npos) s.target_labels[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    else if (o == "--kind") kind = val();
    else if (o == "--source-address") s.source_address = val();
    else if (o == "--tty") s.tty = true;
    else if (o == "--session") session_hook = true;
    else if (o == "--cases") cases = val();
    else return usage();
  }
  for (; i < a.size(); ++i) command += (command.empty() ? "" : " ") + a[i];

  std::string err;
  if (!cases.empty()) {
    const int failures = run_policy_cases(file, cases, kinds, std::cout, err);
    if (failures < 0) {
      std::fprintf(stderr, "%s\n", shown_error(err).c_str());
      return 2;
    }
    return failures == 0 ? 0 : 1;
  }
  auto src = load_policy_source(file, PolicyLimits{}, err);
  if (!src) {
    std::fprintf(stderr, "%s\n", shown_error(err).c_str());
    return 2;
  }
  auto chain = PolicyChain::create(src, nullptr, Decision::Verdict::deny, err);
  if (!chain) {
    std::fprintf(stderr, "%s\n", shown_error(err).c_str());
    return 2;
  }
  PolicyTrace trace;
  chain->set_trace(&trace);
  CommandRequest req{.session = s, .kind = kind, .text = command};
  if (const auto parsed = kinds.parse(kind, command, {})) {
    if (!parsed->error.empty()) {
      std::fprintf(stderr, "bastionctl: %s\n", shown(parsed->error).c_str());
      return 2;
    }
    if (!parsed->refusal.empty()) {
      std::printf("decision: deny\nreason:   %s\nfrom:     bastion (refused whatever the policy says)\n",
                  shown(parsed->refusal).c_str());
      return 1;
    }
    if (!parsed->undecided.empty()) {
      std::printf("decision: allow\nreason:   %s\nfrom:     bastion\n", shown(parsed->undecided).c_str());
      return 0;
    }
    req.text = parsed->text;
    req.facts = parsed->facts;
  }
  const Decision d = session_hook ? chain->decide_session(s) : chain->decide(req);
  std::printf("decision: %s\n", d.name());
  if (!d.reason.empty()) std::printf("reason:   %s\n", shown(d.reason).c_str());
  if (!d.source.empty()) std::printf("from:     %s (%s)\n", shown(d.source).c_str(), shown(d.hook_name()).c_str());
  if (!d.credential.empty()) std::printf("credential: %s\n", shown(d.credential).c_str());
  for (const auto& m : d.mask) {
    std::printf("mask:     /%s/ -> %s\n", shown(m.pattern).c_str(), shown(m.replacement).c_str());
    // The filter holds back only a capped window for such a pattern.
    if (!regex_max_length(m.pattern).bounded)
      std::fprintf(stderr,
                   "bastionctl: warning: mask /%s/ has no bound on its match length: a match longer than %zu KiB "
                   "split across reads may be shown; bound its repetition ({1,64} rather than +)\n",
                   shown(m.pattern).c_str(), MaskingFilter::kLookaheadCap / 1024);
  }
  for (const auto& c : d.column_masks) {
    const char* how = c.method == ColumnMaskRule::Method::hash ? "hash" : c.method == ColumnMaskRule::Method::full ? "full" : "last";
    std::printf("column:   %s%s%s -> %s%s\n", shown(c.table).c_str(), c.table.empty() ? "" : ".",
                shown(c.column).c_str(), how,
                c.method == ColumnMaskRule::Method::keep_last ? (":" + std::to_string(c.keep)).c_str() : "");
  }
  if (!d.column_masks.empty() && !d.mask_derived) std::printf("derived:  keep\n");
  if (d.row_limit) std::printf("rows:     at most %lld\n", static_cast<long long>(*d.row_limit));
  if (!d.approvers.empty()) {
    std::string ap;
    for (const auto& p : d.approvers) ap += (ap.empty() ? "" : ",") + shown(p);
    std::printf("approvers: %s\n", ap.c_str());
  }
  std::printf("trace:\n");
  for (const auto& l : trace.lines) std::printf("  %s\n", shown(l).c_str());
  return d.allowed() ? 0 : 1;
}

}  // namespace

int ctl_policy(const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  if (a[0] == "check" && a.size() > 1) return check({a.begin() + 1, a.end()});
  if (a[0] == "test") return test({a.begin() + 1, a.end()});
  return usage();
}

}  // namespace bastion
