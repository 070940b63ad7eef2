// `bastionctl policy check`: what loads yet would not do what its author
// meant. A policy file alone: load errors, hooks, mask methods. With
// --config: every configured policy, and reviews nobody could approve.
#include <filesystem>
#include <set>

#include "audit/config_policy_store.h"
#include "config/config.h"
#include "ctl/policy_ctl.h"
#include "policy/lua_policy.h"
#include "policy/policy_lint.h"

namespace bastion {
namespace {

std::vector<std::string> lint_source(const std::shared_ptr<const PolicySource>& src) {
  std::string err;
  auto p = LuaPolicy::create(src, err);
  if (!p) return {err};
  return lint_policy(*src, p->script_functions());
}

std::string ok_line(const PolicySource& src) {
  return src.path + ": OK (sha256 " + src.hash.substr(0, 16) + ", " + std::to_string(src.modules.size()) +
         " modules)";
}

}  // namespace

std::vector<std::string> check_policy_file(const std::string& file, std::string& ok,
                                           std::vector<std::string>& warnings) {
  std::string err;
  const auto src = load_policy_source(file, PolicyLimits{}, err);
  if (!src) return {err};
  for (auto& w : review_approver_warnings(*src)) warnings.push_back(std::move(w));
  auto problems = lint_source(src);
  if (problems.empty()) ok = ok_line(*src);
  return problems;
}

std::vector<std::string> check_configured_policies(const std::string& config_file, const TargetKinds& kinds,
                                                   std::vector<std::string>& ok_lines,
                                                   std::vector<std::string>& warnings) {
  std::string err;
  const auto cfg = load_config_reading_policy_store(config_file, err, kinds, false);
  if (!cfg) return {err};
  std::vector<std::string> problems;
  std::set<const PolicySource*> seen;
  auto check = [&](const std::shared_ptr<const PolicySource>& src) {
    if (!src || !seen.insert(src.get()).second) return;
    for (auto& w : review_approver_warnings(*src)) warnings.push_back(std::move(w));
    auto p = lint_source(src);
    if (p.empty()) ok_lines.push_back(ok_line(*src));
    problems.insert(problems.end(), p.begin(), p.end());
  };
  check(cfg->policy);
  for (const auto& [name, t] : cfg->targets) check(t.policy);
  // A review names its approvers, or the target's decide (ChannelGate::hold);
  // with neither, the command is refused as "nobody may approve it here".
  const std::vector<std::string> global_reviews = cfg->policy ? reviews_without_approvers(*cfg->policy)
                                                              : std::vector<std::string>{};
  for (const auto& [name, t] : cfg->targets) {
    if (!t.approvers.empty()) continue;
    std::vector<std::string> at = global_reviews;
    if (t.policy)
      for (auto& r : reviews_without_approvers(*t.policy)) at.push_back(std::move(r));
    for (const auto& r : at)
      problems.push_back(config_file + ": targets." + name + ": " + r +
                         " can return review without approvers, and the target has none: nobody can approve it "
                         "(name approvers in the review, or give the target approvers = { ... })");
  }
  if (problems.empty()) ok_lines.push_back(config_file + ": policies OK");
  return problems;
}

}  // namespace bastion
