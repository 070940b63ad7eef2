// bastiond's auditor web listener (bastion-web(7)): HTTPS with cpp-httplib
// on its own threads, started after privileges are dropped and stopped
// with the server. Read-only: every route but /login needs the session
// cookie a one-time login URL sets.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"
#include "web/web_auth.h"

namespace httplib {
class SSLServer;
}

namespace bastion {

struct TaskQueueSlot;

class WebServer {
 public:
  // Bounds: kThreads workers, at most kMaxConnections connections accepted at
  // once, requests without a body (kMaxPayload), per-read/write timeouts.
  static constexpr std::size_t kThreads = 4;
  static constexpr std::size_t kMaxConnections = 32;
  static constexpr std::size_t kMaxPayload = 4096;
  static constexpr int kReadTimeout = 10;   // seconds per read
  static constexpr int kWriteTimeout = 10;  // seconds per write
  static constexpr int kKeepAlive = 5;      // seconds an idle connection stays
  static constexpr int kKeepAliveRequests = 100;

  // Loads the TLS identity, binds web_listen and starts serving. Null with
  // `error` when any of it fails.
  static std::unique_ptr<WebServer> start(const Config& cfg, WebAuth& auth, std::string& error);
  ~WebServer();  // stops and joins
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  void stop();
  const std::string& cert_path() const { return cert_path_; }

 private:
  WebServer() = default;

  std::unique_ptr<httplib::SSLServer> http_;
  std::unique_ptr<TaskQueueSlot> queue_;
  std::thread thread_;
  std::atomic<bool> finished_{false};  // the listening thread returned
  std::string cert_path_;
};

// Where the page's files are when web_assets_dir is not set: share/bastion/web
// beside the directory of the running binary (bin/ or sbin/).
std::string default_web_assets_dir();

}  // namespace bastion
