// bastionctl policy check FILE... | policy check --config FILE
// bastionctl policy test --config FILE --target NAME [request options] -- COMMAND...
// bastionctl policy test FILE [request options] -- COMMAND...
// bastionctl policy test FILE --cases CASES.lua
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

#include "common/display_escape.h"
#include "common/time_util.h"
#include "common/strings.h"
#include "ctl/commands.h"
#include "ctl/policy_ctl.h"
#include "ctl/policy_test_cert.h"
#include "filters/masking_filter.h"
#include "filters/regex_max_length.h"
#include "policy/context_text.h"
#include "policy/policy_cases.h"
#include "targets/target.h"

namespace bastion {
namespace {

// Exit statuses of `policy test` (bastionctl(1)).
constexpr int kExitAllow = 0, kExitDeny = 1, kExitUsage = 2, kExitReview = 3;

// Reasons, patterns, names and trace lines come from the policy and the
// command under test: shown escaped, like everywhere else (display_escape.h).
std::string shown(const std::string& s) { return display_escape(s); }
// Error text (Lua messages may span lines): newlines kept, the rest escaped.
std::string shown_error(const std::string& s) { return display_escape_multiline(s); }

int usage() {
  std::fprintf(stderr, "usage: bastionctl policy check [--config FILE] [FILE...]\n"
                       "       bastionctl policy test --config FILE --target NAME ... -- COMMAND...\n"
                       "       bastionctl policy test FILE ... -- COMMAND... | --cases CASES.lua\n"
                       "       bastionctl policy push | list | show | rollback ... (the shared policy store)\n"
                       "       (bastionctl policy test --help for the options)\n");
  return kExitUsage;
}

int fail(const std::string& err) {
  std::fprintf(stderr, "%s\n", shown_error(err).c_str());
  return kExitUsage;
}

int check(const std::vector<std::string>& a) {
  std::string config_file;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--config" && i + 1 < a.size()) config_file = a[++i];
    else files.push_back(a[i]);
  }
  if (config_file.empty() && files.empty()) return usage();
  std::vector<std::string> problems, ok, warnings;
  for (const auto& f : files) {
    std::string line;
    auto p = check_policy_file(f, line, warnings);
    if (p.empty()) ok.push_back(line);
    problems.insert(problems.end(), p.begin(), p.end());
  }
  if (!config_file.empty()) {
    auto p = check_configured_policies(config_file, builtin_target_kinds(), ok, warnings);
    problems.insert(problems.end(), p.begin(), p.end());
  }
  for (const auto& l : ok) std::printf("%s\n", shown(l).c_str());
  for (const auto& w : warnings) std::fprintf(stderr, "bastionctl: warning: %s\n", shown(w).c_str());
  for (const auto& p : problems) std::fprintf(stderr, "%s\n", shown_error(p).c_str());
  return problems.empty() ? 0 : 1;  // warnings alone do not fail the check
}

int exit_for(const Decision& d) {
  if (d.allowed()) return kExitAllow;
  return d.verdict == Decision::Verdict::review ? kExitReview : kExitDeny;
}

void print_decision(const Decision& d) {
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
}

void print_trace(const PolicyTrace& trace) {
  std::printf("trace:\n");
  for (const auto& l : trace.lines) std::printf("  %s\n", shown(l).c_str());
}

// The bastion decided before any policy: printed as such (no trace).
int bastion_verdict(const char* verdict, const std::string& reason, const char* from) {
  std::printf("decision: %s\nreason:   %s\nfrom:     %s\n", verdict, shown(reason).c_str(), from);
  return std::string_view(verdict) == "allow" ? kExitAllow : kExitDeny;
}

struct TestArgs {
  std::string file, config, cases, kind, command, cert;
  bool identity_given = false, principals_given = false, session_hook = false, labels_given = false, target_given = false;
  SessionRequest s;
};

std::optional<TestArgs> parse_test_args(const std::vector<std::string>& a) {
  TestArgs t;
  t.s.session_id = "policy-test";
  t.s.identity = "alice";
  t.s.target = "web1";
  t.s.source_address = "127.0.0.1";
  // As a live session that starts now (c.session.started_at 0 would read as a
  // session open since 1970 to a policy that limits session age).
  t.s.started_at = static_cast<int64_t>(std::time(nullptr));
  std::size_t i = 0;
  for (; i < a.size(); ++i) {
    const std::string& o = a[i];
    if (o == "--") {
      ++i;
      break;
    }
    if (!o.starts_with("--")) {
      if (!t.file.empty()) break;  // the command, without "--"
      t.file = o;
      continue;
    }
    if (o == "--tty") t.s.tty = true;
    else if (o == "--session") t.session_hook = true;
    else if (i + 1 >= a.size()) return std::fprintf(stderr, "bastionctl: policy test: %s needs a value\n", o.c_str()), std::nullopt;
    else {
      const std::string v = a[++i];
      if (o == "--identity") t.s.identity = v, t.identity_given = true;
      else if (o == "--principals") t.s.principals = split_commas(v), t.principals_given = true;
      else if (o == "--target") t.s.target = v, t.target_given = true;
      else if (o == "--labels") {
        t.labels_given = true;
        for (const auto& kv : split_commas(v)) {
          const auto eq = kv.find('=');
          if (eq != std::string::npos) t.s.target_labels[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
      } else if (o == "--kind") t.kind = v;
      else if (o == "--source-address") t.s.source_address = v;
      else if (o == "--cases") t.cases = v;
      else if (o == "--config") t.config = v;
      else if (o == "--cert") t.cert = v;
      else return std::fprintf(stderr, "bastionctl: policy test: unknown option %s\n", shown(o).c_str()), std::nullopt;
    }
  }
  for (; i < a.size(); ++i) t.command += (t.command.empty() ? "" : " ") + a[i];
  return t;
}

int run_cases(const TestArgs& t, const TargetKinds& kinds) {
  std::string err;
  const int failures = run_policy_cases(t.file, t.cases, kinds, std::cout, err);
  if (failures < 0) return fail(err);
  return failures == 0 ? 0 : 1;
}

int test(const std::vector<std::string>& a) {
  auto parsed_args = parse_test_args(a);
  if (!parsed_args) return kExitUsage;
  TestArgs& t = *parsed_args;
  const TargetKinds kinds = builtin_target_kinds();
  if (!t.config.empty()) {
    // Everything about the target comes from the configuration: a file or
    // labels given too would test something other than what runs.
    if (!t.file.empty() || t.labels_given || !t.cases.empty())
      return fail("bastionctl: policy test --config takes the policies and labels from the configuration "
                  "(no FILE, --labels or --cases; the command to test goes after --)");
    if (!t.target_given) return fail("bastionctl: policy test --config needs --target NAME");
  } else if (t.file.empty()) {
    return usage();
  } else if (!t.cases.empty()) {
    if (!t.cert.empty()) return fail("bastionctl: policy test --cases takes each case's certificate fields from its file (no --cert)");
    return run_cases(t, kinds);
  }

  PolicySubject subject;
  std::string err;
  std::optional<SshCertificate> cert;
  if (!t.cert.empty()) {
    cert = read_certificate_file(t.cert, err);
    if (!cert) return fail("bastionctl: policy test --cert " + err);
    apply_certificate(*cert, t.s, t.identity_given, t.principals_given);
    t.principals_given = true;  // the certificate's: the allow list is checked as live
  }
  if (!t.config.empty()) {
    auto from_config = policy_subject_from_config(t.config, t.s.target, t.principals_given, t.s, kinds, err);
    if (!from_config) return fail(err);
    subject = std::move(*from_config);
  } else {
    auto src = load_policy_source(t.file, PolicyLimits{}, err);
    if (!src) return fail(err);
    subject.chain = PolicyChain::create(src, nullptr, Decision::Verdict::deny, err);
    if (!subject.chain) return fail(err);
    t.s.target_type = kinds.default_target_type();
    subject.session = t.s;
  }
  SessionRequest& s = subject.session;
  if (!cert) {
    std::printf("certificate: not given (c.certificate fields are zero)\n");
  } else {
    std::printf("certificate: %s\n", shown(certificate_summary(*cert)).c_str());
    if (!subject.trust_known) {
      std::printf("trust:    not checked (give --config for the configured CAs and revocations)\n");
    } else {
      // What the login itself would meet (front/connection.cpp): the policy's
      // verdict below is still what it would say to such a certificate.
      const TrustAnchors anchors{subject.user_cas, subject.revoked.get(), subject.cert_clock_skew};
      const CertVerdict v = verify_user_certificate(*cert, anchors, unix_now(), s.source_address);
      if (v.accepted)
        std::printf("trust:    accepted (CA %s)\n", v.ca_fingerprint.c_str());
      else {
        std::printf("trust:    refused: %s\n", shown(v.reason).c_str());
        std::fprintf(stderr, "bastionctl: warning: the live bastion would refuse this login: %s\n",
                     shown(v.reason).c_str());
      }
    }
  }
  if (!subject.access_note.empty()) std::printf("access:   %s\n", shown(subject.access_note).c_str());
  if (!subject.access_refusal.empty()) return bastion_verdict("deny", subject.access_refusal, "bastion (access)");
  if (!subject.chain) return bastion_verdict("allow", "no policy configured: every command is allowed (and recorded)",
                                             "bastion (no policy)");
  PolicyTrace trace;
  subject.chain->set_trace(&trace);

  if (t.session_hook) {
    const Decision d = subject.chain->decide_session(s);
    print_decision(d);
    print_trace(trace);
    return exit_for(d);
  }
  if (!t.config.empty()) {
    // As Session::admit: the session is decided before its first command,
    // and the credential it names must be one the target holds.
    const Decision sd = subject.chain->decide_session(s);
    if (!sd.allowed()) {
      std::printf("session:  %s (the command is never decided)\n", sd.name());
      print_decision(sd);
      print_trace(trace);
      return exit_for(sd);
    }
    s.credential = sd.credential.empty() ? "default" : sd.credential;
    const auto& held = subject.credentials;
    if (std::find(held.begin(), held.end(), s.credential) == held.end()) {
      std::string names;
      for (const auto& h : held) names += (names.empty() ? "" : ", ") + h;
      std::printf("session:  %s (the command is never decided)\n", "deny");
      return bastion_verdict("deny",
                             "target '" + s.target + "' holds no credential '" + s.credential + "'" +
                                 (sd.credential.empty() ? " (the policy must choose one of: " + names + ")" : ""),
                             "bastion (credential)");
    }
  }

  // The command kind: --kind, or what the target's exec channel decides.
  std::string kind = t.kind;
  if (kind.empty()) kind = subject.target_kind ? subject.target_kind->exec_command_kind() : "exec";
  CommandRequest req{.session = s, .kind = kind, .text = t.command};
  std::optional<ParsedCommand> parsed;
  if (subject.target_kind) {
    const auto own = subject.target_kind->command_kinds();
    if (std::find(own.begin(), own.end(), kind) != own.end()) {
      parsed = subject.target_kind->parse_command(kind, t.command, subject.command_options);
    } else if (kind != "exec" && kind != "shell" && kind != "subsystem") {
      std::string names = "exec, shell, subsystem";
      for (const auto& k : own) names += ", " + k;
      return fail("bastionctl: policy test: --kind " + kind + " is not a command of " + s.target_type +
                  " targets (" + names + ")");
    }
    // An exec channel whose shell reads its input lines: decided one by one (c.lines_decided).
    if (kind == "exec" && !s.tty) {
      ExecRequest er;
      er.kind = ChannelKind::exec;
      er.text = t.command;
      req.lines_decided = subject.target_kind->decides_lines(er);
    }
  } else {
    parsed = kinds.parse(kind, t.command, {});
  }
  if (parsed) {
    if (!parsed->error.empty()) return fail("bastionctl: " + parsed->error);
    if (!parsed->refusal.empty())
      return bastion_verdict("deny", parsed->refusal, "bastion (refused whatever the policy says)");
    if (!parsed->undecided.empty()) return bastion_verdict("allow", parsed->undecided, "bastion");
    req.text = parsed->text;
    req.facts = parsed->facts;
  }
  Decision d = subject.chain->decide(req);
  // As ChannelGate::hold: a review goes to its own approvers or the target's.
  print_decision(d);
  if (d.verdict == Decision::Verdict::review && d.approvers.empty() && !t.config.empty()) {
    if (subject.approvers.empty())
      std::printf("approvers: none (the target has none either: the bastion refuses it, nobody may approve it)\n");
    else {
      std::string ap;
      for (const auto& p : subject.approvers) ap += (ap.empty() ? "" : ",") + shown(p);
      std::printf("approvers: %s (the target's)\n", ap.c_str());
    }
  }
  std::printf("context:\n");
  for (const auto& l : command_context_lines(req)) std::printf("  %s\n", shown(l).c_str());
  print_trace(trace);
  return exit_for(d);
}

}  // namespace

int ctl_policy(const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  if (a[0] == "check") return check({a.begin() + 1, a.end()});
  if (a[0] == "test") return test({a.begin() + 1, a.end()});
  if (a[0] == "push" || a[0] == "list" || a[0] == "show" || a[0] == "rollback" || a[0] == "keygen")
    return ctl_policy_store(a[0], {a.begin() + 1, a.end()});
  return usage();
}

}  // namespace bastion
