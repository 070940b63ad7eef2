#include "targets/kubectl/kube_tunnel_executor.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "targets/kubectl/kube_request_gate.h"

namespace bastion {
namespace {
constexpr std::size_t kMaxPending = 256 * 1024;  // what the client may have in flight towards the proxy
}

KubeTunnelExecutor::KubeTunnelExecutor(int fd, KubeDecisionQueue& queue, CommandGate& gate, Watch watch)
    : fd_(fd), queue_(queue), gate_(gate), watch_(std::move(watch)) {
  set_output_wanted(true);
}

KubeTunnelExecutor::~KubeTunnelExecutor() { close(); }

std::size_t KubeTunnelExecutor::input_capacity() {
  flush_input();
  return fd_ < 0 || eof_in_ || pending_.size() >= kMaxPending ? 0 : kMaxPending - pending_.size();
}

bool KubeTunnelExecutor::write_input(std::string_view data) {
  if (fd_ < 0 || eof_in_) return false;
  pending_.append(data);
  flush_input();
  return true;
}

void KubeTunnelExecutor::flush_input() {
  while (fd_ >= 0 && !pending_.empty()) {
    const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      pending_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    pending_.clear();  // the proxy closed its end: nothing more goes in
    return;
  }
  if (fd_ >= 0 && eof_in_ && pending_.empty() && !eof_sent_) {
    ::shutdown(fd_, SHUT_WR);
    eof_sent_ = true;
  }
}

void KubeTunnelExecutor::send_eof() {
  eof_in_ = true;
  flush_input();
}

void KubeTunnelExecutor::set_output_wanted(bool wanted) {
  if (fd_ < 0 || wanted == watching_) return;
  watching_ = wanted;
  if (watch_) watch_(fd_, wanted);
}

bool KubeTunnelExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  serve_kube_requests(queue_, gate_, "", false);
  flush_input();
  if (fd_ < 0) return false;
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, budget), MSG_DONTWAIT);
    if (n > 0) {
      out.write(Stream::out, std::string(buf, static_cast<std::size_t>(n)));
      budget -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    exit_.status = 0;  // the proxy finished with this connection
    close();
    return false;
  }
  return true;
}

void KubeTunnelExecutor::close() {
  if (fd_ < 0) return;
  set_output_wanted(false);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace bastion
