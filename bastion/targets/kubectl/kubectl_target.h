// Kubernetes targets: the bastion runs the real kubectl (argv, never a
// shell) with a kubeconfig only it can read and a clean environment:
// KUBECONFIG, HOME in a per-session temporary folder (removed at the end),
// PATH; nothing else of bastiond's. One KubectlExecutor per channel.
// The kubeconfig kubectl gets points at the session's KubeApiProxy with a
// session token; the held credential stays in bastiond.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <string>

#include "config/config.h"
#include "targets/kubectl/kubectl_settings.h"
#include "targets/kubectl/kube_api_proxy.h"
#include "targets/target.h"

namespace bastion {

// `ssh -s TARGET@bastion kubeconfig` prints the kubeconfig for the user's
// own kubectl, which reaches the proxy through `ssh -L 6443:TARGET:443`.
inline constexpr const char* kKubeconfigSubsystem = "kubeconfig";
inline constexpr int kOwnKubectlPort = 6443;
inline constexpr int kTunnelPort = 443;

class KubectlTargetConnection : public TargetConnection {
 public:
  // The API proxy's upstream credential is `cred`, the one the session's policy chose.
  static std::unique_ptr<KubectlTargetConnection> connect(const TargetConfig& t, const KubectlCredential& cred,
                                                          std::string& error);
  ~KubectlTargetConnection() override;

  std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) override;
  void attach(ssh_event ev) override;
  void detach() override;
  bool connected() const override { return true; }

 private:
  KubectlTargetConnection(const TargetConfig& t, std::string home) : target_(t), home_(std::move(home)) {
    target_.credentials.clear();  // the proxy holds the chosen one; executors need none
  }
  void watch(int fd, short events);
  std::unique_ptr<Executor> start_tunnel(const ExecRequest& req, std::string& error);

  TargetConfig target_;
  std::string home_;  // the per-session HOME
  std::optional<uint32_t> home_uid_;  // its owner, once given to the session's sandbox uid
  KubeUpstream upstream_;
  std::unique_ptr<KubeApiProxy> proxy_;
  std::unique_ptr<KubeApiProxy> tunnel_proxy_;  // users' own kubectl, started on the first tunnel
  ssh_event event_ = nullptr;
  std::map<int, short> watched_;  // fd -> the poll events watched
};

}  // namespace bastion
