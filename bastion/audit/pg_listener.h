// A dedicated PostgreSQL connection that LISTENs on a channel and calls
// back for each notification (another instance approved, denied, voted,
// granted). Sessions wake at once instead of at their next poll; when the
// connection drops, polling (every 2 s, pending_approval.h) carries on
// while this reconnects (backing off to 5 s), and the first notification
// after a reconnect is implied: the callback runs once, since anything may
// have changed while it was down.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "audit/pg_connect.h"

namespace bastion {

class PgListener {
 public:
  PgListener(PgTarget target, std::string channel, std::function<void()> notified);
  ~PgListener();  // stops and joins the thread
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;
  // Whether the LISTEN connection is up now (tests, status).
  bool connected() const { return connected_.load(); }

 private:
  void run();
  // Waits up to `ms` for the stop signal; true when stopping.
  bool wait_stop(int ms);

  PgTarget target_;
  std::string channel_;
  std::function<void()> notified_;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false}, connected_{false};
  std::thread thread_;
};

}  // namespace bastion
