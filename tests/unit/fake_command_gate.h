// A CommandGate for unit tests of command sources and executors: decides
// by the command's text (allow unless told otherwise), holds commands for
// review until the test decides them, and logs every call in order, so a
// test asserts exactly what reached the gate.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/command_gate.h"

namespace bastion::test {

class FakeCommandGate : public CommandGate {
 public:
  enum class Rule { allow, deny, hold };
  std::map<std::string, Rule> rules;  // by CommandRequest::text; absent: allow
  std::vector<std::string> calls;     // "submit TEXT", "refuse TEXT: WHY", "ended ID status=N", ...
  std::vector<std::string> refused_kinds;  // CommandRequest::kind of each refuse()

  // A held command's review ends: allowed (a new audit row) or refused.
  void approve(int64_t review_id) {
    GateResult g;
    g.decision = Decision::allow("approved");
    g.command_id = ++last_id_;
    decided_[review_id] = g;
  }
  void reject(int64_t review_id, const std::string& why) {
    GateResult g;
    g.decision = Decision::deny(why);
    g.refusal = why;
    decided_[review_id] = g;
  }

  GateResult submit(const CommandRequest& req) override {
    calls.push_back("submit " + req.text);
    GateResult g;
    g.command_id = ++last_id_;
    const auto it = rules.find(req.text);
    const Rule r = it == rules.end() ? Rule::allow : it->second;
    if (r == Rule::deny) {
      g.decision = Decision::deny("no " + req.text);
      g.refusal = g.decision.reason;
    } else if (r == Rule::hold) {
      g.decision = Decision::deny("held");
      g.decision.verdict = Decision::Verdict::review;
      g.review_id = ++last_review_;
    } else {
      g.decision = Decision::allow();
    }
    return g;
  }
  GateResult refuse(const CommandRequest& req, const std::string& reason) override {
    calls.push_back("refuse " + req.text + ": " + reason);
    refused_kinds.push_back(req.kind);
    GateResult g;
    g.command_id = ++last_id_;
    g.decision = Decision::deny(reason);
    g.refusal = reason;
    return g;
  }
  std::optional<GateResult> poll_review(int64_t review_id) override {
    const auto it = decided_.find(review_id);
    if (it == decided_.end()) return std::nullopt;
    calls.push_back("decided #" + std::to_string(review_id));
    GateResult g = it->second;
    decided_.erase(it);
    return g;
  }
  void cancel_review(int64_t review_id) override { calls.push_back("cancel #" + std::to_string(review_id)); }
  GateResult submit_request(const CommandRequest& req) override {
    calls.push_back("request " + req.text);
    GateResult g;
    g.command_id = ++last_id_;
    g.decision = Decision::allow();
    return g;
  }
  void request_ended(int64_t command_id, const CommandOutcome& o) override {
    calls.push_back("request ended " + std::to_string(command_id) + " status=" + std::to_string(o.status.value_or(-1)));
  }
  void command_ended(int64_t command_id, const CommandOutcome& o) override {
    calls.push_back("ended " + std::to_string(command_id) + " status=" + std::to_string(o.status.value_or(-1)));
  }
  CommandRequest request(const std::string& kind, const std::string& text) const override {
    CommandRequest r;
    r.kind = kind;
    r.text = text;
    return r;
  }
  const std::string& mask_key() const override { return key_; }

 private:
  int64_t last_id_ = 0, last_review_ = 0;
  std::map<int64_t, GateResult> decided_;
  std::string key_ = "test-mask-key";
};

}  // namespace bastion::test
