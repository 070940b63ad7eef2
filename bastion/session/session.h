// A bastion session: one authenticated client connection, its channels, and
// one onward connection per target its channels use (one target when the
// login named it; any usable target per channel, chosen by a subsystem
// request, when it named none). Runs on its own thread with one libssh event
// polling the client and every target.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "audit/audit_store.h"
#include "common/ssh_handles.h"
#include "common/wake_list.h"
#include "config/config.h"
#include "policy/policy.h"
#include "policy/policy_chain.h"
#include "session/channel_pipeline.h"
#include "session/closing_channels.h"
#include "session/identity.h"
#include "session/server_context.h"
#include "session/session_upstream.h"
#include "targets/target.h"

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
  bool holding_output() const;
  // How long the event loop may sleep when nothing moved: until the nearest
  // deadline (session_wakeup.h), so an idle session costs no CPU.
  int idle_poll_ms() const;
  // A direct-tcpip channel: accepted (and started) only on a target whose
  // kind takes tunnels, to TARGET:PORT (the kind's port), for the user's own
  // client. Null + why otherwise.
  ssh_channel open_tunnel(ssh_message msg, std::string& refusal);
  // The token and TLS identity users' own clients meet on this target.
  ClientAccess client_access(const TargetConfig& t) const;
  // When bastiond runs as root: this session's own uid for sandboxed
  // children (taken on first use). Nullopt when not root; false when the
  // pool is exhausted.
  bool sandbox_uid(std::optional<uint32_t>& uid);
  // Logs and audits a request the bastion refuses outright (e.g. forwarding).
  void refuse_request(const std::string& kind, const std::string& what, const std::string& reason);
  // Refusals queued while no channel ran; a channel that starts running takes them.
  bool notices_pending() const { return !pending_notices_.empty(); }
  std::vector<std::string> take_pending_notices() { return std::exchange(pending_notices_, {}); }

  // For channel pipelines.
  const Config& config() const { return *cfg_; }
  const Identity& identity() const { return identity_; }
  const std::string& id() const { return id_; }
  AuditStore& audit() { return ctx_.audit(); }
  ServerContext& context() { return ctx_; }
  // Posts approval events to the configured webhook; null when there is none.
  std::function<void(const ApprovalRequest&, const std::string&)> webhook() {
    Webhook* w = ctx_.webhook();
    if (!w) return nullptr;
    return [w](const ApprovalRequest& r, const std::string& e) { w->post(r, e); };
  }
  recorder::Flusher& flusher() { return ctx_.flusher(); }
  const std::string& mask_key() const { return ctx_.mask_key(); }
  // The policy for target t (each target its own chain), rebuilt when the config's policy
  // files changed (so a reload applies from the next command). Null + error
  // when a policy cannot be built.
  Policy* policy(const TargetConfig& t, std::string& error);
  // Runs on_session once per target (while the session has channels to it)
  // and settles the credential it chose; false + the line for the user when
  // it denies or the credential is not held.
  bool admit(Policy& policy, const TargetConfig& t, bool tty, std::string& refusal);
  SessionRequest session_request(const TargetConfig& t, bool tty) const;
  // Whether input is recorded on a channel to `target` (its on_session options).
  bool record_input(const std::string& target) const;
  // On a connection whose channels choose their targets, the row's details
  // name `target` (a sessions row names one target; its commands rows each
  // name their own).
  void audit_decision(int channel, const std::string& kind, const std::string& text, const Decision& d,
                      const std::string& recording, int64_t& id, const std::string& details = "",
                      const TargetConfig* target = nullptr);
  // The target named by the SSH user, or null with a user-facing reason.
  const TargetConfig* target_config(std::string& refusal);
  // A target a channel chose by its subsystem name, on a connection whose
  // login named none: approvals/access, or a configured target the identity
  // may use in both this session's configuration and the live one, within
  // limits.max_targets_per_session. Null + the user's line otherwise.
  const TargetConfig* channel_target(const std::string& name, std::string& refusal);
  // NAME is a reserved or configured target name.
  bool names_target(const std::string& name) const;
  // A channel on this connection went to a target it chose (admitted).
  bool has_channel_targets() const;
  // The login name is no target (`ssh bastion` sends the local user name):
  // neither reserved nor configured, and no target was picked yet.
  bool unknown_target() const;
  // The targets this identity may use now, sorted: those whose allow names
  // one of its principals or that it holds an access grant for, and whose
  // session decision (global then target policy, on_session) lets it in
  // with a credential the target holds, as admit() would. Nothing here is
  // audited; reserved names are not targets.
  std::vector<std::string> usable_targets(bool tty);
  // The picker's choice: the session goes on as `ssh NAME@bastion` would.
  // Refused unless the login named no target and NAME is usable now; the
  // sessions row names NAME at once, and when that audit write fails the
  // pick is refused (fail closed).
  // Also refused once a channel chose its own target on this connection:
  // the pick retargets the whole session, so it would move those channels.
  enum class Pick { picked, refused, audit_failed };
  Pick choose_target(const std::string& name, bool tty);
  // Connects to t on first use (and again after the connection was lost). The
  // caller shares ownership: keep it for as long as an executor uses it.
  std::shared_ptr<TargetConnection> target(const TargetConfig& t, std::string& error);
  // Activity on a channel (to `target`, when it has one).
  void touch(const std::string& target = {});
  // A channel ended: its bytes, exit status and reason go into the session's audit row.
  void channel_finished(const ChannelTotals& totals);
  // The bastion has ended this session (expiry, grant, limits, shutdown).
  bool ended() const { return !end_reason_.empty(); }

 private:
  const TargetConfig* target_config(const std::string& name, std::string& refusal);
  // Why access to `name` (an upstream) ended under `cur`: {line, reason}, or empty.
  std::pair<std::string, std::string> access_withdrawn(const Config& cur, const std::string& name,
                                                       const SessionUpstream& up) const;
  // Access to one target ended: on a connection of many targets only its
  // channels end; otherwise the session does.
  void end_target(const std::string& name, const std::string& message, const std::string& reason);
  void check_grants(int64_t now);
  // Upstreams no channel uses any more are closed (on a connection of many targets).
  void prune_upstreams();
  // usable_targets() against one configuration.
  std::vector<std::string> usable_targets_in(const Config& cfg, bool tty);
  void check_deadlines();
  // On a connection shared between targets: a target whose on_session set an
  // idle timeout has its channels ended when they alone stay idle that long.
  void check_target_idle(double mono);
  static int on_wake(socket_t fd, int revents, void* userdata);
  void recheck_access(const Config& cur, int64_t now);
  // Why `cur` no longer accepts this certificate (empty: it does).
  std::string certificate_refusal(const Config& cur, int64_t now) const;
  void end_all(const std::string& message, const std::string& reason);
  template <typename F>
  void for_each_channel(F&& f);
  template <typename Pred>
  void release_channels(Pred&& which);
  bool may_open_channel() const;

  ServerContext& ctx_;
  std::shared_ptr<const Config> cfg_;
  ssh_session client_;  // owned by the Connection; outlives the session
  Identity identity_;
  std::string id_;
  TargetConfig builtin_approvals_, builtin_access_, builtin_audit_;  // the reserved targets
  std::unique_ptr<Policy> allow_all_;
  bool picked_ = false;      // the target came from the picker, not the login name
  // The deadlines' options: the strictest any admitted target's on_session set.
  SessionOptions options_;
  ssh_event ev_ = nullptr;
  std::unique_ptr<WakeList::Waker> waker_;  // in ev_ while run() runs
  // Declared before the target: given back only after the target (and every
  // child it ran as this uid) is gone.
  std::optional<IdLease> sandbox_uid_;
  // Declared before channels: channels (and their upstream channels) must be
  // released before the upstream sessions. By target name.
  std::map<std::string, SessionUpstream> upstreams_;
  std::vector<std::unique_ptr<ChannelPipeline>> channels_;
  ClosingChannels closing_;  // done channels whose client has not answered our CLOSE
  int next_index_ = 0;
  double started_ = 0;
  int64_t started_unix_ = 0;
  double last_activity_ = 0;
  double last_moved_ = 0;  // monotonic: a step last moved bytes (idle_poll_ms settles after it)
  double ended_at_ = 0;
  int refused_requests_ = 0;
  std::shared_ptr<const Config> seen_config_;  // the config last checked against
  bool expiry_warned_ = false;
  uint64_t instance_generation_ = 0;  // the server's when this session started
  std::string end_reason_;
  std::vector<std::string> pending_notices_;  // at most kMaxPendingNotices
  std::string deferred_end_;  // set inside a libssh callback; the loop ends the channels
  std::string channel_reason_;  // why the last channel was refused, if it was
  std::optional<int> last_exit_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  LiveSessions::Registration live_;  // listed for `bastionctl status` and the metrics while it exists
};

}  // namespace bastion
