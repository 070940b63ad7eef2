#include "config/config_check.h"

#include <sys/stat.h>

#include "common/ssh_handles.h"
#include "targets/ssh/ssh_target.h"

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

std::vector<std::string> check_config_files(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& k : cfg.host_keys) check_private_key(k, "host key", out);
  // Held credentials were read (and their modes checked) by load_config:
  // check what was read, as the target connections will use it.
  for (const auto& [name, t] : cfg.targets) {
    if (t.type != "ssh") continue;
    SshKey key;
    std::string err;
    if (!import_identity(t.ssh, key, err)) out.push_back("targets." + name + ": " + err);
  }
  return out;
}

}  // namespace bastion
