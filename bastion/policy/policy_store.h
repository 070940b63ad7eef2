// The shared policy store (issue 20): named policies kept as numbered
// versions in the audit store, one version of each name active. A
// configuration names one with `policy = "store:NAME"`; every instance on
// the store then runs the same text and modules, and each decision's
// policy_source says which version it came from ("store:NAME@3:12").
// This header is what the configuration and the policy layer need; the
// audit store (sql_policy_store.cpp) implements the reader and the writes.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy_source.h"

namespace bastion {

// `policy = "store:NAME"`: the prefix that names a stored policy.
inline constexpr std::string_view kStorePolicyPrefix = "store:";
// A name stays short enough that "store:NAME@VERSION/module.lua:LINE" fits
// Lua's chunk names (60 bytes) whole in every decision's policy_source.
inline constexpr std::size_t kPolicyNameMax = 32;
// The most text (policy and modules together) one version may hold.
inline constexpr std::size_t kStoredPolicyMaxBytes = 1u << 20;

// One version as stored.
struct StoredPolicy {
  std::string name;
  int64_t version = 0;
  std::string text;
  std::map<std::string, std::string> modules;  // import name -> text
  std::string hash;  // sha256 hex of `text` (what decisions record as policy_hash)
  std::string pushed_by, pushed_at, note;
};

// What `policy list` shows of one version (no text).
struct StoredPolicyVersion {
  std::string name;
  int64_t version = 0;
  std::string hash, pushed_by, pushed_at, note;
  bool active = false;
};

// One change of a name's active version: its push, or a rollback.
struct PolicyActivation {
  std::string name;
  int64_t version = 0;
  std::string action;  // push | rollback
  std::string changed_by, changed_at;
};

// How the configuration loader reads `store:NAME` (implemented by the audit
// store). Narrow on purpose: reading only.
class PolicyStoreReader {
 public:
  virtual ~PolicyStoreReader() = default;
  // The active version of `name`; false + error when the store has no such
  // policy, cannot be read, or when the version or the activation that made
  // it active is not signed by a key whose fingerprint is in `signers`
  // (the configuration's policy_signers).
  virtual bool active_policy(const std::string& name, const std::vector<std::string>& signers, StoredPolicy& out,
                             std::string& error) = 0;
  // The active version of each of `names` (0: none), one cheap read each:
  // bastiond compares them about once a second to reload on a change.
  virtual bool active_versions(const std::vector<std::string>& names, std::vector<int64_t>& out,
                               std::string& error) = 0;
};

// Why `name` cannot name a stored policy (1 to kPolicyNameMax of
// [A-Za-z0-9_.-], starting with a letter or digit); nullopt when it can.
std::optional<std::string> policy_name_problem(const std::string& name);

// "store:NAME@VERSION": a stored version's label (PolicySource::version).
std::string stored_policy_label(const std::string& name, int64_t version);

// The modules as stored (a JSON object, keys sorted) and back; nullopt when
// a module is not UTF-8 text (JSON cannot hold it unchanged).
std::optional<std::string> modules_to_json(const std::map<std::string, std::string>& modules);
bool modules_from_json(const std::string& json, std::map<std::string, std::string>& out, std::string& error);

// Compiles a stored version (its modules from the snapshot, never from
// disk) into the source sessions run. Null + error on failure.
std::shared_ptr<const PolicySource> policy_source_from_store(const StoredPolicy& p, const PolicyLimits& limits,
                                                             std::string& error);

}  // namespace bastion
