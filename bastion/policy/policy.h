// The policy stage: every command is decided before it reaches a target.
// Policy code knows nothing about SSH: it sees only these requests.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/command_facts.h"

namespace bastion {

// Who and where; shared by session and command requests.
struct SessionRequest {
  std::string session_id;
  std::string identity;
  std::vector<std::string> principals;
  std::string source_address;
  uint64_t cert_serial = 0;
  uint64_t cert_valid_before = 0;
  std::map<std::string, std::string> cert_extensions;
  std::string target;
  std::string target_type;
  std::map<std::string, std::string> target_labels;
  int64_t started_at = 0;  // unix seconds
  bool tty = false;
  int64_t now = 0;  // evaluation time (unix seconds); 0 = the real clock. Tests set it.
  // Set when the session relies on a just-in-time access grant.
  struct Grant {
    int64_t id = 0;
    std::string approver, reason;
    int64_t expires_at = 0;
  };
  std::optional<Grant> grant;
  // The held credential the session's on_session decision chose ("default"
  // when it named none); empty while on_session itself runs.
  std::string credential;
  // True when on_session runs only to list the targets open to the
  // identity (the target picker, an unknown target's refusal): nothing is
  // admitted or audited by this call.
  bool listing = false;
};

struct CommandRequest {
  SessionRequest session;
  std::string kind;  // exec | shell | subsystem | access, or a kind a target kind parses (a statement, an API request, ...)
  std::string text;  // exactly what will run
  // What the target kind's parser found in it (null: nothing parsed).
  std::shared_ptr<const CommandFacts> facts = nullptr;
  // A channel (exec or shell) whose input lines the bastion decides one by
  // one before they run (c.lines_decided): a shell reading stdin.
  bool lines_decided = false;
};

// RE2's memory bound for a mask pattern: the masking filter compiles with
// it, and a decision or `policy check` accepts a pattern only if it compiles with it.
constexpr int kMaskRegexMaxMem = 1 << 20;

struct MaskRule {
  std::string pattern;      // RE2 syntax
  std::string replacement;  // default "****"
};

// Replaces a result column's values before they are rendered (targets that return rows).
struct ColumnMaskRule {
  std::string table;   // empty: a column of this name in any table or view
  std::string column;
  enum class Method { full, keep_last, hash } method = Method::full;
  int keep = 0;  // keep_last: characters left visible at the end
};

// Per-session options a policy may set from on_session.
struct SessionOptions {
  std::optional<bool> record_input;
  std::optional<int> idle_timeout;
  std::optional<int> max_session_length;
};

struct Decision {
  // Ordered by strictness: the stricter of two decisions wins.
  enum class Verdict { allow = 0, mask = 1, review = 2, deny = 3 };
  Verdict verdict = Verdict::deny;
  std::string reason;
  std::vector<std::string> approvers;  // review
  int review_timeout = 0;              // review, seconds (0: the configured default)
  int min_approvals = 1;               // review: distinct approvers needed
  std::vector<MaskRule> mask;          // mask: output patterns
  std::vector<ColumnMaskRule> column_masks;  // mask: result columns (of targets that return rows)
  bool mask_derived = true;  // computed columns of a query reading a masked table are masked too
  // Under column masks the bastion refuses to make objects (tables, views,
  // cursors, prepared statements, rows) from a relation holding masked
  // columns; mask = { ..., allow_derived_objects = true } lifts that.
  bool allow_derived_objects = false;
  std::optional<int64_t> row_limit;    // allow/mask: fewer rows than the target's cap
  SessionOptions options;              // on_session
  // on_session: the target credential the session connects with (empty:
  // none named, so "default"). Two policies naming different ones deny.
  std::string credential;
  // Where it came from, for the audit trail.
  std::string policy_hash;  // sha256 of the deciding policy file
  // Which hook decided: a script's, the configured default, the bastion
  // itself (refused or allowed whatever the policy says), or an approval.
  enum class Hook { none, on_session, on_command, default_verdict, bastion, approval };
  Hook hook = Hook::none;
  std::string source;       // "main.lua:12"

  static Decision allow(std::string why = {}) { return make(Verdict::allow, std::move(why)); }
  static Decision deny(std::string why) { return make(Verdict::deny, std::move(why)); }
  bool allowed() const { return verdict == Verdict::allow || verdict == Verdict::mask; }
  bool masks() const { return !mask.empty() || !column_masks.empty(); }
  // As the audit trail and `bastionctl policy test` spell it.
  const char* hook_name() const {
    switch (hook) {
      case Hook::none: return "";
      case Hook::on_session: return "on_session";
      case Hook::on_command: return "on_command";
      case Hook::default_verdict: return "default";
      case Hook::bastion: return "bastion";
      case Hook::approval: return "approval";
    }
    return "";
  }
  const char* name() const {
    switch (verdict) {
      case Verdict::allow: return "allow";
      case Verdict::mask: return "mask";
      case Verdict::review: return "review";
      case Verdict::deny: return "deny";
    }
    return "deny";
  }

 private:
  static Decision make(Verdict v, std::string why) {
    Decision d;
    d.verdict = v;
    d.reason = std::move(why);
    return d;
  }
};

// The stricter of two opinions (deny > review > mask > allow); masks from
// both apply; two different credentials deny. Either may be absent ("no opinion").
std::optional<Decision> combine(std::optional<Decision> a, std::optional<Decision> b);

class Policy {
 public:
  virtual ~Policy() = default;
  // Must not throw; an internal failure is a deny (fail closed).
  virtual Decision decide_session(const SessionRequest& req) = 0;
  virtual Decision decide(const CommandRequest& req) = 0;
};

// Used when no policy is configured: access is what the target's `allow`
// principals grant, and every command is allowed (and recorded, audited).
class AllowAllPolicy : public Policy {
 public:
  Decision decide_session(const SessionRequest&) override { return Decision::allow(); }
  Decision decide(const CommandRequest&) override { return Decision::allow(); }
};

}  // namespace bastion
