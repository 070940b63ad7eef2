#include "config/known_keys.h"

namespace bastion::known_keys {

const std::set<std::string>& top_level() {
  static const std::set<std::string> keys{
      "user", "listen", "host_keys", "user_ca_keys", "revoked_keys", "data_dir", "log_format", "log_level",
      "cert_clock_skew", "cert_max_ttl", "record_input", "on_recording_failure", "limits", "targets", "policy",
      "policy_default", "policy_limits", "approvals", "audit_signing_key", "audit_key_fingerprint", "retention",
      "web_listen", "web_cert", "web_key", "web_assets_dir", "auditor_principals", "web_session_ttl",
      "auth_failure_detail", "renew_hint", "metrics_listen", "metrics_allow_remote", "control_socket", "pid_file",
      "store", "store_password_file", "heartbeat_interval",
      "recordings_store", "policy_signers",
  };
  return keys;
}

const std::set<std::string>& limits() {
  static const std::set<std::string> keys{
      "max_sessions", "max_sessions_per_identity", "login_grace_time", "idle_timeout", "max_session_length",
      "recording_max_bytes", "max_channels_per_session", "max_targets_per_session", "max_startups", "per_source_max_startups",
      "per_source_penalties", "per_source_penalty_exempt",
  };
  return keys;
}

const std::set<std::string>& approvals() {
  static const std::set<std::string> keys{"target", "access_target", "timeout", "request_ttl", "max_grant", "webhook",
                                          "webhook_text"};
  return keys;
}

const std::set<std::string>& recordings_store() {
  static const std::set<std::string> keys{"type", "endpoint", "bucket", "region", "prefix", "access_key_file",
                                          "secret_key_file"};
  return keys;
}

const std::set<std::string>& policy_limits() {
  static const std::set<std::string> keys{"memory_mb", "time_ms"};
  return keys;
}

const std::set<std::string>& target_common() {
  static const std::set<std::string> keys{"type", "allow", "labels", "policy", "approvers", "credentials"};
  return keys;
}

}  // namespace bastion::known_keys
