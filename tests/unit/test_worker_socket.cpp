// The tunnel executors' end of a socketpair to their worker, against a real
// socketpair whose other end the test reads or leaves full: the poll events
// it asks for (POLLOUT exactly while client bytes wait, so the last bytes of
// a request never wait for an unrelated wake-up), its bound, EOF after the
// queue, and reads under a budget.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "targets/worker_socket.h"

using bastion::WorkerSocket;

namespace {

struct Pair {
  int ours = -1, theirs = -1;
  Pair() {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ours = sv[0];
    theirs = sv[1];
  }
  ~Pair() {
    if (theirs >= 0) ::close(theirs);
  }
  // Everything the worker's end can read now.
  std::string drain() const {
    std::string got;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(theirs, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return got;
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
};

struct Watches {
  std::vector<std::pair<int, short>> seen;
  WorkerSocket::Watch fn() {
    return [this](int fd, short events) { seen.emplace_back(fd, events); };
  }
  short last() const { return seen.empty() ? short{-1} : seen.back().second; }
};

}  // namespace

TEST_CASE("worker socket: POLLOUT is watched exactly while client bytes wait for the worker") {
  Pair p;
  Watches w;
  WorkerSocket s(p.ours, 8 << 20, w.fn());
  s.set_output_wanted(true);
  CHECK(w.last() == POLLIN);
  // More than a socketpair's buffer, with nobody reading the other end.
  const std::string big(4 << 20, 'x');
  REQUIRE(s.write(big));
  CHECK(w.last() == (POLLIN | POLLOUT));
  CHECK(s.capacity() < (8u << 20) - (1u << 20));
  // The worker takes everything: the next pass sends the rest and stops
  // asking for POLLOUT (a writable socket would otherwise wake the loop
  // for ever).
  std::string got;
  for (int i = 0; i < 10000 && got.size() < big.size(); ++i) {
    got += p.drain();
    s.capacity();
  }
  CHECK(got == big);
  CHECK(w.last() == POLLIN);
  s.set_output_wanted(false);
  CHECK(w.last() == 0);
  CHECK(w.seen.front().first == p.ours);
}

TEST_CASE("worker socket: its bound stops the client, and EOF reaches the worker only after the queue") {
  Pair p;
  Watches w;
  WorkerSocket s(p.ours, 64 * 1024, w.fn());
  const std::string chunk(1 << 20, 'y');
  REQUIRE(s.write(chunk));  // the socket's buffer takes part; the rest waits
  CHECK(s.capacity() == 0);
  s.send_eof();
  CHECK_FALSE(s.write("late"));  // nothing goes in after EOF
  CHECK(s.capacity() == 0);
  std::string got;
  for (int i = 0; i < 10000 && got.size() < chunk.size(); ++i) {
    got += p.drain();
    s.capacity();
  }
  CHECK(got == chunk);
  char c;
  CHECK(::recv(p.theirs, &c, 1, MSG_DONTWAIT) == 0);  // EOF, after every byte
  CHECK((w.last() & POLLOUT) == 0);
}

TEST_CASE("worker socket: reads under a budget, and a worker that ends the connection closes it") {
  Pair p;
  Watches w;
  WorkerSocket s(p.ours, 1024, w.fn());
  s.set_output_wanted(true);
  std::string out;
  const auto sink = [&](std::string_view b) { out.append(b); };
  CHECK(s.read(100, sink) == WorkerSocket::Read::would_block);
  const std::string reply(300, 'r');
  REQUIRE(::send(p.theirs, reply.data(), reply.size(), 0) == 300);
  CHECK(s.read(100, sink) == WorkerSocket::Read::budget_spent);
  CHECK(out.size() == 100);
  CHECK(s.read(1000, sink) == WorkerSocket::Read::would_block);
  CHECK(out == reply);
  ::close(p.theirs);
  p.theirs = -1;
  CHECK(s.read(1000, sink) == WorkerSocket::Read::closed);
  CHECK_FALSE(s.is_open());
  CHECK(w.last() == 0);  // unwatched before the descriptor was closed
  CHECK(s.capacity() == 0);
  CHECK_FALSE(s.write("x"));
  CHECK(s.read(1000, sink) == WorkerSocket::Read::closed);
}

TEST_CASE("worker socket: a worker that closed its end drops what waits") {
  Pair p;
  Watches w;
  WorkerSocket s(p.ours, 1 << 20, w.fn());
  ::close(p.theirs);
  p.theirs = -1;
  CHECK(s.write("request"));  // EPIPE: dropped, never raised as SIGPIPE
  CHECK(s.capacity() == 1u << 20);
  for (const auto& [fd, events] : w.seen) CHECK((events & POLLOUT) == 0);
}
