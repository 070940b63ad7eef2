// Bounds per connection that cpp-httplib 0.11 lacks: at most `per_address`
// connections from one client address at once, a total deadline for the
// TLS handshake and for each request's headers, and (asked by a full
// BoundedTaskQueue) the eviction of the oldest connection still waiting for
// its request, so that slow clients holding every slot cannot starve one
// whose request arrives whole. Used by the web UI (TLS) and the metrics
// listener (plain HTTP, through GuardedHttpServer). httplib's timeouts are per
// read, so a client trickling a byte at a time would hold a worker thread
// for as long as it likes; a few such clients would lock every auditor out.
//
// A connection runs wholly on one worker thread (BoundedTaskQueue), which
// brackets it with enter()/leave(). httplib hides the socket, so OpenSSL's
// info callback names it when the handshake starts (before any byte is
// read); the server's pre-routing handler and logger say when a request's
// headers are in and when its response is out. A watchdog thread shuts down
// the socket of a connection past its deadline (through a dup of the
// descriptor, so a number reused after httplib closes it is never touched).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <openssl/ssl.h>

namespace bastion {

class ConnectionGuard {
 public:
  using Clock = std::chrono::steady_clock;

  // `deadline`: for the handshake and the first request's headers;
  // `keep_alive`: the idle wait before a later request, added to it.
  // `name` prefixes its log lines ("web", "metrics").
  ConnectionGuard(std::size_t per_address, Clock::duration deadline, Clock::duration keep_alive,
                  std::string name = "web");
  ~ConnectionGuard();  // stops the watchdog
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // Installs the info callback on the listener's TLS context.
  void install(SSL_CTX& ctx);

  // On the worker thread, around one connection.
  void enter();
  void leave();
  // The connection's socket, when its handshake starts: counted against its
  // address, or shut down at once past `per_address`.
  void handshake_started(int fd) { socket_started(fd); }
  // The same for a plain (non-TLS) connection, before its first read.
  void socket_started(int fd);
  void headers_read();   // the request is being served: no deadline
  void response_sent();  // the next request's headers: keep_alive + deadline

  // Shuts down the connection that has waited longest for its request (the
  // earliest deadline among those armed); false if none is waiting.
  bool evict_oldest_waiting();

  std::size_t connections_from(const std::string& address) const;

 private:
  struct Conn {
    int fd = -1;  // our dup of the socket; -1 until the handshake starts
    std::string address;
    Clock::time_point deadline{};
    bool armed = false;
  };
  void watch();

  const std::size_t per_address_;
  const Clock::duration deadline_, keep_alive_;
  const std::string name_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::thread::id, Conn> conns_;  // the worker serving it -> connection
  std::map<std::string, std::size_t> per_address_count_;
  std::thread watchdog_;
};

}  // namespace bastion
