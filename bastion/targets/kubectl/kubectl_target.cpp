#include "targets/kubectl/kubectl_target.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "targets/kubectl/kube_config.h"
#include "targets/kubectl/kubectl_executor.h"

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
                                                                          const HeldCredential& cred,
                                                                          std::string& error) {
  std::error_code ec;  // the throwing overload would end the process from a session thread
  const auto tmp = std::filesystem::temp_directory_path(ec);
  if (ec) return error = "cannot find a temporary folder for kubectl: " + ec.message(), nullptr;
  std::string tmpl = (tmp / "bastion-kubectl-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return error = "cannot create a home folder for kubectl", nullptr;
  std::unique_ptr<KubectlTargetConnection> conn(new KubectlTargetConnection(t, tmpl));  // removes tmpl when dropped
  KubeUpstream up;
  std::string why;
  if (!parse_kubeconfig(cred.kubeconfig_text.bytes, cred.context, up, why)) {
    log_error("kubectl target: held kubeconfig unusable", {{"target", t.name}, {"error", why}});
    return error = "the target's kubeconfig cannot be used: " + why, nullptr;
  }
  conn->proxy_ = KubeApiProxy::start(up, std::filesystem::path(tmpl).filename().string(), why);
  if (!conn->proxy_) {
    log_error("kubectl target: API proxy failed", {{"target", t.name}, {"error", why}});
    return error = "cannot start the Kubernetes API proxy", nullptr;
  }
  // kubectl gets the proxy and the session token, never the held credential.
  // The context keeps the configured name (the executor may pass --context),
  // whichever credential's context the proxy's upstream came from.
  const std::string ctx = t.kubectl.context.empty() ? up.context : t.kubectl.context;
  if (!write_private_file(session_kubeconfig(tmpl), conn->proxy_->kubeconfig(ctx, up.namespace_name)))
    return error = "cannot prepare kubectl's configuration", nullptr;
  return conn;
}

KubectlTargetConnection::~KubectlTargetConnection() {
  detach();
  proxy_.reset();  // the session token dies here: connections cut, the port closed
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);  // kubectl's caches of this session
}

std::unique_ptr<Executor> KubectlTargetConnection::start(const ExecRequest& req, std::string& error) {
  if (req.kind == "subsystem") return error = "file transfer is not available on kubectl targets", nullptr;
  if (!req.gate) return error = "internal error: no command gate", nullptr;
  return std::make_unique<KubectlExecutor>(target_, req, *req.gate, home_, [this](int fd, bool on) { watch(fd, on); },
                                           proxy_ ? &proxy_->queue() : nullptr);
}

void KubectlTargetConnection::watch(int fd, bool on) {
  if (!event_ || fd < 0) return;
  if (on && !watched_.count(fd)) {
    ssh_event_add_fd(event_, fd, POLLIN, &on_readable, this);
    watched_.insert(fd);
  } else if (!on && watched_.count(fd)) {
    ssh_event_remove_fd(event_, fd);
    watched_.erase(fd);
  }
}

void KubectlTargetConnection::attach(ssh_event ev) {
  detach();
  event_ = ev;
  if (proxy_ && proxy_->queue().wake_fd() >= 0)
    ssh_event_add_fd(event_, proxy_->queue().wake_fd(), POLLIN, &on_kube_wake, &proxy_->queue());
}

void KubectlTargetConnection::detach() {
  if (event_) {
    for (int fd : watched_) ssh_event_remove_fd(event_, fd);
    if (proxy_ && proxy_->queue().wake_fd() >= 0) ssh_event_remove_fd(event_, proxy_->queue().wake_fd());
  }
  watched_.clear();
  event_ = nullptr;
}

}  // namespace bastion
