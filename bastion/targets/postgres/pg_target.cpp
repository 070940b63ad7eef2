#include "targets/postgres/pg_target.h"

#include <poll.h>

#include "targets/postgres/pg_executor.h"
#include "targets/postgres/wire/pg_wire_executor.h"

namespace bastion {
namespace {

// Wakes the session loop; the executor does the reading.
int on_readable(socket_t, int, void*) { return 0; }

// Keeps the connection marked busy for as long as the executor lives.
class OwnedPgExecutor : public PgExecutor {
 public:
  OwnedPgExecutor(std::shared_ptr<int> token, PgConnection& c, const TargetConfig& t, const ExecRequest& r,
                  CommandGate& g, std::function<void(bool)> w)
      : PgExecutor(c, t, r, g, std::move(w)), token_(std::move(token)) {}

 private:
  std::shared_ptr<int> token_;
};

}  // namespace

std::unique_ptr<PgTargetConnection> PgTargetConnection::connect(const TargetConfig& t, const PostgresCredential& cred,
                                                                std::string& error) {
  auto c = PgConnection::connect(t, cred, error);
  if (!c) return nullptr;
  return std::unique_ptr<PgTargetConnection>(new PgTargetConnection(std::move(c), t, cred));
}

PgTargetConnection::~PgTargetConnection() { detach(); }

std::unique_ptr<Executor> PgTargetConnection::start(const ExecRequest& req, std::string& error) {
  if (req.kind == ChannelKind::subsystem) return error = "file transfer is not available on database targets", nullptr;
  if (!req.gate) return error = "internal error: no command gate", nullptr;
  // A client's own connection (`ssh -L`): a connection of its own upstream,
  // so it does not take the console's.
  if (req.kind == ChannelKind::tunnel)
    return std::make_unique<pgwire::PgWireExecutor>(target_, *cred_, *req.gate, cancel_keys_,
                                                    [this](int fd, bool on) { watch_wire(fd, on); });
  if (in_use_.use_count() > 1) return error = "one SQL channel at a time per session; close the other first", nullptr;
  if (!conn_->ok()) return error = "the connection to the database was lost", nullptr;
  return std::make_unique<OwnedPgExecutor>(in_use_, *conn_, target_, req, *req.gate,
                                           [this](bool on) { want_reads(on); });
}

void PgTargetConnection::want_reads(bool on) {
  if (!event_) return;
  if (on && watched_fd_ < 0 && conn_->socket() >= 0) {
    watched_fd_ = conn_->socket();
    ssh_event_add_fd(event_, watched_fd_, POLLIN, &on_readable, this);
  } else if (!on && watched_fd_ >= 0) {
    ssh_event_remove_fd(event_, watched_fd_);
    watched_fd_ = -1;
  }
}

void PgTargetConnection::watch_wire(int fd, bool on) {
  if (on && !wire_fds_.count(fd)) {
    wire_fds_[fd] = true;
    if (event_) ssh_event_add_fd(event_, fd, POLLIN, &on_readable, this);
  } else if (!on && wire_fds_.count(fd)) {
    wire_fds_.erase(fd);
    if (event_) ssh_event_remove_fd(event_, fd);
  }
}

void PgTargetConnection::attach(ssh_event ev) {
  detach();
  event_ = ev;
  for (const auto& [fd, on] : wire_fds_) ssh_event_add_fd(event_, fd, POLLIN, &on_readable, this);
}

void PgTargetConnection::detach() {
  want_reads(false);
  if (event_)
    for (const auto& [fd, on] : wire_fds_) ssh_event_remove_fd(event_, fd);
  event_ = nullptr;
}

}  // namespace bastion
