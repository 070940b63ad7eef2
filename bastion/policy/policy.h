// The policy stage: every command is decided before it reaches a target.
// Policy code knows nothing about SSH: it sees only this request.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bastion {

struct CommandRequest {
  std::string session_id;
  std::string identity;
  std::vector<std::string> principals;
  std::string source_address;
  std::string target;
  std::string target_type;
  std::map<std::string, std::string> target_labels;
  std::string kind;  // exec | shell | subsystem
  std::string text;
  bool tty = false;
};

struct Decision {
  enum class Verdict { allow, deny };
  Verdict verdict = Verdict::deny;
  std::string reason;

  static Decision allow(std::string why = {}) { return {Verdict::allow, std::move(why)}; }
  static Decision deny(std::string why) { return {Verdict::deny, std::move(why)}; }
  bool allowed() const { return verdict == Verdict::allow; }
  const char* name() const { return allowed() ? "allow" : "deny"; }
};

class Policy {
 public:
  virtual ~Policy() = default;
  // Must not throw; an internal failure is a deny (fail closed).
  virtual Decision decide(const CommandRequest& req) = 0;
};

// The placeholder until Lua policies exist: everything that passed the
// target's `allow` principals check is allowed.
class AllowAllPolicy : public Policy {
 public:
  Decision decide(const CommandRequest&) override { return Decision::allow(); }
};

}  // namespace bastion
