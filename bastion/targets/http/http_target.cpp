#include "targets/http/http_target.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>

#include "targets/http/http_channel_link.h"
#include "targets/http/http_connection.h"
#include "targets/http/http_tunnel_executor.h"

namespace bastion {
namespace {

int on_readable(socket_t, int, void*) { return 0; }  // wakes the session loop (readable or writable)

int on_wake(socket_t fd, int, void*) {  // clears the eventfd so poll does not spin; the executor serves the link
  uint64_t v;
  if (::read(fd, &v, sizeof v) < 0) {
  }
  return 0;
}

}  // namespace

std::optional<std::string> http_exec_request(const std::string& command, const std::string& host, std::string& error) {
  const auto sp = command.find(' ');
  const std::string method = command.substr(0, sp);
  const std::string target = sp == std::string::npos ? "" : command.substr(sp + 1);
  static const char* kMethods[] = {"GET", "HEAD", "DELETE", "OPTIONS"};
  bool known = false;
  for (const char* m : kMethods) known = known || method == m;
  if (!known || target.empty() || target[0] != '/') {
    error = "usage: METHOD /path (GET, HEAD, DELETE or OPTIONS; e.g. GET /v2/_catalog)";
    return std::nullopt;
  }
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) {
      error = "the path must be one word of printable ASCII (percent-encode the rest)";
      return std::nullopt;
    }
  return method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: bastion-exec\r\nConnection: close\r\n\r\n";
}

std::unique_ptr<HttpTargetConnection> HttpTargetConnection::connect(const TargetConfig& t, const HttpCredential& cred,
                                                                    std::string& error) {
  std::unique_ptr<HttpTargetConnection> c(new HttpTargetConnection());
  c->name_ = t.name;
  c->settings_ = std::dynamic_pointer_cast<const HttpSettings>(t.settings);
  if (!c->settings_) return error = "internal error: not an http target", nullptr;
  c->cred_ = std::make_shared<const HttpCredential>(cred);
  return c;
}

HttpTargetConnection::~HttpTargetConnection() { detach(); }

std::unique_ptr<Executor> HttpTargetConnection::start(const ExecRequest& req, std::string& error) {
  if (!req.gate) return error = "internal error: no command gate", nullptr;
  std::optional<std::string> exec_request;
  if (req.kind == ChannelKind::exec) {
    exec_request = http_exec_request(req.text, name_, error);
    if (!exec_request) return nullptr;
  } else if (req.kind != ChannelKind::tunnel) {
    return error = "an http target serves tunnels (ssh -N -L 5000:" + name_ + ":443 ...) and one-off calls (ssh " +
                   name_ + "@bastion GET /path)", nullptr;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return error = "cannot open the channel", nullptr;
  auto link = std::make_shared<HttpChannelLink>();
  if (link->wake_fd() < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return error = "cannot open the channel", nullptr;
  }
  auto conn = std::make_unique<HttpConnection>(sv[1], link, settings_, cred_, tokens_,
                                               HttpConnectionOptions{.target_name = name_, .body_only = exec_request.has_value()});
  return std::make_unique<HttpTunnelExecutor>(sv[0], std::move(conn), link, *req.gate,
                                              [this](int fd, short events, bool wake) { watch(fd, events, wake); },
                                              std::move(exec_request));
}

void HttpTargetConnection::watch(int fd, short events, bool wake) {
  if (fd < 0) return;
  const auto it = watched_.find(fd);
  if (it != watched_.end()) {
    if (event_) ssh_event_remove_fd(event_, fd);
    watched_.erase(it);
  }
  if (!events) return;
  watched_[fd] = Watched{events, wake};
  if (event_) ssh_event_add_fd(event_, fd, events, wake ? &on_wake : &on_readable, this);
}

void HttpTargetConnection::attach(ssh_event ev) {
  detach();
  event_ = ev;
  for (const auto& [fd, w] : watched_) ssh_event_add_fd(event_, fd, w.events, w.wake ? &on_wake : &on_readable, this);
}

void HttpTargetConnection::detach() {
  if (event_)
    for (const auto& [fd, w] : watched_) ssh_event_remove_fd(event_, fd);
  event_ = nullptr;
}

}  // namespace bastion
