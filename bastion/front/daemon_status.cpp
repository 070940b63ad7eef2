#include "front/daemon_status.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "common/time_util.h"

namespace bastion {
namespace {

std::string hex(const unsigned char* p, unsigned n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) out += {d[p[i] >> 4], d[p[i] & 15]};
  return out;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void add(std::string_view s) { EVP_DigestUpdate(ctx_, s.data(), s.size()); }
  // A file's path, then its bytes (or why it could not be read), each
  // length-prefixed so no two sets of files hash alike.
  void add_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream body;
    if (in) body << in.rdbuf();
    const std::string b = in ? body.str() : std::string("unreadable: ") + std::strerror(errno);
    add(std::to_string(path.size()) + ":" + path + std::to_string(b.size()) + ":");
    add(b);
  }
  std::string hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    return hex(md, n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string when(int64_t t) { return t > 0 ? iso8601(t) : ""; }

}  // namespace

ConfigVersion config_version(const Config& cfg, uint64_t generation) {
  ConfigVersion v;
  v.generation = generation;
  {
    Sha256 h;
    std::ifstream in(cfg.path, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    h.add(body.str());
    v.config_sha256 = h.hex_digest();
  }
  const auto files = cfg.policy_files();
  if (!files.empty()) {
    Sha256 h;
    for (const auto& f : files) h.add_file(f);
    v.policy_sha256 = h.hex_digest();
  }
  for (const auto& [name, version] : cfg.store_policies)
    v.stored_policies += (v.stored_policies.empty() ? "" : " ") + stored_policy_label(name, version);
  return v;
}

std::string status_json(const DaemonStatus& s, const std::vector<LiveSession>& sessions) {
  using nlohmann::json;
  json j;
  j["pid"] = s.pid;
  j["version"] = s.version;
  j["started_at"] = when(s.started_at);
  j["uptime_seconds"] = s.now - s.started_at;
  j["config"] = {{"path", s.config_path},
                 {"sha256", s.config.config_sha256},
                 {"policy_sha256", s.config.policy_sha256},
                 {"stored_policies", s.config.stored_policies},
                 {"generation", s.config.generation}};
  if (s.last_reload.at > 0)
    j["last_reload"] = {{"at", when(s.last_reload.at)},
                        {"result", s.last_reload.ok ? "ok" : "error"},
                        {"error", s.last_reload.error},
                        {"trigger", s.last_reload.trigger}};
  else
    j["last_reload"] = nullptr;
  std::map<std::string, int> by_kind;
  json list = json::array();
  for (const auto& x : sessions) {
    ++by_kind[x.kind];
    list.push_back({{"id", x.id},
                    {"identity", x.identity},
                    {"target", x.target},
                    {"kind", x.kind},
                    {"source_address", x.source_address},
                    {"started_at", when(x.started_at)}});
  }
  j["sessions_by_kind"] = by_kind;
  j["sessions"] = list;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string reload_json(const ReloadResult& r, const ConfigVersion& now_running) {
  nlohmann::json j{{"result", r.ok ? "ok" : "error"},
                   {"error", r.error},
                   {"at", when(r.at)},
                   {"generation", now_running.generation},
                   {"config_sha256", now_running.config_sha256},
                   {"policy_sha256", now_running.policy_sha256}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
