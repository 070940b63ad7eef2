#include "audit/pg_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"

namespace bastion {

PgListener::PgListener(PgTarget target, std::string channel, std::function<void()> notified)
    : target_(std::move(target)), channel_(std::move(channel)), notified_(std::move(notified)),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { run(); });
}

PgListener::~PgListener() {
  stopping_ = true;
  const uint64_t one = 1;
  if (stop_fd_ >= 0 && write(stop_fd_, &one, sizeof one) < 0) {
  }  // the loop also checks stopping_ at least once a second
  if (thread_.joinable()) thread_.join();
  if (stop_fd_ >= 0) close(stop_fd_);
}

bool PgListener::wait_stop(int ms) {
  pollfd p{stop_fd_, POLLIN, 0};
  poll(&p, 1, std::min(ms, 1000));
  return stopping_.load();
}

void PgListener::run() {
  int backoff_ms = 250;
  while (!stopping_) {
    std::string err;
    PgConn c = pg_connect(target_, err);
    if (c) {
      char* quoted = PQescapeIdentifier(c.get(), channel_.c_str(), channel_.size());
      const std::string sql = std::string("LISTEN ") + (quoted ? quoted : "\"\"");
      PQfreemem(quoted);
      PgResult r(PQexec(c.get(), sql.c_str()));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) err = pg_error(c.get()), c.reset();
    }
    if (!c) {
      log_warn("store notifications unavailable; approvals from other instances arrive by polling",
               {{"error", err}, {"retry_ms", std::to_string(backoff_ms)}});
      if (wait_stop(backoff_ms)) break;
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 250;
    connected_ = true;
    notified_();  // whatever changed while nobody listened
    while (!stopping_) {
      pollfd p[2] = {{PQsocket(c.get()), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(p, 2, 1000) < 0) continue;
      if (stopping_) break;
      if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      if (!PQconsumeInput(c.get()) || PQstatus(c.get()) != CONNECTION_OK) {
        log_warn("store notification connection lost; reconnecting", {{"error", pg_error(c.get())}});
        break;
      }
      bool any = false;
      while (PGnotify* n = PQnotifies(c.get())) {
        any = true;
        PQfreemem(n);
      }
      if (any) notified_();
    }
    connected_ = false;
  }
}

}  // namespace bastion
