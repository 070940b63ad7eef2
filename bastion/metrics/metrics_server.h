// The Prometheus listener (`metrics_listen`): plain HTTP, GET or HEAD
// /metrics only (404 elsewhere), one request per connection, a few
// connections, each of which must send its request within 2 s; when all are
// taken the one that has waited longest for its request is closed. It exports counts, never identities or target names.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "common/listener_thread.h"

namespace httplib {
class Server;
}

namespace bastion {

struct TaskQueueSlot;
class ConnectionGuard;

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  static std::unique_ptr<MetricsServer> start(const std::string& host, int port, Render render, std::string& error);
  ~MetricsServer();
  void stop();

 private:
  MetricsServer() = default;
  Render render_;
  std::unique_ptr<ConnectionGuard> guard_;  // outlives the server that reports to it
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<TaskQueueSlot> queue_;
  ListenerThread listener_;  // stopped before the server above goes
};

}  // namespace bastion
