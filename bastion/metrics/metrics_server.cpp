#include "metrics/metrics_server.h"

#include <chrono>

#include <httplib.h>

#include "common/bounded_task_queue.h"
#include "common/guarded_http_server.h"
#include "common/log.h"
#include "metrics/prometheus_text.h"

namespace bastion {
namespace {
// A thread per slot: no connection waits behind a slow one. A full house
// evicts the connection that has waited longest for its request, and every
// request must arrive whole within kRequestDeadline of a worker taking it,
// so clients trickling their headers cannot keep the scraper out.
constexpr std::size_t kMaxConnections = 8;
constexpr std::size_t kThreads = kMaxConnections;
constexpr auto kRequestDeadline = std::chrono::seconds(2);
constexpr time_t kTimeoutSeconds = 5;
constexpr std::size_t kMaxPayload = 1024;  // no route takes a body
}  // namespace

std::unique_ptr<MetricsServer> MetricsServer::start(const std::string& host, int port, Render render,
                                                    std::string& error) {
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  m->render_ = std::move(render);
  // No per-address cap: the scraper and local clients share loopback's address.
  m->guard_ = std::make_unique<ConnectionGuard>(kMaxConnections, kRequestDeadline, std::chrono::seconds(0), "metrics");
  ConnectionGuard& guard = *m->guard_;
  m->http_ = std::make_unique<GuardedHttpServer>(guard);
  m->queue_ = std::make_unique<TaskQueueSlot>();
  httplib::Server& s = *m->http_;
  MetricsServer* self = m.get();
  s.new_task_queue = [self] {
    return new BoundedTaskQueue(kThreads, kMaxConnections, *self->queue_, self->guard_.get(), /*evict_when_full=*/true);
  };
  s.set_payload_max_length(kMaxPayload);
  s.set_read_timeout(kTimeoutSeconds, 0);
  s.set_write_timeout(kTimeoutSeconds, 0);
  s.set_pre_routing_handler([&guard](const httplib::Request&, httplib::Response&) {
    guard.headers_read();  // the request is in: served without a deadline
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", "text/plain");
  });
  // HEAD is answered by the GET route, without the body (httplib does that).
  s.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->render_(), PrometheusText::kContentType);
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("not found: try /metrics\n", "text/plain");
  });
  if (!s.bind_to_port(host, port))
    return error = "metrics: cannot listen on " + host + ":" + std::to_string(port), nullptr;
  m->listener_.start(*m->http_, "metrics");
  return m;
}

void MetricsServer::stop() {
  if (!http_) return;
  queue_->release();
  listener_.stop();
}

MetricsServer::~MetricsServer() { stop(); }

}  // namespace bastion
