// One target a session has channels to. A login that named its target has
// one; a login that named none (`ssh -s bastion TARGET`, connection sharing)
// has one per target its channels chose, each with its own policy chain,
// session decision (on_session: credential, options), access grant and
// onward connection.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "policy/policy.h"
#include "policy/policy_chain.h"
#include "targets/target.h"

namespace bastion {

struct SessionUpstream {
  std::optional<SessionRequest::Grant> grant;  // the access grant this target relies on
  int64_t next_grant_check = 0;
  std::unique_ptr<PolicyChain> chain;
  std::shared_ptr<const PolicySource> chain_global, chain_target;  // keep built_from() pointers valid
  bool kept_policy_logged = false;
  bool admitted = false;
  std::string denial;      // on_session refused (or its audit row failed): told to each channel
  std::string credential;  // the target credential admit() settled ("default" unless the policy chose)
  SessionOptions options;
  // Set when access to this target ended mid-session (grant, reload): its
  // channels were ended and new ones get this line.
  std::string withdrawn;
  std::shared_ptr<TargetConnection> conn;  // connected on first use
  // The configuration on_session's decision was made under (unset when a
  // reload landed while it was being made), and the one the policy was last
  // read from. A new onward connection is opened only while the first is the
  // live configuration. Weak: they never keep a configuration alive.
  std::weak_ptr<const Config> admitted_under, policy_under;
  // Monotonic: a channel to this target last moved (its own idle_timeout,
  // on a connection shared between targets).
  double last_activity = 0;
};

}  // namespace bastion
