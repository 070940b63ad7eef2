// Remote host targets: the bastion is an SSH client of the target's sshd,
// authenticating with the credential from the config and verifying the
// target's host key strictly against known_hosts (never trust on first use).
#pragma once
#include <memory>
#include <string>

#include "common/ssh_handles.h"
#include "config/config.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/ssh/upstream_hold.h"
#include "targets/target.h"
#include "targets/target_kind.h"

namespace bastion {

// The target credential from the text held in the config (read at load, so a
// changed or deleted file on disk matters only after a reload): the private
// key, with the certificate copied in when one is configured. Errors name
// the files, never their content.
bool import_identity(const SshCredential& c, SshKey& key, std::string& error);

class SshTargetConnection : public TargetConnection {
 public:
  // Connects and authenticates as `cred` (one of t's credentials; blocking,
  // bounded by connect_timeout): with its key, or with a certificate minted
  // for `ctx` when it has a CA. Null + a user-presentable error on failure.
  static std::unique_ptr<SshTargetConnection> connect(const TargetConfig& t, const SshCredential& cred,
                                                      const ConnectContext& ctx, std::string& error);
  ~SshTargetConnection() override;

  std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) override;

  // The session's event loop polls this upstream session too (except while
  // a channel holds it: UpstreamHold).
  void attach(ssh_event ev) override;
  void detach() override;
  bool connected() const override;
  bool busy() const override { return hold_->members() > 0; }

 private:
  explicit SshTargetConnection(SshSession s, std::string name);
  void poll_in();   // into the wanted event, unless held
  void poll_out();  // out of the event it is in
  SshSession session_;
  std::string name_;
  ssh_event wanted_ = nullptr;  // the event it belongs to (attach)
  ssh_event event_ = nullptr;   // the event it is in now
  std::shared_ptr<UpstreamHold> hold_;
};

}  // namespace bastion
