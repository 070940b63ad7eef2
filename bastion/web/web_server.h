// bastiond's auditor web listener (bastion-web(7)): HTTPS with cpp-httplib
// on its own threads, started after privileges are dropped and stopped
// with the server. Read-only: every route but /login needs the session
// cookie a one-time login URL sets.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "common/connection_guard.h"
#include "common/listener_thread.h"
#include "web/web_auth.h"

namespace httplib {
class SSLServer;
}

namespace bastion {

struct TaskQueueSlot;

class WebServer {
 public:
  // Bounds: kThreads workers, at most kMaxConnections connections accepted at
  // once and kMaxPerAddress from one client address (fewer than the workers,
  // so one address cannot hold them all), a total kHeaderDeadline for the
  // TLS handshake and each request's headers, requests without a body
  // (kMaxPayload), per-read/write timeouts.
  static constexpr std::size_t kThreads = 8;
  static constexpr std::size_t kMaxConnections = 32;
  static constexpr std::size_t kMaxPerAddress = 4;
  static constexpr int kHeaderDeadline = 10;  // seconds
  static constexpr std::size_t kMaxPayload = 4096;
  static constexpr int kReadTimeout = 10;   // seconds per read
  static constexpr int kWriteTimeout = 10;  // seconds per write
  static constexpr int kKeepAlive = 5;      // seconds an idle connection stays
  static constexpr int kKeepAliveRequests = 100;

  // The running config, as a reload leaves it: every request is checked
  // against it (auditor_principals, CAs, revocations).
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;

  // Loads the TLS identity, binds web_listen and starts serving. Null with
  // `error` when any of it fails.
  static std::unique_ptr<WebServer> start(const Config& cfg, ConfigSource current, WebAuth& auth,
                                          std::string& error);
  ~WebServer();  // stops and joins
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  void stop();
  const std::string& cert_path() const { return cert_path_; }

 private:
  WebServer() = default;

  // Declared first: destroyed last, after the server and its workers.
  std::unique_ptr<ConnectionGuard> guard_;
  ConfigSource current_;
  std::unique_ptr<httplib::SSLServer> http_;
  std::unique_ptr<TaskQueueSlot> queue_;
  ListenerThread listener_;  // stopped before the server above goes
  std::string cert_path_;
};

// Where the page's files are when web_assets_dir is not set: share/bastion/web
// beside the directory of the running binary (bin/ or sbin/).
std::string default_web_assets_dir();

}  // namespace bastion
