#include "targets/kubectl/kubectl_target.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "targets/kubectl/kube_config.h"
#include "targets/kubectl/kube_tunnel_executor.h"
#include "targets/kubectl/kubectl_executor.h"
#include "targets/text_executor.h"

namespace bastion {
namespace {
int on_readable(socket_t, int, void*) { return 0; }  // wakes the session loop

// The API proxy asks for a decision: the executors serve the queue in
// pump_output; this only clears the wake-up so poll does not spin.
int on_kube_wake(socket_t, int, void* q) {
  static_cast<KubeDecisionQueue*>(q)->clear_wake();
  return 0;
}

// Writes the held kubeconfig for kubectl to read: a new file, owner-only.
bool write_private_file(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return close(fd) == 0 && done == text.size();
}
}  // namespace

std::unique_ptr<KubectlTargetConnection> KubectlTargetConnection::connect(const TargetConfig& t,
                                                                          const KubectlCredential& cred,
                                                                          std::string& error) {
  std::error_code ec;  // the throwing overload would end the process from a session thread
  const auto tmp = std::filesystem::temp_directory_path(ec);
  if (ec) return error = "cannot find a temporary folder for kubectl: " + ec.message(), nullptr;
  std::string tmpl = (tmp / "bastion-kubectl-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return error = "cannot create a home folder for kubectl", nullptr;
  std::unique_ptr<KubectlTargetConnection> conn(new KubectlTargetConnection(t, tmpl));  // removes tmpl when dropped
  KubeUpstream& up = conn->upstream_;
  std::string why;
  if (!parse_kubeconfig(cred.kubeconfig_text.bytes, cred.context, up, why)) {
    log_error("kubectl target: held kubeconfig unusable", {{"target", t.name}, {"error", why}});
    return error = "the target's kubeconfig cannot be used: " + why, nullptr;
  }
  KubeApiProxy::Options popts;
  popts.decision_timeout = std::chrono::seconds(kubectl_settings(t).decision_timeout);
  conn->proxy_ = KubeApiProxy::start(up, std::filesystem::path(tmpl).filename().string(), why, popts);
  if (!conn->proxy_) {
    log_error("kubectl target: API proxy failed", {{"target", t.name}, {"error", why}});
    return error = "cannot start the Kubernetes API proxy", nullptr;
  }
  // kubectl gets the proxy and the session token, never the held credential.
  // The context keeps the configured name (the executor may pass --context),
  // whichever credential's context the proxy's upstream came from.
  const std::string ctx = kubectl_settings(t).context.empty() ? up.context : kubectl_settings(t).context;
  if (!write_private_file(session_kubeconfig(tmpl), conn->proxy_->kubeconfig(ctx, up.namespace_name)))
    return error = "cannot prepare kubectl's configuration", nullptr;

  return conn;
}

KubectlTargetConnection::~KubectlTargetConnection() {
  detach();
  proxy_.reset();  // the session token dies here: connections cut, the port closed
  tunnel_proxy_.reset();
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);  // kubectl's caches of this session
}

std::unique_ptr<Executor> KubectlTargetConnection::start(const ExecRequest& req, std::string& error) {
  if (!req.gate) return error = "internal error: no command gate", nullptr;
  if (req.kind == ChannelKind::subsystem && req.text == kKubeconfigSubsystem) {
    if (!req.access || req.access->token.empty()) return error = "this bastion cannot serve your own kubectl", nullptr;
    return std::make_unique<TextExecutor>(proxy_kubeconfig("https://127.0.0.1:" + std::to_string(kOwnKubectlPort),
                                                           req.access->server_cert_pem, req.access->token, target_.name,
                                                           kubectl_settings(target_).namespace_name));
  }
  if (req.kind == ChannelKind::subsystem) return error = "file transfer is not available on kubectl targets", nullptr;
  if (req.kind == ChannelKind::tunnel) return start_tunnel(req, error);
  // bastiond as root runs kubectl as the session's own uid: its HOME and
  // kubeconfig become that uid's (0700 and 0600: no one else's).
  if (req.sandbox_uid && home_uid_ != req.sandbox_uid) {
    if (chown(home_.c_str(), *req.sandbox_uid, *req.sandbox_uid) != 0 ||
        chown(session_kubeconfig(home_).c_str(), *req.sandbox_uid, *req.sandbox_uid) != 0)
      return error = "cannot prepare kubectl's home folder", nullptr;
    home_uid_ = req.sandbox_uid;
  }
  return std::make_unique<KubectlExecutor>(target_, req, *req.gate, home_, [this](int fd, short events) { watch(fd, events); },
                                           proxy_ ? &proxy_->queue() : nullptr);
}

// The user's own kubectl: one tunnel channel per TCP connection it makes,
// each handed to the session's second proxy (the lasting identity, the
// per-certificate token, no listening port).
std::unique_ptr<Executor> KubectlTargetConnection::start_tunnel(const ExecRequest& req, std::string& error) {
  if (!req.access || req.access->token.empty() || req.access->server_key_pem.empty())
    return error = "this bastion cannot serve your own kubectl", nullptr;
  if (!tunnel_proxy_) {
    KubeProxyIdentity id;
    id.cert_pem = req.access->server_cert_pem;
    id.key_pem = req.access->server_key_pem;
    KubeApiProxy::Options opts;
    opts.identity = &id;
    opts.token = req.access->token;
    opts.listen = false;
    opts.own_kubectl = true;
    opts.decision_timeout = std::chrono::seconds(kubectl_settings(target_).decision_timeout);
    std::string why;
    tunnel_proxy_ = KubeApiProxy::start(upstream_, std::filesystem::path(home_).filename().string() + "-own", why, opts);
    if (!tunnel_proxy_) {
      log_error("kubectl target: API proxy failed", {{"target", target_.name}, {"error", why}});
      return error = "cannot start the Kubernetes API proxy", nullptr;
    }
    if (event_ && tunnel_proxy_->queue().wake_fd() >= 0)
      ssh_event_add_fd(event_, tunnel_proxy_->queue().wake_fd(), POLLIN, &on_kube_wake, &tunnel_proxy_->queue());
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return error = "cannot open the tunnel to the API proxy", nullptr;
  if (!tunnel_proxy_->adopt(sv[1])) {
    ::close(sv[0]);
    return error = "too many connections to the API proxy", nullptr;
  }
  return std::make_unique<KubeTunnelExecutor>(sv[0], tunnel_proxy_->queue(), *req.gate,
                                              [this](int fd, short events) { watch(fd, events); });
}

void KubectlTargetConnection::watch(int fd, short events) {
  if (fd < 0) return;
  if (const auto it = watched_.find(fd); it != watched_.end()) {
    if (event_) ssh_event_remove_fd(event_, fd);
    watched_.erase(it);
  }
  if (!events) return;
  watched_[fd] = events;
  if (event_) ssh_event_add_fd(event_, fd, events, &on_readable, this);
}

void KubectlTargetConnection::attach(ssh_event ev) {
  detach();
  event_ = ev;
  for (const auto& [fd, events] : watched_) ssh_event_add_fd(event_, fd, events, &on_readable, this);
  for (KubeApiProxy* p : {proxy_.get(), tunnel_proxy_.get()})
    if (p && p->queue().wake_fd() >= 0) ssh_event_add_fd(event_, p->queue().wake_fd(), POLLIN, &on_kube_wake, &p->queue());
}

void KubectlTargetConnection::detach() {
  // What is watched stays known: a later attach() watches it again.
  if (event_) {
    for (const auto& [fd, events] : watched_) ssh_event_remove_fd(event_, fd);
    for (KubeApiProxy* p : {proxy_.get(), tunnel_proxy_.get()})
      if (p && p->queue().wake_fd() >= 0) ssh_event_remove_fd(event_, p->queue().wake_fd());
  }
  event_ = nullptr;
}

}  // namespace bastion
