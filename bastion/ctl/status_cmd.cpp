// bastionctl status | reload: asks a running bastiond through its control
// socket (bastiond(8)): what it runs and who is connected, or to reload its
// config exactly as SIGHUP does and say whether the new one took.
//
// Which bastiond: --socket names its socket; --pid finds the socket that
// process listens on (the unit's ExecReload, with $MAINPID); --config uses
// the config's control_socket, but only if the bastiond answering there runs
// that very config. Otherwise (a reload whose new config moves
// control_socket or data_dir, restart-only keys) the bastiond running the
// config is looked for among running processes, and bastionctl says so.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/display_escape.h"
#include "common/parse_number.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "ctl/running_daemon.h"
#include "front/control_socket.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

constexpr const char* kDefaultConfig = "/etc/bastion/bastion.conf";
constexpr int kStatusTimeoutMs = 10000;
constexpr int kReloadTimeoutMs = 60000;  // a reload compiles every policy

int usage(const std::string& cmd, bool help) {
  std::fprintf(help ? stdout : stderr,
               "usage: bastionctl %s [--config FILE | --socket PATH | --pid PID] [--json]\n"
               "  --config FILE  the bastiond running this config (default %s): its control_socket,\n"
               "                 else the running bastiond whose config it is\n"
               "  --socket PATH  the control socket itself\n"
               "  --pid PID      the control socket bastiond PID listens on (needs root)\n"
               "  --json         print bastiond's JSON reply\n",
               cmd.c_str(), kDefaultConfig);
  return help ? 0 : 2;
}

std::string e(const std::string& s) { return display_escape(s); }
std::string str(const nlohmann::json& j, const char* k) {
  return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
}

std::string duration(int64_t s) {
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d";
  if (s >= 3600) out += std::to_string(s % 86400 / 3600) + "h";
  if (s >= 60) out += std::to_string(s % 3600 / 60) + "m";
  return out + std::to_string(s % 60) + "s";
}

void print_status(const nlohmann::json& j) {
  const auto& c = j["config"];
  std::printf("bastiond %s, pid %lld, up %s (since %s)\n", e(str(j, "version")).c_str(),
              static_cast<long long>(j.value("pid", 0LL)), duration(j.value("uptime_seconds", 0LL)).c_str(),
              e(str(j, "started_at")).c_str());
  std::printf("config: %s, generation %llu, sha256 %s\n", e(str(c, "path")).c_str(),
              static_cast<unsigned long long>(c.value("generation", 0ULL)), e(str(c, "sha256")).c_str());
  const std::string pol = str(c, "policy_sha256");
  std::printf("policy: %s\n", pol.empty() ? "none" : ("sha256 " + e(pol)).c_str());
  if (const std::string stored = str(c, "stored_policies"); !stored.empty())
    std::printf("stored policies: %s\n", e(stored).c_str());
  const auto& r = j["last_reload"];
  if (r.is_object()) {
    std::printf("last reload: %s %s (%s)%s\n", e(str(r, "at")).c_str(), e(str(r, "result")).c_str(),
                e(str(r, "trigger")).c_str(), str(r, "error").empty() ? "" : (": " + e(str(r, "error"))).c_str());
  } else {
    std::printf("last reload: none\n");
  }
  const auto& sessions = j["sessions"];
  std::string kinds;
  for (const auto& [k, n] : j["sessions_by_kind"].items())
    kinds += (kinds.empty() ? "" : ", ") + e(k) + " " + std::to_string(n.get<long long>());
  std::printf("sessions: %zu%s\n", sessions.size(), kinds.empty() ? "" : (" (" + kinds + ")").c_str());
  for (const auto& s : sessions)
    std::printf("  %s  %s -> %s (%s) from %s since %s\n", e(str(s, "id")).c_str(), e(str(s, "identity")).c_str(),
                e(str(s, "target")).c_str(), e(str(s, "kind")).c_str(), e(str(s, "source_address")).c_str(),
                e(str(s, "started_at")).c_str());
}

// bastiond's status reply on `socket`, or null with `error`.
nlohmann::json ask_status(const std::string& socket, std::string& error) {
  const std::string reply = control_request(socket, "status", kStatusTimeoutMs, error);
  if (reply.empty()) return nullptr;
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) {
    error = "the reply on " + socket + " is not a bastiond status";
    return nullptr;
  }
  return j;
}

pid_t pid_in(const nlohmann::json& status) { return static_cast<pid_t>(status["pid"].get<long long>()); }

// The reply's config object (a copy: a const json's [] must not miss).
nlohmann::json config_in(const nlohmann::json& status) { return status.value("config", nlohmann::json::object()); }

bool runs_config(const nlohmann::json& status, const std::string& config) {
  const nlohmann::json c = config_in(status);
  if (!c.is_object()) return false;
  const std::string theirs = path_of(pid_in(status), str(c, "path")), mine = path_of(0, config);
  if (theirs == mine) return true;
  // Relative, from a working directory we may not read: the same name at least.
  std::string rel = theirs;
  while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
  return !rel.empty() && rel[0] != '/' && mine.size() > rel.size() &&
         mine.compare(mine.size() - rel.size() - 1, rel.size() + 1, "/" + rel) == 0;
}

// The control socket on which bastiond `pid` itself answers.
std::string socket_of_pid(pid_t pid, std::string& error) {
  const auto paths = listening_unix_sockets(pid, error);
  for (const auto& p : paths) {
    std::string why;
    const auto j = ask_status(p, why);
    if (!j.is_null() && pid_in(j) == pid) return p;
    error = why.empty() ? p + " answers for pid " + std::to_string(pid_in(j)) : why;
  }
  if (!paths.empty()) error = "no control socket of process " + std::to_string(pid) + " answers as it: " + error;
  return "";
}

// The socket of the bastiond running `config`, whose own control_socket is
// `socket` (empty: none set).
std::string socket_for_config(const std::string& cmd, const std::string& config, const std::string& socket) {
  std::string why = "sets no control_socket";
  if (!socket.empty()) {
    std::string err;
    const auto j = ask_status(socket, err);
    if (!j.is_null() && runs_config(j, config)) return socket;
    why = "names control socket " + socket + ", where " +
          (j.is_null() ? err : "bastiond pid " + std::to_string(pid_in(j)) + " runs another config (" +
                                   str(config_in(j), "path") + ")");
  }
  std::vector<std::pair<pid_t, std::string>> found;
  for (const pid_t pid : running_bastionds()) {
    std::string err;
    const std::string p = socket_of_pid(pid, err);
    if (p.empty()) continue;
    const auto j = ask_status(p, err);
    if (!j.is_null() && runs_config(j, config)) found.emplace_back(pid, p);
  }
  if (found.size() == 1) {
    std::fprintf(stderr,
                 "bastionctl %s: note: %s %s; the bastiond running it (pid %d) listens on %s: asking it there "
                 "(control_socket and data_dir changes take effect at its restart)\n",
                 cmd.c_str(), e(config).c_str(), e(why).c_str(), static_cast<int>(found[0].first),
                 e(found[0].second).c_str());
    return found[0].second;
  }
  std::fprintf(stderr, "bastionctl %s: %s %s, and %s\n", cmd.c_str(), e(config).c_str(), e(why).c_str(),
               found.empty() ? "no running bastiond found runs that config (finding it by pid needs root); "
                               "if control_socket or data_dir changed (restart-only keys), give --pid PID or "
                               "--socket PATH, or restart bastiond"
                             : "several running bastiond processes run that config: give --pid PID");
  return "";
}

int run(const std::string& cmd, const std::vector<std::string>& args) {
  std::string config, socket, pid_text;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") return usage(cmd, true);
    if (a == "--json") json = true;
    else if (a == "--config" && i + 1 < args.size()) config = args[++i];
    else if (a == "--socket" && i + 1 < args.size()) socket = args[++i];
    else if (a == "--pid" && i + 1 < args.size()) pid_text = args[++i];
    else {
      std::fprintf(stderr, "bastionctl %s: %s: %s\n", cmd.c_str(),
                   a == "--config" || a == "--socket" || a == "--pid" ? "missing value for" : "unknown option",
                   e(a).c_str());
      return usage(cmd, false);
    }
  }
  if (!config.empty() + !socket.empty() + !pid_text.empty() > 1) {
    std::fprintf(stderr, "bastionctl %s: give one of --config, --socket and --pid\n", cmd.c_str());
    return 2;
  }
  if (!pid_text.empty()) {
    const auto pid = parse_unsigned(pid_text, 1, 4194304);
    if (!pid) {
      std::fprintf(stderr, "bastionctl %s: --pid: not a process id: %s\n", cmd.c_str(), e(pid_text).c_str());
      return 2;
    }
    std::string err;
    socket = socket_of_pid(static_cast<pid_t>(*pid), err);
    if (socket.empty()) {
      std::fprintf(stderr, "bastionctl %s: --pid %s: %s\n", cmd.c_str(), e(pid_text).c_str(), e(err).c_str());
      return 1;
    }
  } else if (socket.empty()) {
    if (config.empty()) config = kDefaultConfig;
    std::string err;
    const TargetKinds kinds = builtin_target_kinds();
    const auto cfg = load_config(config, err, kinds, false);
    if (!cfg && cmd == "reload") {
      // bastiond reads it more strictly still (it opens every file): it would refuse it too.
      std::printf("reload: refused: %s\nbastionctl did not ask bastiond: the config does not load, so bastiond keeps "
                  "its running config\n", display_escape_multiline(err).c_str());
      return 1;
    }
    if (!cfg) {
      std::fprintf(stderr, "bastionctl %s: %s\n", cmd.c_str(), display_escape_multiline(err).c_str());
      return 1;
    }
    socket = socket_for_config(cmd, config, cfg->operators.control_socket);
    if (socket.empty()) return 1;
  }
  std::string err;
  const std::string reply = control_request(socket, cmd, cmd == "reload" ? kReloadTimeoutMs : kStatusTimeoutMs, err);
  if (reply.empty()) {
    std::fprintf(stderr, "bastionctl %s: %s\n", cmd.c_str(), e(err).c_str());
    return 1;
  }
  const auto j = nlohmann::json::parse(reply, nullptr, false);
  if (!j.is_object()) {
    std::fprintf(stderr, "bastionctl %s: bastiond's reply is not JSON\n", cmd.c_str());
    return 1;
  }
  if (j.contains("error") && !j.contains("result")) {
    std::fprintf(stderr, "bastionctl %s: bastiond says: %s\n", cmd.c_str(), e(str(j, "error")).c_str());
    return 1;
  }
  if (json) std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  if (cmd == "status") {
    if (!json) print_status(j);
    return 0;
  }
  const bool ok = str(j, "result") == "ok";
  const auto gen = static_cast<unsigned long long>(j.value("generation", 0ULL));
  if (!json) {
    if (ok) std::printf("reload: ok, config generation %llu\n", gen);
    else
      std::printf("reload: refused: %s\nbastiond keeps running config generation %llu\n",
                  display_escape_multiline(str(j, "error")).c_str(), gen);
  }
  return ok ? 0 : 1;
}

}  // namespace

int ctl_status(const std::vector<std::string>& args) { return run("status", args); }
int ctl_reload(const std::vector<std::string>& args) { return run("reload", args); }

}  // namespace bastion
