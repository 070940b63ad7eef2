// bastiond's control socket (`control_socket`): a Unix stream socket, mode
// 0600, that only root and bastiond's own user may use (SO_PEERCRED). One
// request line per connection ("status" or "reload"), one JSON reply, then
// the socket closes. Served on the main thread, between accepts, so a reload
// asked for here is the very reload SIGHUP runs.
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace bastion {

class ControlSocket {
 public:
  // Refuses a path another live bastiond answers on, or that is not a
  // socket; a stale socket (nobody listening) is replaced.
  static std::unique_ptr<ControlSocket> open(const std::string& path, std::string& error);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Accepts one connection (the fd polled readable) and answers it with
  // handler(request line). Bounded: 2 s to read the line, 2 s to write.
  using Handler = std::function<std::string(const std::string& request)>;
  void serve_one(const Handler& handler);

 private:
  ControlSocket(int fd, std::string path, unsigned long ino) : fd_(fd), path_(std::move(path)), ino_(ino) {}
  int fd_;
  std::string path_;
  unsigned long ino_;  // unlinked at exit only if the path is still this socket
};

// bastionctl's side: sends `request` and returns the reply, or empty with
// `error`. Bounded by `timeout_ms` overall (a reload may take a second).
std::string control_request(const std::string& path, const std::string& request, int timeout_ms, std::string& error);

}  // namespace bastion
