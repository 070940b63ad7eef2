// `bastionctl policy test --config FILE --target NAME`: the chain bastiond
// builds for a session to that target (Session::policy), from the same
// loaded configuration, so a test cannot disagree with the live bastion
// about labels, policies or the default verdict.
#include <algorithm>

#include "audit/config_policy_store.h"
#include "config/config.h"
#include "ctl/policy_ctl.h"

namespace bastion {

std::optional<PolicySubject> policy_subject_from_config(const std::string& config_file, const std::string& target,
                                                        bool principals_given, SessionRequest session,
                                                        const TargetKinds& kinds, std::string& error) {
  // Secrets are not read: deciding needs none (and an admin's test run
  // should not need the bastion's keys).
  const auto cfg = load_config_reading_policy_store(config_file, error, kinds, false);
  if (!cfg) return std::nullopt;
  const auto it = cfg->targets.find(target);
  if (it == cfg->targets.end()) {
    std::string names;
    for (const auto& [name, t] : cfg->targets) names += (names.empty() ? "" : ", ") + name;
    error = config_file + ": no target \"" + target + "\" (targets: " + (names.empty() ? "none" : names) + ")";
    return std::nullopt;
  }
  const TargetConfig& t = it->second;
  PolicySubject out;
  session.target = t.name;
  session.target_type = t.type;
  session.target_labels = t.labels;
  out.session = std::move(session);
  out.target_kind = &kind_of(t);
  out.command_options = out.target_kind->target_command_options(t);
  out.approvers = t.approvers;
  for (const auto& [name, cred] : t.credentials) out.credentials.push_back(name);
  out.trust_known = true;
  out.user_cas = cfg->user_cas;
  out.revoked = cfg->revoked;
  out.cert_clock_skew = cfg->cert_clock_skew;
  if (!principals_given) {
    out.access_note = "not checked (give --principals to check the target's allow list)";
  } else if (std::any_of(out.session.principals.begin(), out.session.principals.end(), [&](const std::string& p) {
               return std::find(t.allow.begin(), t.allow.end(), p) != t.allow.end();
             })) {
    out.access_note = "allowed (a principal is in the target's allow list)";
  } else {
    // As Session::target_config refuses it (a just-in-time grant aside).
    out.access_refusal = "access to target \"" + t.name + "\" is not allowed for " + out.session.identity;
    out.access_note = "refused: no principal in the target's allow list" +
                      std::string(t.approvers.empty() ? "" : " (an approved access request would let it in)");
  }
  if (cfg->policy || t.policy) {
    out.chain = PolicyChain::create(cfg->policy, t.policy, cfg->policy_default, error);
    if (!out.chain) return std::nullopt;
  }
  return out;
}

}  // namespace bastion
