#include "targets/http/http_tunnel_executor.h"

#include <poll.h>

#include "targets/http/http_facts.h"

namespace bastion {
namespace {
// What the client may have in flight towards the worker: more than one
// libssh receive window (1.28 MB), so a client's burst is taken in one pass.
constexpr std::size_t kMaxPending = 2 * 1024 * 1024;
}

HttpTunnelExecutor::HttpTunnelExecutor(int fd, std::unique_ptr<HttpConnection> conn,
                                       std::shared_ptr<HttpChannelLink> link, CommandGate& gate, Watch watch,
                                       std::optional<std::string> exec_request)
    : link_(std::move(link)), conn_(std::move(conn)), gate_(gate), watch_(std::move(watch)),
      worker_(fd, kMaxPending, [w = watch_](int f, short events) { if (w) w(f, events, false); }),
      exec_(exec_request.has_value()) {
  if (watch_ && link_->wake_fd() >= 0) watch_(link_->wake_fd(), POLLIN, true);
  if (exec_) {
    worker_.write(*exec_request);
    worker_.send_eof();  // the request is all there is
  }
  set_output_wanted(true);
}

HttpTunnelExecutor::~HttpTunnelExecutor() { close(); }

std::size_t HttpTunnelExecutor::input_capacity() {
  const std::size_t room = worker_.capacity();
  return exec_ ? kMaxPending : room;  // the exec form reads the client's stdin and drops it
}

bool HttpTunnelExecutor::write_input(std::string_view data) { return exec_ || worker_.write(data); }

void HttpTunnelExecutor::send_eof() {
  if (!exec_) worker_.send_eof();
}

void HttpTunnelExecutor::set_output_wanted(bool wanted) { worker_.set_output_wanted(wanted); }

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
  worker_.flush();
  if (!worker_.is_open()) return false;
  const auto r = worker_.read(
      budget, [&](std::string_view b) { out.write_view(exec_ ? Stream::out : Stream::wire, b); });
  // Rows end only once the response bytes before them are out (the exec
  // form's masks end with its row).
  if (r != WorkerSocket::Read::budget_spent) finish_rows(out);
  if (r != WorkerSocket::Read::closed) return true;
  exit_.status = exec_ ? exec_status_ : 0;  // the worker finished with this connection
  close();
  return false;
}

void HttpTunnelExecutor::close() {
  if (held_) {
    held_->review.withdraw();
    held_.reset();
  }
  if (watch_ && link_ && link_->wake_fd() >= 0 && conn_) watch_(link_->wake_fd(), 0, true);
  conn_.reset();  // stops and joins the worker
  worker_.close();
}

}  // namespace bastion
