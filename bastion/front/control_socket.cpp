#include "front/control_socket.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxRequest = 256;
constexpr std::size_t kMaxReply = 4 << 20;
constexpr int kIoMs = 2000;

bool make_address(const std::string& path, sockaddr_un& sa, std::string& error) {
  sa = {};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path)
    return error = "control socket path too long for a Unix socket: " + path, false;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return true;
}

int remaining_ms(std::chrono::steady_clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on a non-blocking fd until the deadline.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point until) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, remaining_ms(until));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool write_all(int fd, const std::string& data, std::chrono::steady_clock::time_point until) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLOUT, until)) continue;
    return false;
  }
  return true;
}

// One request line (without its newline), at most kMaxRequest bytes, by
// `until`; EOF ends it too. False if too long or not finished in time.
bool read_request_line(int c, std::chrono::steady_clock::time_point until, std::string& line) {
  char buf[kMaxRequest];
  bool complete = false;
  while (!complete && line.size() <= kMaxRequest) {
    const ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n > 0) {
      line.append(buf, static_cast<std::size_t>(n));
      complete = line.find('\n') != std::string::npos;
    } else if (n == 0) {
      complete = true;
    } else if (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(c, POLLIN, until))) {
      continue;
    } else {
      break;
    }
  }
  if (!complete || line.size() > kMaxRequest) return false;
  line = line.substr(0, line.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

// Someone answers on `path` (another bastiond)?
bool someone_listens(const sockaddr_un& sa) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool yes = connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
  close(fd);
  return yes;
}

}  // namespace

std::unique_ptr<ControlSocket> ControlSocket::open(const std::string& path, std::string& error) {
  sockaddr_un sa;
  if (!make_address(path, sa, error)) return nullptr;
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return error = "control socket " + path + " exists and is not a socket", nullptr;
    if (someone_listens(sa))
      return error = "control socket " + path + " answers: is another bastiond running with this data_dir?", nullptr;
    if (unlink(path.c_str()) != 0)
      return error = "cannot remove the stale control socket " + path + ": " + std::strerror(errno), nullptr;
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return error = std::string("cannot create the control socket: ") + std::strerror(errno), nullptr;
  // The peer check in serve_one is the gate; the mode keeps others from
  // even connecting. fchmod on an unbound socket does not reach the file.
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || chmod(path.c_str(), 0600) != 0 ||
      listen(fd, 8) != 0 || lstat(path.c_str(), &st) != 0) {
    error = "cannot listen on the control socket " + path + ": " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<ControlSocket>(new ControlSocket(fd, path, static_cast<unsigned long>(st.st_ino)));
}

ControlSocket::~ControlSocket() {
  close(fd_);
  struct stat st{};
  if (lstat(path_.c_str(), &st) == 0 && static_cast<unsigned long>(st.st_ino) == ino_) unlink(path_.c_str());
}

void ControlSocket::serve_one(const Handler& handler) {
  const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoMs);
  // The request is read before any answer, a refusal too: closing with the
  // peer's line unread resets the connection, and the refused peer would see
  // "connection reset" instead of why.
  std::string line;
  const bool complete = read_request_line(c, until, line);
  ucred cred{};
  socklen_t len = sizeof cred;
  std::string reply;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != geteuid())) {
    log_warn("control socket: refused a peer that is neither root nor bastiond's user",
             {{"uid", std::to_string(cred.uid)}, {"pid", std::to_string(cred.pid)}});
    reply = "{\"error\":\"permission denied\"}\n";
  } else if (!complete) {
    reply = "{\"error\":\"request too long or not finished in time\"}\n";
  } else {
    reply = handler(line) + "\n";
  }
  // The reply gets its own two seconds.
  write_all(c, reply, std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoMs));
  close(c);
}

std::string control_request(const std::string& path, const std::string& request, int timeout_ms, std::string& error) {
  sockaddr_un sa;
  if (!make_address(path, sa, error)) return "";
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return error = std::string("socket: ") + std::strerror(errno), "";
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    error = "cannot connect to " + path + ": " + std::strerror(errno) + " (is bastiond running, and may you use its control socket?)";
    close(fd);
    return "";
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string reply;
  if (!write_all(fd, request + "\n", until)) {
    error = "cannot send to " + path + ": " + std::strerror(errno);
    close(fd);
    return "";
  }
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
      if (reply.size() > kMaxReply) {
        error = "reply from " + path + " too long";
        break;
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLIN, until)) continue;
    error = "no reply from " + path + (errno == EAGAIN ? std::string(" in time") : ": " + std::string(std::strerror(errno)));
    break;
  }
  close(fd);
  if (!error.empty()) return "";
  if (reply.empty()) error = "empty reply from " + path;
  return reply;
}

}  // namespace bastion
