// What `bastionctl status` shows: the process, the config it runs (a
// SHA-256 of the config file and of every policy file, and a generation
// counted up by each reload that took), the last reload's result, and the
// sessions open now. Kept by the main thread, which alone reloads and
// answers the control socket.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/live_sessions.h"

namespace bastion {

struct ConfigVersion {
  std::string config_sha256;  // of the config file's bytes as loaded
  std::string policy_sha256;  // of every policy and module file, in order, with their paths; "" if none
  std::string stored_policies;  // "store:NAME@VERSION ..." of `policy = "store:NAME"`; "" if none
  uint64_t generation = 1;    // 1 at start, +1 per reload that took
};

// Hashes the files `cfg` was read from (config file, policy files). A file
// that cannot be read hashes as its path and the OS's reason.
ConfigVersion config_version(const Config& cfg, uint64_t generation);

struct ReloadResult {
  int64_t at = 0;       // unix seconds; 0: no reload yet
  bool ok = false;
  std::string error;    // "FILE:LINE: KEY: problem" when refused
  std::string trigger;  // "SIGHUP", "control socket", "policy file changed", "policy store"
};

struct DaemonStatus {
  int64_t pid = 0;
  int64_t started_at = 0;
  int64_t now = 0;
  std::string version;
  std::string config_path;
  ConfigVersion config;
  ReloadResult last_reload;
};

std::string status_json(const DaemonStatus& s, const std::vector<LiveSession>& sessions);
std::string reload_json(const ReloadResult& r, const ConfigVersion& now_running);

}  // namespace bastion
