#include "targets/kubectl/kubectl_kind.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <regex>

#include "common/secret_file.h"
#include "targets/kubectl/child_process.h"
#include "targets/kubectl/kube_proxy_identity.h"
#include "targets/kubectl/kube_request.h"
#include "targets/kubectl/kubeconfig_cmd.h"
#include "targets/kubectl/kubectl_flags.h"
#include "targets/kubectl/kubectl_line.h"
#include "targets/kubectl/kubectl_settings.h"
#include "targets/kubectl/kubectl_target.h"

namespace bastion {
namespace {

// A kubeconfig user entry with `exec:` (credential plugin) or
// `auth-provider:` makes kubectl run a program: refused at load, whatever
// the sandbox. A line scan, so YAML and JSON forms are both caught; a false
// positive fails closed with this message.
std::string kubeconfig_runs_programs(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    for (const char* key : {"exec", "auth-provider"}) {
      const std::string k = key;
      auto b = line.find_first_not_of(" \t-");
      if (b != std::string::npos && line.compare(b, k.size() + 1, k + ":") == 0)
        return "its user entry has \"" + k + ":\"";
      if (line.find("\"" + k + "\"") != std::string::npos && line.find(':', line.find("\"" + k + "\"")) != std::string::npos)
        return "its user entry has \"" + k + "\"";
    }
  }
  return "";
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

std::set<std::string> KubectlKind::keys() const {
  return {"kubeconfig", "context", "namespace", "kubectl", "kubectl_sandbox", "bwrap", "decision_timeout"};
}

std::shared_ptr<const TargetSettings> KubectlKind::read_settings(const TableReader& r) const {
  auto k = std::make_shared<KubectlSettings>();
  k->context = r.str_or("context", "");
  if (auto ns = r.str("namespace")) k->namespace_name = *ns;
  if (auto kc = r.str("kubectl")) k->kubectl = r.reader().resolve(*kc);
  k->sandbox = r.boolean("kubectl_sandbox").value_or(true);
  if (auto bw = r.str("bwrap")) k->bwrap = r.reader().resolve(*bw);
  k->decision_timeout = static_cast<int>(r.duration("decision_timeout", 1, 600).value_or(30));
  return k;
}

std::shared_ptr<const HeldCredential> KubectlKind::read_credential(const TableReader& r, const TargetSettings&, bool,
                                                                   bool check_files) const {
  auto c = std::make_shared<KubectlCredential>();
  c->kubeconfig = r.reader().resolve(r.need("kubeconfig"));
  c->context = r.str_or("context", "");
  if (!check_files) return c;
  r.read_secret("kubeconfig", c->kubeconfig, c->kubeconfig_text);
  // kubectl would run an exec credential plugin or auth provider on the bastion host.
  if (const std::string why = kubeconfig_runs_programs(c->kubeconfig_text.bytes); !why.empty())
    r.fail("kubeconfig", c->kubeconfig + ": " + why +
                             " (credential plugins would run on the bastion host; give the target a "
                             "bearer token or a client certificate)");
  return c;
}

void KubectlKind::check_setting_files(const TableReader& r, const TargetSettings& s) const {
  const auto& k = kind_part<KubectlSettings>(&s);
  if (access(k.kubectl.c_str(), X_OK) != 0)
    r.fail("kubectl", k.kubectl + ": " + std::strerror(errno) + " (install kubectl, "
                      "e.g. Debian's kubernetes-client, or set kubectl = PATH)");
}

void KubectlKind::check_files(const TargetConfig& t, std::vector<std::string>& problems) const {
  const auto& k = kubectl_settings(t);
  if (k.sandbox && access(k.bwrap.c_str(), X_OK) != 0)
    problems.push_back("targets." + t.name + ": " + k.bwrap + ": " + std::strerror(errno) + ": kubectl runs only inside "
                       "bubblewrap (install Debian's bubblewrap, set bwrap = PATH, or kubectl_sandbox = false)");
}

void KubectlKind::check_warnings(const TargetConfig& t, std::set<std::string>& seen,
                                 std::vector<std::string>& out) const {
  const auto& k = kubectl_settings(t);
  if (!seen.insert(k.kubectl).second) return;
  std::string err;
  const std::string v = kubectl_client_version(k.kubectl, err);
  if (v.empty())
    out.push_back("targets." + t.name + ": cannot read " + k.kubectl + "'s version: " + err);
  else if (v != kKubectlFlagTableVersion)
    out.push_back("targets." + t.name + ": " + k.kubectl + " is kubectl " + v +
                  " but the bastion's flag table was generated from kubectl " + kKubectlFlagTableVersion +
                  " (flags new in " + v + " are refused; regenerate with scripts/gen_kubectl_flags.py)");
}

std::unique_ptr<TargetConnection> KubectlKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                       std::string& error) const {
  return KubectlTargetConnection::connect(t, kind_part<KubectlCredential>(&cred), error);
}

bool KubectlKind::serves_subsystem(std::string_view name) const { return name == kKubeconfigSubsystem; }

int KubectlKind::tunnel_port() const { return kTunnelPort; }

// The token (an HMAC) only for what hands it out or checks it.
bool KubectlKind::hands_out_client_access(ChannelKind channel_kind, const std::string& text) const {
  return channel_kind == ChannelKind::tunnel || (channel_kind == ChannelKind::subsystem && text == kKubeconfigSubsystem);
}

// Users' own kubectl trusts this identity for as long as it lasts.
bool KubectlKind::load_client_access_identity(const std::string& data_dir, ClientAccessIdentity& out,
                                              std::string& error) const {
  KubeProxyIdentity id;
  std::string token_key;
  if (!load_or_create_kube_proxy_identity(data_dir + "/kube-proxy.pem", id, error) ||
      !load_or_create_secret(data_dir + "/kube-token.key", token_key, error))
    return false;
  out = ClientAccessIdentity{.cert_pem = id.cert_pem, .key_pem = id.key_pem, .token_key = std::move(token_key)};
  return true;
}

ClientAccess KubectlKind::client_access(const ClientAccessIdentity& id, const std::string& target,
                                        std::string_view cert_signed_data) const {
  ClientAccess a;
  if (id.token_key.empty()) return a;
  a.token = kube_tunnel_token(id.token_key, target, std::string(cert_signed_data));
  a.server_cert_pem = id.cert_pem;
  a.server_key_pem = id.key_pem;
  return a;
}

std::vector<TargetKind::CtlCommand> KubectlKind::ctl_commands() const {
  return {{"kubeconfig", "bastionctl kubeconfig TARGET --bastion HOST [--port N] [--local-port N] [-- SSH_OPTION...]",
           &ctl_kubeconfig}};
}

CommandOptions KubectlKind::target_command_options(const TargetConfig& t) const {
  return {{"namespace", kubectl_settings(t).namespace_name}};
}

ParsedCommand KubectlKind::parse_command(const std::string& kind, const std::string& text,
                                         const CommandOptions& options) const {
  auto opt = [&](const char* k, const char* dflt) {
    const auto it = options.find(k);
    return it == options.end() ? std::string(dflt) : it->second;
  };
  ParsedCommand p{.text = text};
  if (kind == "kubectl") {
    const KubectlLine kl = parse_kubectl_line(text, opt("namespace", "default"));
    p.facts = std::make_shared<KubectlCommandFacts>(kl.facts);
    p.refusal = kl.refusal;
    return p;
  }
  // "METHOD /path?query", as the API proxy reads a request.
  const auto sp = text.find(' ');
  const KubeRequestInfo info = kube_request_info(text.substr(0, sp), sp == std::string::npos ? "" : text.substr(sp + 1));
  KubeRequestFacts f = info.facts;
  // Set unless absent or false (a test case's `approved = 1` counts, as in Lua).
  f.approved = opt("approved", "false") != "false";
  f.own_kubectl = opt("own_kubectl", "false") != "false";
  p.text = kube_request_text(info.facts);
  p.facts = std::make_shared<KubeRequestCommandFacts>(std::move(f));
  p.refusal = info.error;
  if (info.discovery) p.undecided = "discovery (not a policy question)";
  return p;
}

}  // namespace bastion
