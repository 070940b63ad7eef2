// The validated, immutable configuration. Built once by load_config() and
// shared (shared_ptr<const Config>) by every session started under it; a
// reload builds a new one and swaps it in.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "auth/public_key.h"
#include "auth/revocation_list.h"
#include "config/max_startups.h"
#include "config/per_source_penalties.h"
#include "common/secret_file.h"
#include "config/target_schema.h"
#include "policy/policy.h"
#include "policy/policy_source.h"
#include "policy/policy_store.h"

namespace bastion {

// The placeholders of approvals.webhook_text (expanded by approvals/webhook_template.cpp).
inline constexpr std::string_view kWebhookTextNames[] = {"event",      "id",        "kind",          "requester",
                                                         "target",     "command",   "reason",        "approvers",
                                                         "min_approvals", "expires_at", "decided_by", "deny_reason"};

// Just-in-time access settings.
struct ApprovalsConfig {
  std::string target = "approvals";      // reserved target name approvers use
  std::string access_target = "access";  // reserved target name for access requests
  int timeout = 600;        // seconds a held command waits when the decision sets none
  int request_ttl = 3600;   // seconds an access request stays pending
  int max_grant = 8 * 3600; // longest access a request may ask for
  std::string webhook;      // optional URL: JSON POST when a request is created or decided
  std::string webhook_text; // optional chat line template: the POST is {"text": ...} (webhook_template.h)
};

// The auditors' read-only web page (bastion-web(7)). No listener unless
// web_listen is set.
struct WebConfig {
  static constexpr const char* kLoginTarget = "audit";  // reserved: `ssh audit@bastion login`
  std::string listen_host;
  int listen_port = 0;    // 0: no web listener
  std::string cert_file;  // PEM; with key_file, or both empty: self-signed in data_dir
  std::string key_file;
  std::string assets_dir;  // empty: the share dir beside the binary
  std::vector<std::string> auditor_principals{"auditor"};
  int64_t session_ttl = 8 * 3600;  // seconds; never past the login certificate's expiry
  bool enabled() const { return listen_port != 0; }
};

// What operators watch bastiond through (bastiond(8)): the Prometheus
// listener (off unless metrics_listen is set; loopback only unless
// metrics_allow_remote), the control socket `bastionctl status|reload`
// talk to, and the pid file. Read at start; a reload does not move them.
struct OperatorsConfig {
  std::string metrics_host;
  int metrics_port = 0;  // 0: no metrics listener
  bool metrics_allow_remote = false;
  std::string control_socket;  // default DATA_DIR/bastiond.sock; "" in the file: none
  std::string pid_file;        // empty: none
};

// Where closed recordings are shipped (recordings_store; bastion.conf(5)).
// Not set: they stay in recordings_dir. The keys are held like any other
// credential: read once at load (bastiond, --check), never logged.
struct RecordingsStoreConfig {
  std::string type;  // "" (local only) | "s3"
  std::string endpoint;  // "http(s)://HOST[:PORT]", path-style requests
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;  // "" or ending in "/"
  std::string access_key_file, secret_key_file;
  HeldSecret access_key, secret_key;  // empty when the config was loaded without files
  bool enabled() const { return type == "s3"; }
};

// Targets the bastion itself serves (approvers' console, access requests,
// auditors' web login): no kind, no connection.
enum class BuiltinTarget { none, approvals, access, audit };

struct TargetConfig {
  std::string name;
  std::string type;                       // the kind's name (TargetSchema::type())
  const TargetSchema* schema = nullptr;   // its kind (outlives every config)
  BuiltinTarget builtin = BuiltinTarget::none;
  std::vector<std::string> allow;         // principals allowed to use the target
  std::vector<std::string> approvers;     // principals who may approve access requests to it
  std::map<std::string, std::string> labels;
  std::shared_ptr<const PolicySource> policy;  // consulted after the global one
  std::shared_ptr<const TargetSettings> settings;  // the kind's own
  // By name; "default" (the top-level fields) only when the target has them.
  // The policy picks one per session (on_session: allow{ credential = "x" }).
  std::map<std::string, std::shared_ptr<const HeldCredential>> credentials;

  // Null when the target holds no credential of that name: never a fallback.
  const HeldCredential* credential(const std::string& name) const {
    const auto it = credentials.find(name);
    return it == credentials.end() ? nullptr : it->second.get();
  }
};

// A kind's own settings or credential, as the kind made them; throws on a
// kind mismatch (a bug), which the session reports and refuses.
template <class T, class Base>
const T& kind_part(const Base* p) {
  const T* t = dynamic_cast<const T*>(p);
  if (!t) throw std::logic_error("target settings of another kind");
  return *t;
}

struct Limits {
  int max_sessions = 500;
  int max_sessions_per_identity = 50;
  int login_grace_time = 30;           // seconds until authenticated
  int idle_timeout = 3600;             // seconds without input or output; 0 = none
  int max_session_length = 12 * 3600;  // seconds; 0 = none (certificate expiry still applies)
  uint64_t recording_max_bytes = 256ull << 20;
  int max_channels_per_session = 10;
  // Targets one connection may hold upstreams to at once (`ssh -s bastion
  // TARGET` channels sharing a connection).
  int max_targets_per_session = 8;
  // Unauthenticated connections: random early drop past start, all refused
  // at full; and at most this many from one address (IPv6: one /64).
  MaxStartups max_startups;
  int per_source_max_startups = 10;
  PerSourcePenalties per_source_penalties;
  std::string per_source_penalty_exempt;  // comma-separated addresses / CIDR blocks
};

struct Config {
  std::string path;  // the config file
  std::string dir;   // its folder, against which relative paths resolve

  std::string user;  // after binding, run as this user (empty: as started)
  std::string listen_host = "127.0.0.1";
  int listen_port = 2222;
  std::vector<std::string> host_keys;
  std::vector<std::string> user_ca_key_files;
  std::vector<PublicKey> user_cas;
  std::string revoked_keys_file;
  std::shared_ptr<RevocationList> revoked;  // null when not configured
  std::string data_dir;
  // Shared state for several instances: "postgresql://user@host:port/db"
  // (empty: SQLite in data_dir) and the file holding its password (empty:
  // libpq's own service file or passfile).
  std::string store;
  std::string store_password_file;
  // Seconds between an instance's heartbeats on a shared store; silent for
  // kMissedHeartbeats of them, its sessions are marked interrupted.
  int64_t heartbeat_interval = 5;
  static constexpr int kMissedHeartbeats = 3;
  std::string log_format = "text";  // "text" | "json"
  std::string log_level = "info";
  int64_t cert_clock_skew = 60;
  // Tell a user why their own certificate was refused (expired, not yet
  // valid, no principals, source address), after they signed with its key;
  // false ("none"): OpenSSH's silence.
  bool auth_failure_detail = true;
  std::string renew_hint;  // empty: kDefaultRenewHint (auth/cert_problem_text.h)
  int64_t cert_max_ttl = 86400;  // longest certificate `bastionctl cert issue --config` mints (seconds)
  bool record_input = false;
  bool close_on_recording_failure = true;  // false: continue unrecorded, audited as such
  std::string audit_signing_key;  // Ed25519 PEM private key; default DATA_DIR/audit_signing_key
  // "SHA256:..." of the audit key's public half, pinned by the admin: bastiond
  // refuses another key, verify trusts DATA_DIR's .pub only when it matches.
  std::string audit_key_fingerprint;
  int64_t retention = 0;          // seconds recordings are kept after their session ends; 0: forever
  Limits limits;
  std::shared_ptr<const PolicySource> policy;       // null: no global policy
  Decision::Verdict policy_default = Decision::Verdict::deny;  // when no script has an opinion
  PolicyLimits policy_limits;
  std::map<std::string, TargetConfig> targets;
  ApprovalsConfig approvals;
  WebConfig web;
  OperatorsConfig operators;
  RecordingsStoreConfig recordings_store;

  // The stored policies `policy = "store:NAME"` names (global and targets'),
  // with the version loaded (0 when not read): bastiond compares them with
  // the store's active versions to reload.
  std::map<std::string, int64_t> store_policies;
  // Fingerprints ("SHA256:...") of the Ed25519 keys whose signatures a
  // stored policy must carry (bastionctl policy keygen / push --key).
  std::vector<std::string> policy_signers;
  // Loaded without a policy store reader by a tool that never decides (the
  // audit readers): those policies are null here and must not be run.
  bool store_policies_unread = false;

  // Every policy and module file, for change detection (stored policies have none).
  std::vector<std::string> policy_files() const;

  std::string recordings_dir() const { return data_dir + "/recordings"; }
  std::string audit_db_path() const { return data_dir + "/audit.db"; }
  // Where the audit store is: the PostgreSQL URI, or the SQLite file.
  std::string audit_store() const { return store.empty() ? audit_db_path() : store; }
};

// Loads and validates, with `kinds` the target kinds a target may be. On
// failure returns null and `error` reads "FILE:LINE: KEY: problem".
// `check_files` also opens keys and CA files, and has each kind read its
// targets' held credential files and check the files their settings name:
// bastiond and `bastiond --check` always do; only tools that never connect
// skip it.
// `policy_store` resolves `policy = "store:NAME"` (the active version; a
// missing name or an unreachable store is an error). Without one, such a
// policy is an error when `check_files` (the configuration is about to
// run: fail closed); otherwise it is left null and store_policies_unread
// set, for tools that only need the configuration's store and paths.
std::shared_ptr<const Config> load_config(const std::string& path, std::string& error, const TargetSchemas& kinds,
                                          bool check_files = true, PolicyStoreReader* policy_store = nullptr);

}  // namespace bastion
