// The configured policies for one session: the global policy, then the
// target's; the stricter decision wins (deny > review > mask > allow). When
// neither has an opinion, `policy_default` decides (deny unless configured).
#pragma once
#include <memory>

#include "policy/lua_policy.h"

namespace bastion {

class PolicyChain : public Policy {
 public:
  // Either source may be null. Null + error when a script fails to build.
  static std::unique_ptr<PolicyChain> create(std::shared_ptr<const PolicySource> global,
                                             std::shared_ptr<const PolicySource> target,
                                             Decision::Verdict default_verdict, std::string& error);

  Decision decide_session(const SessionRequest& req) override;
  Decision decide(const CommandRequest& req) override;

  // True when built from exactly these sources (used to pick up reloads).
  bool built_from(const PolicySource* global, const PolicySource* target) const {
    return global_src_ == global && target_src_ == target;
  }
  void set_trace(PolicyTrace* t) { trace_ = t; }

 private:
  Decision finish(std::optional<Decision> d, const char* hook) const;
  std::unique_ptr<LuaPolicy> global_, target_;
  const PolicySource* global_src_ = nullptr;
  const PolicySource* target_src_ = nullptr;
  Decision::Verdict default_ = Decision::Verdict::deny;
  PolicyTrace* trace_ = nullptr;
};

}  // namespace bastion
