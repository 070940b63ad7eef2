#include "config/config_check.h"

#include <sys/stat.h>

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

// A secret file must not be readable by anyone but bastiond's user.
void check_secret_perms(const std::string& path, const std::string& what, std::vector<std::string>& out) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) out.push_back(path + ": " + what + ": cannot read");
  else if (st.st_mode & 077) out.push_back(path + ": " + what + ": readable by group or others (chmod 600)");
}

}  // namespace

std::vector<std::string> check_config_files(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& k : cfg.host_keys) check_private_key(k, "host key", out);
  for (const auto& [name, t] : cfg.targets) {
    if (t.type == "kubectl") {
      check_secret_perms(t.kubectl.kubeconfig, "targets." + name + ".kubeconfig", out);
      continue;
    }
    if (t.type == "postgres") {
      if (!t.postgres.password_file.empty())
        check_secret_perms(t.postgres.password_file, "targets." + name + ".password_file", out);
      if (!t.postgres.passfile.empty()) check_secret_perms(t.postgres.passfile, "targets." + name + ".passfile", out);
      continue;
    }
    check_private_key(t.ssh.identity, "targets." + name + ".identity", out);
    if (!t.ssh.certificate.empty()) {
      ssh_key raw = nullptr;
      if (ssh_pki_import_cert_file(t.ssh.certificate.c_str(), &raw) != SSH_OK)
        out.push_back(t.ssh.certificate + ": targets." + name + ".certificate: not an OpenSSH certificate");
      SshKey cert(raw);
    }
  }
  return out;
}

}  // namespace bastion
