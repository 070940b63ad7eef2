#include "policy/policy_chain.h"

namespace bastion {

std::unique_ptr<PolicyChain> PolicyChain::create(std::shared_ptr<const PolicySource> global,
                                                 std::shared_ptr<const PolicySource> target,
                                                 Decision::Verdict default_verdict, std::string& error) {
  auto c = std::unique_ptr<PolicyChain>(new PolicyChain());
  c->global_src_ = global.get();
  c->target_src_ = target.get();
  c->default_ = default_verdict;
  if (global && !(c->global_ = LuaPolicy::create(global, error))) return nullptr;
  if (target && !(c->target_ = LuaPolicy::create(target, error))) return nullptr;
  return c;
}

Decision PolicyChain::finish(std::optional<Decision> d, const char* hook) const {
  if (d) return *d;
  Decision out = default_ == Decision::Verdict::allow ? Decision::allow()
                                                      : Decision::deny("no policy allows this");
  out.hook = Decision::Hook::default_verdict;
  if (trace_) trace_->lines.push_back(std::string("no opinion from any ") + hook + ": default " + out.name());
  return out;
}

Decision PolicyChain::decide_session(const SessionRequest& req) {
  std::optional<Decision> g, t;
  if (global_) g = global_->on_session(req, trace_);
  if (target_) t = target_->on_session(req, trace_);
  // A session with no on_session opinion is allowed: commands are still decided one by one.
  auto d = combine(g, t);
  if (!d) {
    Decision a = Decision::allow();
    a.hook = Decision::Hook::default_verdict;
    return a;
  }
  return *d;
}

Decision PolicyChain::decide(const CommandRequest& req) {
  std::optional<Decision> g, t;
  if (global_) g = global_->on_command(req, trace_);
  if (target_) t = target_->on_command(req, trace_);
  return finish(combine(g, t), "on_command");
}

}  // namespace bastion
