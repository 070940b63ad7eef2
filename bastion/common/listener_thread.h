// The thread a cpp-httplib server listens on once bound, and stopping it.
// httplib's stop() does nothing until its thread is listening, so stop()
// repeats it until that thread has returned; a listener never started
// (the bind failed) stops at once.
#pragma once
#include <atomic>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace bastion {

class ListenerThread {
 public:
  ListenerThread() = default;
  ListenerThread(const ListenerThread&) = delete;
  ListenerThread& operator=(const ListenerThread&) = delete;
  ~ListenerThread();  // the owner calls stop() first, while the server exists

  // Calls listen_after_bind() on `http` in a new thread; `name` prefixes the
  // log line should the listener stop on its own.
  void start(httplib::Server& http, std::string name);
  // Idempotent.
  void stop();

 private:
  httplib::Server* http_ = nullptr;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace bastion
