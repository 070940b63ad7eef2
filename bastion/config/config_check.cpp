#include "config/config_check.h"

#include <sys/stat.h>

#include <set>

#include "common/ssh_handles.h"

namespace bastion {
namespace {

void check_private_key(const std::string& path, const std::string& what, std::vector<std::string>& out) {
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
  return out;
}

std::vector<std::string> check_config_files(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& k : cfg.host_keys) check_private_key(k, "host key", out);
  // Held credentials were read (and their modes checked) by load_config:
  // each kind checks what was read, as its target connections will use it.
  for (const auto& [name, t] : cfg.targets)
    if (t.schema) t.schema->check_files(t, out);
  return out;
}

}  // namespace bastion
