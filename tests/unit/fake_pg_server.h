// A PostgreSQL server just real enough for libpq, for unit tests of the SQL
// executor: one connection on a Unix socket, trust authentication, UTF8 and
// standard strings; every query (simple or extended protocol) completes
// with no rows and its own text as the command tag, so what the server ran
// shows in the output. queries() lists what it received, in order.
#pragma once
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bastion::test {

class FakePgServer {
 public:
  FakePgServer() {
    char tmpl[] = "/tmp/fake-pg-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = dir_ + "/.s.PGSQL.5432";
    path.copy(a.sun_path, sizeof a.sun_path - 1);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1) != 0)
      throw std::runtime_error("fake pg: cannot listen");
    thread_ = std::thread([this] { serve(); });
  }
  ~FakePgServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // unblocks accept
    if (const int c = client_fd_.load(); c >= 0) shutdown(c, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
    std::filesystem::remove_all(dir_);
  }
  FakePgServer(const FakePgServer&) = delete;
  FakePgServer& operator=(const FakePgServer&) = delete;

  std::string conninfo() const {
    return "host=" + dir_ + " port=5432 user=test dbname=test sslmode=disable gssencmode=disable";
  }
  std::vector<std::string> queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }

 private:
  static bool read_all(int fd, char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t r = read(fd, p, n);
      if (r <= 0) return false;
      p += r, n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  static void put32(std::string& s, uint32_t v) {
    v = htonl(v);
    s.append(reinterpret_cast<const char*>(&v), 4);
  }
  static std::string msg(char type, const std::string& body) {
    std::string m(1, type);
    put32(m, static_cast<uint32_t>(body.size() + 4));
    return m + body;
  }
  static std::string cstr(const std::string& s) { return s + '\0'; }
  void send(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t w = write(fd, data.data() + off, data.size() - off);
      if (w <= 0) return;
      off += static_cast<std::size_t>(w);
    }
  }
  void record(const std::string& q) {
    std::lock_guard lock(mu_);
    queries_.push_back(q);
  }
  static std::string done(const std::string& query) {
    return msg('C', cstr(query)) + msg('Z', "I");
  }

  void serve() {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    client_fd_ = fd;
    char len[4];
    if (!read_all(fd, len, 4)) return close(fd), void();
    uint32_t n;
    std::memcpy(&n, len, 4);
    std::string startup(ntohl(n) - 4, '\0');
    if (!read_all(fd, startup.data(), startup.size())) return close(fd), void();
    std::string hello = msg('R', std::string("\0\0\0\0", 4));  // AuthenticationOk
    for (const auto& [k, v] : {std::pair{"server_version", "15.0"}, {"client_encoding", "UTF8"},
                               {"standard_conforming_strings", "on"}, {"server_encoding", "UTF8"}})
      hello += msg('S', cstr(k) + cstr(v));
    std::string key;
    put32(key, 4242);
    put32(key, 1);
    hello += msg('K', key) + msg('Z', "I");
    send(fd, hello);
    std::string parsed;  // the extended protocol's statement, answered at Sync
    while (true) {
      char head[5];
      if (!read_all(fd, head, 5)) break;
      std::memcpy(&n, head + 1, 4);
      std::string body(ntohl(n) - 4, '\0');
      if (!read_all(fd, body.data(), body.size())) break;
      if (head[0] == 'X') break;
      if (head[0] == 'Q') {
        const std::string q = body.c_str();
        record(q);
        send(fd, done(q));
      } else if (head[0] == 'P') {
        parsed = body.c_str() + std::strlen(body.c_str()) + 1;  // after the statement name
        record(parsed);
      } else if (head[0] == 'S') {
        send(fd, msg('1', "") + msg('2', "") + msg('n', "") + done(parsed));
      }
    }
    client_fd_ = -1;
    close(fd);
  }

  std::string dir_;
  int listen_fd_ = -1;
  std::atomic<int> client_fd_{-1};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> queries_;
};

}  // namespace bastion::test
