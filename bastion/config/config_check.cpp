#include "config/config_check.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>

#include "common/ssh_handles.h"
#include "targets/kubectl/child_process.h"
#include "targets/kubectl/kubectl_flags.h"
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

// "v1.32.4" from `kubectl version --client` (run directly, bounded), or "".
std::string kubectl_client_version(const std::string& kubectl, std::string& error) {
  ChildProcess::Options o;
  o.argv = {kubectl, "version", "--client"};
  o.env = {"PATH=/usr/bin:/bin", "HOME=/nonexistent", "KUBECONFIG=/dev/null"};
  auto c = ChildProcess::spawn(o, error);
  if (!c) return "";
  c->close_stdin();
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (c->output_open() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (int fd : c->output_fds()) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 200) < 0) break;
    for (const auto& p : fds)
      if (p.revents) c->read(p.fd, out, 1 << 16);
  }
  std::smatch m;
  static const std::regex re("Client Version: (v[0-9]+\\.[0-9]+\\.[0-9]+)");
  if (std::regex_search(out, m, re)) return m[1];
  error = "no \"Client Version\" in its output";
  return "";
}

}  // namespace

std::vector<std::string> check_config_warnings(const Config& cfg) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& [name, t] : cfg.targets) {
    if (t.type != "kubectl" || !seen.insert(t.kubectl.kubectl).second) continue;
    std::string err;
    const std::string v = kubectl_client_version(t.kubectl.kubectl, err);
    if (v.empty())
      out.push_back("targets." + name + ": cannot read " + t.kubectl.kubectl + "'s version: " + err);
    else if (v != kKubectlFlagTableVersion)
      out.push_back("targets." + name + ": " + t.kubectl.kubectl + " is kubectl " + v +
                    " but the bastion's flag table was generated from kubectl " + kKubectlFlagTableVersion +
                    " (flags new in " + v + " are refused; regenerate with scripts/gen_kubectl_flags.py)");
  }
  return out;
}

std::vector<std::string> check_config_files(const Config& cfg) {
  std::vector<std::string> out;
  for (const auto& k : cfg.host_keys) check_private_key(k, "host key", out);
  // Held credentials were read (and their modes checked) by load_config:
  // check what was read, as the target connections will use it.
  for (const auto& [name, t] : cfg.targets) {
    if (t.type == "kubectl" && t.kubectl.sandbox && access(t.kubectl.bwrap.c_str(), X_OK) != 0)
      out.push_back("targets." + name + ": " + t.kubectl.bwrap + " is not an executable: kubectl runs only inside "
                    "bubblewrap (install Debian's bubblewrap, set bwrap = PATH, or kubectl_sandbox = false)");
    if (t.type != "ssh") continue;
    for (const auto& [cname, cred] : t.credentials) {
      SshKey key;
      std::string err;
      if (!import_identity(cred, key, err))
        out.push_back("targets." + name + (cname == "default" ? "" : ".credentials." + cname) + ": " + err);
    }
  }
  return out;
}

}  // namespace bastion
