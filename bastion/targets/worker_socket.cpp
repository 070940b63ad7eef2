#include "targets/worker_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace bastion {

WorkerSocket::WorkerSocket(int fd, std::size_t max_pending, Watch watch)
    : fd_(fd), max_pending_(max_pending), watch_(std::move(watch)) {}

WorkerSocket::~WorkerSocket() { close(); }

std::size_t WorkerSocket::capacity() {
  flush();
  return fd_ < 0 || eof_in_ || pending_.size() >= max_pending_ ? 0 : max_pending_ - pending_.size();
}

bool WorkerSocket::write(std::string_view data) {
  if (fd_ < 0 || eof_in_) return false;
  pending_.append(data);
  flush();
  return true;
}

void WorkerSocket::flush() {
  while (fd_ >= 0 && !pending_.empty()) {
    const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      pending_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    pending_.clear();  // the worker closed its end: nothing more goes in
  }
  update_watch();
  if (fd_ >= 0 && eof_in_ && pending_.empty() && !eof_sent_) {
    ::shutdown(fd_, SHUT_WR);
    eof_sent_ = true;
  }
}

void WorkerSocket::send_eof() {
  eof_in_ = true;
  flush();
}

void WorkerSocket::set_output_wanted(bool wanted) {
  output_wanted_ = wanted;
  update_watch();
}

void WorkerSocket::update_watch() {
  const short want =
      fd_ < 0 ? 0 : static_cast<short>((output_wanted_ ? POLLIN : 0) | (pending_.empty() ? 0 : POLLOUT));
  if (want == watched_ || fd_ < 0) return;
  watched_ = want;
  if (watch_) watch_(fd_, want);
}

WorkerSocket::Read WorkerSocket::read(std::size_t budget, const std::function<void(std::string_view)>& sink) {
  if (fd_ < 0) return Read::closed;
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, budget), MSG_DONTWAIT);
    if (n > 0) {
      sink(std::string_view(buf, static_cast<std::size_t>(n)));
      budget -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::would_block;
    close();
    return Read::closed;
  }
  return Read::budget_spent;
}

void WorkerSocket::close() {
  if (fd_ < 0) return;
  output_wanted_ = false;
  pending_.clear();
  update_watch();  // the loop stops watching before the descriptor goes
  ::close(fd_);
  fd_ = -1;
}

}  // namespace bastion
