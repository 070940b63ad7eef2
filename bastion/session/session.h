// A bastion session: one authenticated client connection, its channels, and
// at most one onward connection to its target. Runs on its own thread with
// one libssh event polling both the client and the target.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_store.h"
#include "common/ssh_handles.h"
#include "config/config.h"
#include "policy/policy.h"
#include "session/channel_pipeline.h"
#include "session/identity.h"
#include "session/server_context.h"
#include "targets/ssh/ssh_target.h"

namespace bastion {

class Session {
 public:
  Session(ServerContext& ctx, std::shared_ptr<const Config> cfg, ssh_session client,
          Identity identity, std::string id);
  ~Session();

  // Serves channels until the client leaves or the bastion ends the session.
  void run(ssh_event ev);
  // Called from libssh's channel-open callback.
  ssh_channel open_channel();
  // Logs and audits a request the bastion refuses outright (e.g. forwarding).
  void refuse_request(const std::string& kind, const std::string& what, const std::string& reason);

  // For channel pipelines.
  const Config& config() const { return *cfg_; }
  const Identity& identity() const { return identity_; }
  const std::string& id() const { return id_; }
  AuditStore& audit() { return ctx_.audit(); }
  recorder::Flusher& flusher() { return ctx_.flusher(); }
  Policy& policy() { return *policy_; }
  // The target named by the SSH user, or null with a user-facing reason.
  const TargetConfig* target_config(std::string& refusal) const;
  // Connects on first use.
  TargetConnection* target(std::string& error);
  void touch();

 private:
  void check_deadlines();
  void end_all(const std::string& message, const std::string& reason);

  ServerContext& ctx_;
  std::shared_ptr<const Config> cfg_;
  ssh_session client_;  // owned by the Connection; outlives the session
  Identity identity_;
  std::string id_;
  std::unique_ptr<Policy> policy_;
  ssh_event ev_ = nullptr;
  // Declared before channels: channels (and their upstream channels) must be
  // released before the upstream session.
  std::unique_ptr<SshTargetConnection> target_;
  std::vector<std::unique_ptr<ChannelPipeline>> channels_;
  int next_index_ = 0;
  double started_ = 0;
  double last_activity_ = 0;
  bool expiry_warned_ = false;
  std::string end_reason_;
  std::string channel_reason_;  // why the last channel was refused, if it was
  std::optional<int> last_exit_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  friend class ChannelPipeline;
};

}  // namespace bastion
