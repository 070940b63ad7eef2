#include "metrics/metrics_server.h"

#include <chrono>

#include <httplib.h>

#include "common/log.h"
#include "metrics/prometheus_text.h"
#include "web/bounded_task_queue.h"

namespace bastion {
namespace {
constexpr std::size_t kThreads = 2;
constexpr std::size_t kMaxConnections = 8;
constexpr time_t kTimeoutSeconds = 5;
constexpr std::size_t kMaxPayload = 1024;  // no route takes a body
}  // namespace

std::unique_ptr<MetricsServer> MetricsServer::start(const std::string& host, int port, Render render,
                                                    std::string& error) {
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  m->render_ = std::move(render);
  m->http_ = std::make_unique<httplib::Server>();
  m->queue_ = std::make_unique<TaskQueueSlot>();
  httplib::Server& s = *m->http_;
  MetricsServer* self = m.get();
  s.new_task_queue = [self] { return new BoundedTaskQueue(kThreads, kMaxConnections, *self->queue_); };
  s.set_payload_max_length(kMaxPayload);
  s.set_read_timeout(kTimeoutSeconds, 0);
  s.set_write_timeout(kTimeoutSeconds, 0);
  s.set_keep_alive_timeout(kTimeoutSeconds);
  s.set_keep_alive_max_count(16);
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
  m->thread_ = std::thread([self] {
    if (!self->http_->listen_after_bind()) log_error("metrics: the listener stopped");
    self->finished_ = true;
  });
  return m;
}

void MetricsServer::stop() {
  if (!http_) return;
  queue_->release();
  // httplib's stop() does nothing until its thread is listening: repeat it
  // until that thread has returned.
  while (!finished_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (thread_.joinable()) thread_.join();
}

MetricsServer::~MetricsServer() { stop(); }

}  // namespace bastion
