// The web listener's per-connection bounds (bastion-web(7), Limits): at
// most N connections from one address, and a total deadline for the TLS
// handshake and request headers, however slowly the client trickles.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "common/connection_guard.h"

using namespace bastion;
using namespace std::chrono_literals;

namespace {

// A connected loopback pair: the server's end (what httplib would hold) and
// the client's, which reads with a bound.
struct Pair {
  int server = -1, client = -1;
  ~Pair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};

class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr_;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr_), &len) == 0);
  }
  ~Listener() { ::close(fd_); }
  void connect(Pair& p) {
    p.client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(p.client, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) == 0);
    p.server = ::accept(fd_, nullptr, nullptr);
    REQUIRE(p.server >= 0);
    timeval tv{5, 0};  // every read below is bounded
    ::setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

 private:
  int fd_ = -1;
  sockaddr_in addr_{};
};

// What the client sees: 0 when the server shut the connection down, -1 when
// nothing came within `wait`.
ssize_t client_read(const Pair& p, std::chrono::milliseconds wait) {
  timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  ::setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  return ::recv(p.client, &c, 1, 0);
}

}  // namespace

TEST_CASE("web connections: past the per-address limit one is shut down at once") {
  ConnectionGuard guard(2, 60s, 0s);
  Listener l;
  Pair held[2], extra;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> workers;
  std::vector<std::promise<void>> started(2);
  for (int i = 0; i < 2; ++i) {
    l.connect(held[i]);
    workers.emplace_back([&, i] {
      guard.enter();
      guard.handshake_started(held[i].server);
      started[i].set_value();
      released.wait();
      guard.leave();
    });
  }
  for (auto& s : started) s.get_future().wait();
  CHECK(guard.connections_from("127.0.0.1") == 2);
  l.connect(extra);
  guard.enter();
  guard.handshake_started(extra.server);
  CHECK(client_read(extra, 2000ms) == 0);  // closed, not left waiting
  CHECK(guard.connections_from("127.0.0.1") == 2);
  guard.leave();
  CHECK(client_read(held[0], 100ms) == -1);  // the two within the limit are untouched
  release.set_value();
  for (auto& w : workers) w.join();
  CHECK(guard.connections_from("127.0.0.1") == 0);
}

TEST_CASE("web connections: a handshake or headers not done by the deadline are cut off") {
  ConnectionGuard guard(4, 200ms, 0s);
  Listener l;
  Pair slow;
  l.connect(slow);
  guard.enter();
  const auto t0 = std::chrono::steady_clock::now();
  guard.handshake_started(slow.server);
  CHECK(client_read(slow, 3000ms) == 0);  // cut off by the watchdog
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 200ms);
  CHECK(took < 3000ms);
  guard.leave();
  CHECK(guard.connections_from("127.0.0.1") == 0);

  // Headers in: the request is served without a deadline; after the
  // response the next request's headers have one again.
  Pair served;
  l.connect(served);
  guard.enter();
  guard.handshake_started(served.server);
  guard.headers_read();
  CHECK(client_read(served, 600ms) == -1);  // still open past the deadline
  guard.response_sent();
  CHECK(client_read(served, 3000ms) == 0);
  guard.leave();
}

TEST_CASE("connections: a full listener evicts the one that has waited longest for its request") {
  ConnectionGuard guard(8, 60s, 0s, "metrics");
  Listener l;
  Pair older, newer, served;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<std::thread> workers;
  for (Pair* p : {&older, &served, &newer}) {
    l.connect(*p);
    std::promise<void> started;
    workers.emplace_back([&, p] {
      guard.enter();
      guard.socket_started(p->server);
      if (p == &served) guard.headers_read();  // its request is in: never evicted
      started.set_value();
      released.wait();
      guard.leave();
    });
    started.get_future().wait();
    std::this_thread::sleep_for(1ms);  // strictly later deadlines, in this order
  }
  CHECK(guard.evict_oldest_waiting());
  CHECK(client_read(older, 2000ms) == 0);
  CHECK(client_read(newer, 100ms) == -1);
  CHECK(guard.evict_oldest_waiting());
  CHECK(client_read(newer, 2000ms) == 0);
  CHECK_FALSE(guard.evict_oldest_waiting());  // only the one being served is left
  CHECK(client_read(served, 100ms) == -1);
  release.set_value();
  for (auto& w : workers) w.join();
}
