#include "common/connection_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

namespace bastion {
namespace {

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof buf);
    else inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

void info_callback(const SSL* ssl, int where, int) {
  if (!(where & SSL_CB_HANDSHAKE_START)) return;
  auto* guard = static_cast<ConnectionGuard*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (guard) guard->handshake_started(SSL_get_fd(ssl));
}

}  // namespace

ConnectionGuard::ConnectionGuard(std::size_t per_address, Clock::duration deadline, Clock::duration keep_alive,
                                 std::string name)
    : per_address_(per_address), deadline_(deadline), keep_alive_(keep_alive), name_(std::move(name)) {
  watchdog_ = std::thread([this] { watch(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void ConnectionGuard::install(SSL_CTX& ctx) {
  SSL_CTX_set_app_data(&ctx, this);
  SSL_CTX_set_info_callback(&ctx, info_callback);
}

void ConnectionGuard::enter() {
  std::lock_guard<std::mutex> g(mu_);
  conns_[std::this_thread::get_id()] = Conn{};
}

void ConnectionGuard::leave() {
  int fd = -1;
  {
    std::lock_guard<std::mutex> g(mu_);
    const auto it = conns_.find(std::this_thread::get_id());
    if (it == conns_.end()) return;
    fd = it->second.fd;
    if (fd >= 0) {
      const auto n = per_address_count_.find(it->second.address);
      if (n != per_address_count_.end() && --n->second == 0) per_address_count_.erase(n);
    }
    conns_.erase(it);
  }
  if (fd >= 0) ::close(fd);
}

void ConnectionGuard::socket_started(int fd) {
  if (fd < 0) return;
  std::unique_lock<std::mutex> g(mu_);
  const auto it = conns_.find(std::this_thread::get_id());
  if (it == conns_.end() || it->second.fd >= 0) return;  // not ours, or counted already
  const std::string address = peer_address(fd);
  std::size_t& n = per_address_count_[address];
  if (n >= per_address_) {
    if (n == 0) per_address_count_.erase(address);
    g.unlock();
    // Closed at once: the handshake's next read fails and the worker is free.
    ::shutdown(fd, SHUT_RDWR);
    log_warn(name_ + ": connection refused (too many from one address)",
             {{"peer", address}, {"limit", std::to_string(per_address_)}});
    return;
  }
  const int mine = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (mine < 0) {
    if (n == 0) per_address_count_.erase(address);
    g.unlock();
    ::shutdown(fd, SHUT_RDWR);  // no deadline could be kept: fail closed
    log_warn(name_ + ": connection refused (no descriptor for its deadline)", {{"peer", address}});
    return;
  }
  ++n;
  it->second = Conn{mine, address, Clock::now() + deadline_, true};
  wake_.notify_all();
}

void ConnectionGuard::headers_read() {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = conns_.find(std::this_thread::get_id());
  if (it != conns_.end()) it->second.armed = false;
}

void ConnectionGuard::response_sent() {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = conns_.find(std::this_thread::get_id());
  if (it == conns_.end() || it->second.fd < 0) return;
  it->second.deadline = Clock::now() + keep_alive_ + deadline_;
  it->second.armed = true;
  wake_.notify_all();
}

bool ConnectionGuard::evict_oldest_waiting() {
  std::lock_guard<std::mutex> g(mu_);
  Conn* oldest = nullptr;
  for (auto& [thread, c] : conns_)
    if (c.armed && c.fd >= 0 && (!oldest || c.deadline < oldest->deadline)) oldest = &c;
  if (!oldest) return false;
  // As at its deadline: the worker's read fails, it closes and frees the slot.
  ::shutdown(oldest->fd, SHUT_RDWR);
  oldest->armed = false;
  log_warn(name_ + ": connection closed (every slot taken; it waited longest for its request)",
           {{"peer", oldest->address}});
  return true;
}

std::size_t ConnectionGuard::connections_from(const std::string& address) const {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = per_address_count_.find(address);
  return it == per_address_count_.end() ? 0 : it->second;
}

void ConnectionGuard::watch() {
  std::unique_lock<std::mutex> g(mu_);
  while (!stopping_) {
    const auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto& [thread, c] : conns_) {
      if (!c.armed) continue;
      if (c.deadline <= now) {
        // The worker's read fails at once; it closes the connection and leaves.
        ::shutdown(c.fd, SHUT_RDWR);
        c.armed = false;
        log_warn(name_ + ": connection closed (handshake or request headers not done in time)", {{"peer", c.address}});
      } else {
        next = std::min(next, c.deadline);
      }
    }
    wake_.wait_until(g, next);
  }
}

}  // namespace bastion
