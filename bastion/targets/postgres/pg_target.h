// PostgreSQL targets: one libpq connection per bastion session (so a
// transaction spans statements and channels in turn), and a PgExecutor per
// channel that runs the SQL console, script or exec line over it.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "targets/postgres/postgres_settings.h"
#include "targets/postgres/pg_connection.h"
#include "targets/postgres/wire/pg_wire_cancel_keys.h"
#include "targets/target.h"

namespace bastion {

class PgTargetConnection : public TargetConnection {
 public:
  // Connects as `cred`, the credential the session's policy chose.
  static std::unique_ptr<PgTargetConnection> connect(const TargetConfig& t, const PostgresCredential& cred,
                                                     std::string& error);
  ~PgTargetConnection() override;

  std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) override;
  void attach(ssh_event ev) override;
  void detach() override;
  bool connected() const override { return conn_->ok(); }

 private:
  PgTargetConnection(std::unique_ptr<PgConnection> c, const TargetConfig& t, const PostgresCredential& cred)
      : conn_(std::move(c)), target_(t), cred_(std::make_unique<PostgresCredential>(cred)) {
    target_.credentials.clear();  // the copy needs no other secrets
  }
  void want_reads(bool on);
  void watch_wire(int fd, bool on);

  std::unique_ptr<PgConnection> conn_;
  TargetConfig target_;  // a copy: a reload must not change it under a running session
  ssh_event event_ = nullptr;
  int watched_fd_ = -1;
  // Held by the running executor: a connection serves one channel at a time.
  std::shared_ptr<int> in_use_ = std::make_shared<int>(0);
  // The credential the session's policy chose: each wire tunnel (`ssh -L`)
  // connects again as it, and their cancel keys are this session's only.
  std::unique_ptr<const PostgresCredential> cred_;
  pgwire::CancelKeys cancel_keys_;
  std::map<int, bool> wire_fds_;  // tunnel sockets the session loop watches
};

}  // namespace bastion
