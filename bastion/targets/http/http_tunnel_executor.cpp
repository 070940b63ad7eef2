#include "targets/http/http_tunnel_executor.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "targets/http/http_facts.h"

namespace bastion {
namespace {
// What the client may have in flight towards the worker: more than one
// libssh receive window (reads_input_whole()).
constexpr std::size_t kMaxPending = 2 * 1024 * 1024;
}

HttpTunnelExecutor::HttpTunnelExecutor(int fd, std::unique_ptr<HttpConnection> conn,
                                       std::shared_ptr<HttpChannelLink> link, CommandGate& gate, Watch watch,
                                       std::optional<std::string> exec_request)
    : fd_(fd), link_(std::move(link)), conn_(std::move(conn)), gate_(gate), watch_(std::move(watch)),
      exec_(exec_request.has_value()) {
  if (watch_ && link_->wake_fd() >= 0) watch_(link_->wake_fd(), POLLIN, true);
  if (exec_) {
    pending_ = std::move(*exec_request);
    eof_in_ = true;  // the request is all there is
    flush_input();
  }
  set_output_wanted(true);
}

HttpTunnelExecutor::~HttpTunnelExecutor() { close(); }

std::size_t HttpTunnelExecutor::input_capacity() {
  flush_input();
  if (exec_) return kMaxPending;  // the client's stdin is read and dropped
  return fd_ < 0 || eof_in_ || pending_.size() >= kMaxPending ? 0 : kMaxPending - pending_.size();
}

bool HttpTunnelExecutor::write_input(std::string_view data) {
  if (exec_) return true;
  if (fd_ < 0 || eof_in_) return false;
  pending_.append(data);
  flush_input();
  return true;
}

void HttpTunnelExecutor::flush_input() {
  while (fd_ >= 0 && !pending_.empty()) {
    const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      pending_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return update_watch();
    pending_.clear();  // the worker closed its end: nothing more goes in
    return update_watch();
  }
  update_watch();
  if (fd_ >= 0 && eof_in_ && pending_.empty() && !eof_sent_) {
    ::shutdown(fd_, SHUT_WR);
    eof_sent_ = true;
  }
}

void HttpTunnelExecutor::send_eof() {
  if (exec_) return;
  eof_in_ = true;
  flush_input();
}

void HttpTunnelExecutor::set_output_wanted(bool wanted) {
  output_wanted_ = wanted;
  update_watch();
}

void HttpTunnelExecutor::update_watch() {
  const short want = fd_ < 0 ? 0 : static_cast<short>((output_wanted_ ? POLLIN : 0) | (pending_.empty() ? 0 : POLLOUT));
  if (want == watched_) return;
  watched_ = want;
  if (watch_ && fd_ >= 0) watch_(fd_, want, false);
}

void HttpTunnelExecutor::answer(const GateResult& g, const HttpFacts& f, OutputWriter& out) {
  HttpAnswer a;
  a.allowed = g.decision.allowed();
  a.reason = g.refusal.empty() ? g.decision.reason : g.refusal;
  a.command_id = g.command_id;
  // The exec form's output passes the channel's filters, which the gate
  // gave the decision's masks; a tunnel's wire bytes are masked by the worker.
  if (!exec_) a.masks = g.decision.mask;
  if (!a.allowed) {  // it never reaches the upstream: the row ends here
    CommandOutcome o;
    o.status = 403;
    o.error = "denied";
    gate_.command_ended(g.command_id, o);
    a.command_id = 0;
    out.write(exec_ ? Stream::err : Stream::record, http_request_text(f) + " -> 403 denied: " + a.reason + "\n");
  }
  link_->answer(std::move(a));
}

void HttpTunnelExecutor::serve_decisions(OutputWriter& out) {
  link_->clear_wake();
  if (held_) {
    const std::optional<GateResult> res = held_->review.poll();
    if (!res) return;
    Held h = std::move(*held_);
    held_.reset();
    answer(*res, h.facts, out);
  }
  const std::optional<HttpFacts> q = link_->take_question();
  if (!q) return;
  CommandRequest req = gate_.request("http", http_request_text(*q));
  req.facts = std::make_shared<HttpCommandFacts>(*q);
  const GateResult g = gate_.submit(req);
  if (g.review_id) {  // held for a human decision: the client waits
    held_.emplace(Held{HeldCommand(gate_, g), *q});
    return;
  }
  answer(g, *q, out);
}

void HttpTunnelExecutor::finish_rows(OutputWriter& out) {
  for (HttpEnded& e : link_->take_ended()) {
    gate_.command_ended(e.command_id, e.outcome);
    if (exec_) {
      if (e.outcome.status && *e.outcome.status >= 200 && *e.outcome.status < 400) exec_status_ = 0;
      out.write(Stream::err, e.summary + "\n");
    } else {
      out.write(Stream::record, e.summary + "\n");
    }
  }
}

bool HttpTunnelExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  serve_decisions(out);
  flush_input();
  if (fd_ < 0) return false;
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, budget), MSG_DONTWAIT);
    if (n > 0) {
      out.write_view(exec_ ? Stream::out : Stream::wire, std::string_view(buf, static_cast<std::size_t>(n)));
      budget -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // Rows end only once the response bytes before them are out (the
    // exec form's masks end with its row).
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return finish_rows(out), true;
    finish_rows(out);
    exit_.status = exec_ ? exec_status_ : 0;  // the worker finished with this connection
    close();
    return false;
  }
  return true;
}

void HttpTunnelExecutor::close() {
  if (held_) {
    held_->review.withdraw();
    held_.reset();
  }
  if (watch_ && link_ && link_->wake_fd() >= 0 && conn_) watch_(link_->wake_fd(), 0, true);
  conn_.reset();  // stops and joins the worker
  if (fd_ < 0) return;
  output_wanted_ = false;
  pending_.clear();
  update_watch();
  ::close(fd_);
  fd_ = -1;
}

}  // namespace bastion
