#include "config/config_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "auth/address_match.h"
#include "common/file_util.h"
#include "common/ssh_handles.h"

namespace bastion {
namespace {

// "" when `path` opens as a regular file, else the reason.
std::string unreadable(const std::string& path) {
  struct stat st{};
  std::string why;
  const int fd = open_regular_file(path, st, why);
  if (fd >= 0) ::close(fd);
  return fd >= 0 ? std::string() : why;
}

void check_private_key(const std::string& path, const std::string& what, std::vector<std::string>& out) {
  if (const auto why = unreadable(path); !why.empty()) {
    out.push_back(path + ": " + what + ": " + why);
    return;
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) {
    out.push_back(path + ": " + what + ": not a private key libssh can load (or it has a passphrase)");
    return;
  }
  SshKey key(raw);
  struct stat st{};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    out.push_back(path + ": " + what + ": readable by group or others (chmod 600)");
}

}  // namespace

std::vector<std::string> check_config_warnings(const Config& cfg) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& [name, t] : cfg.targets)
    if (t.schema) t.schema->check_warnings(t, seen, out);
  if (cfg.web.enabled() && !is_loopback_address(cfg.web.listen_host))
    out.push_back("web_listen: " + cfg.web.listen_host + " is not a loopback address: the auditors' page is reachable from the network");
  if (cfg.web.enabled() && !cfg.web.assets_dir.empty())
    if (const auto why = unreadable(cfg.web.assets_dir + "/index.html"); !why.empty())
      out.push_back("web_assets_dir: " + cfg.web.assets_dir + "/index.html: " + why + ": the page will answer 404");
  return out;
}

std::vector<std::string> check_config_files(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& k : cfg.host_keys) check_private_key(k, "host key", out);
  // Held credentials were read (and their modes checked) by load_config:
  // each kind checks what was read, as its target connections will use it.
  for (const auto& [name, t] : cfg.targets)
    if (t.schema) t.schema->check_files(t, out);
  struct stat st{};
  if (!cfg.web.key_file.empty()) {
    if (const auto why = unreadable(cfg.web.key_file); !why.empty())
      out.push_back(cfg.web.key_file + ": web_key: " + why);
    else if (stat(cfg.web.key_file.c_str(), &st) == 0 && (st.st_mode & 077))
      out.push_back(cfg.web.key_file + ": web_key: readable by group or others (chmod 600)");
  }
  if (!cfg.web.cert_file.empty())
    if (const auto why = unreadable(cfg.web.cert_file); !why.empty())
      out.push_back(cfg.web.cert_file + ": web_cert: " + why);
  return out;
}

}  // namespace bastion
