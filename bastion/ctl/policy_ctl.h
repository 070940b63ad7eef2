// Shared by `bastionctl policy test` and `policy check` (ctl/policy_*.cpp).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/public_key.h"
#include "auth/revocation_list.h"
#include "policy/policy.h"
#include "policy/policy_chain.h"
#include "targets/target_kind.h"

namespace bastion {

// What one `policy test` command is decided against.
struct PolicySubject {
  std::unique_ptr<PolicyChain> chain;  // null: no policy configured (every command allowed)
  SessionRequest session;
  // The target's kind (--config): it parses the commands and names the
  // default command kind. Null in the single-file form (any kind parses).
  const TargetKind* target_kind = nullptr;
  CommandOptions command_options;  // what a live session parses with (--config: a kubectl target's namespace)
  std::vector<std::string> approvers;  // the target's (--config)
  std::vector<std::string> credentials;  // the names of the target's held credentials (--config)
  // The bastion refuses before any policy (the principals the target does not allow).
  std::string access_refusal;
  std::string access_note;  // printed as "access:" (what was or was not checked)
  // The configuration's trust in user certificates (--config), for checking
  // a --cert as the live bastion would at login.
  bool trust_known = false;
  std::vector<PublicKey> user_cas;
  std::shared_ptr<const RevocationList> revoked;  // null: none configured
  int64_t cert_clock_skew = 60;
};

// From `--config FILE --target NAME`: the policies, labels and kind
// bastiond would use for that target; `session` holds the identity,
// principals, source address and tty from the command line.
// nullopt + `error` for a configuration that does not load or a target it lacks.
std::optional<PolicySubject> policy_subject_from_config(const std::string& config_file, const std::string& target,
                                                        bool principals_given, SessionRequest session,
                                                        const TargetKinds& kinds, std::string& error);

// `policy check --config FILE`: every configured policy, and reviews that
// would reach a target without approvers. Problems as printable lines;
// `warnings` gets what may be right but cannot be checked (no exit status).
std::vector<std::string> check_configured_policies(const std::string& config_file, const TargetKinds& kinds,
                                                   std::vector<std::string>& ok_lines,
                                                   std::vector<std::string>& warnings);

// `policy push | list | show | rollback` (policy_store_cmd.cpp): `sub` and
// the words after it.
int ctl_policy_store(const std::string& sub, const std::vector<std::string>& args);

// One policy file's own problems (load errors, hooks, mask methods).
std::vector<std::string> check_policy_file(const std::string& file, std::string& ok_line,
                                           std::vector<std::string>& warnings);

}  // namespace bastion
