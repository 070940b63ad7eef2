// The one path every decision of a channel takes, for the channel's own
// command (exec, shell, subsystem, tunnel) and for each command a source
// inside the channel submits (SQL statements, kubectl invocations, API
// requests): decide -> recording markers -> audit row -> log -> hold for
// approval, refuse, or install the output masks. Commands held for approval
// wait here as PendingApprovals until they are decided or cancelled.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "approvals/pending_approval.h"
#include "audit/audit_store.h"
#include "config/config.h"
#include "filters/mask_patterns.h"
#include "filters/output_filter.h"
#include "policy/command_gate.h"
#include "session/channel_recording.h"

namespace bastion {

class Session;

// What a decision covers, which decides what the gate does besides the
// audit row.
enum class GateScope {
  channel,  // the channel's own command: masks for the whole channel; a review holds the channel
  command,  // a command inside the channel: masks until command_ended(); a review holds the command
  request,  // an API request of a running command: no masks, never held; only refusals are marked
};

// What the gate shows the channel's user.
class ChannelMessages {
 public:
  virtual ~ChannelMessages() = default;
  virtual void notice(const std::string& text) = 0;
  // The held request's status line, rewritten in place; final_line ends it.
  virtual void status_line(const std::string& line, bool final_line) = 0;
};

// Why a held request ends before it was decided.
enum class CancelCause {
  requester,  // Ctrl-C, the client closed the held channel, or the source gave up the command
  left,       // the requester's channel or session went away
};

class ChannelGate : public CommandGate {
 public:
  ChannelGate(Session& s, int channel, ChannelRecording& recording, OutputPipeline& output,
              ChannelMessages& messages);
  ~ChannelGate() override;
  ChannelGate(const ChannelGate&) = delete;
  ChannelGate& operator=(const ChannelGate&) = delete;

  // The target the channel's commands are decided for (set once it is known).
  void set_target(const TargetConfig& t, bool tty) {
    target_ = &t;
    tty_ = tty;
  }
  // The one path: marks, audits, logs and applies `d` for `req`. Fails
  // closed: a command whose audit row cannot be written does not run (the
  // channel scope reports it as command_id < 0 and refuses the channel).
  GateResult pass(const CommandRequest& req, Decision d, GateScope scope);
  // An audit row alone, for what the bastion refuses or runs itself before
  // any policy decision (recording unavailable, reserved targets).
  int64_t audit_only(const std::string& kind, const std::string& text, const Decision& d);
  // Finishes an audit row: stamps ended_at and queues it for flush_ends
  // (the channel flushes once per pass, before output reaches the client,
  // and when it closes; the destructor flushes what is left).
  void end_row(CommandEnd e);
  bool ends_pending() const { return !pending_ends_.empty(); }
  std::size_t ends_pending_count() const { return pending_ends_.size(); }
  // When the oldest queued end row was queued (monotonic seconds).
  double oldest_end_at() const { return oldest_end_at_; }
  // The queued end rows and `checkpoint` (may be null) in one transaction;
  // a failure is logged and in `error` (the rows stay unended, as if the
  // bastion had stopped: the store shows them interrupted).
  bool flush_ends(const RecordingCheckpoint* checkpoint, std::string& error);

  struct Held {
    ApprovalOutcome outcome;
    GateResult result;
  };
  // A held request: nullopt while it waits (the status line is shown once a
  // second); then its outcome and the result (allowed: passed again, with the
  // approver's reason; otherwise refused).
  std::optional<Held> poll_held(int64_t review_id);
  void cancel(int64_t review_id, CancelCause cause);
  void cancel_all(CancelCause cause);

  // CommandGate: commands inside the channel.
  GateResult submit(const CommandRequest& req) override;
  GateResult refuse(const CommandRequest& req, const std::string& reason) override;
  std::optional<GateResult> poll_review(int64_t review_id) override;
  void cancel_review(int64_t review_id) override;
  void command_ended(int64_t command_id, const CommandOutcome& outcome) override;
  GateResult submit_request(const CommandRequest& req) override;
  void request_ended(int64_t command_id, const CommandOutcome& outcome) override;
  CommandRequest request(const std::string& kind, const std::string& text) const override;
  const std::string& mask_key() const override;

 private:
  struct Waiting {
    std::unique_ptr<PendingApproval> approval;
    Decision decision;
    CommandRequest command;
    GateScope scope;
  };
  GateResult decide(const CommandRequest& req, GateScope scope);
  // The steps of pass(): markers and audit row; then hold, refusal or masks.
  GateResult record(const CommandRequest& req, Decision d, GateScope scope);
  void apply(GateResult& g, const CommandRequest& req, GateScope scope);
  void hold(GateResult& g, const CommandRequest& req, GateScope scope);
  GateResult approved(Waiting w);
  void log_decision(const CommandRequest& req, const Decision& d) const;
  // A statement's (results: its rows and masked columns) or an API request's end row.
  CommandEnd statement_end(int64_t command_id, const CommandOutcome& o, bool results) const;

  Session& s_;
  int channel_;
  ChannelRecording& recording_;
  OutputPipeline& output_;
  ChannelMessages& messages_;
  const TargetConfig* target_ = nullptr;  // the session's config snapshot owns it
  bool tty_ = false;
  std::map<int64_t, Waiting> waiting_;
  std::vector<CommandEnd> pending_ends_;
  MaskPatternCache mask_patterns_;  // a policy masks most commands alike
  double oldest_end_at_ = 0;
};

// The user-facing reason a decision refuses: the policy's reason, or for a
// review that cannot be held, "approval required[: reason]".
std::string refusal_reason(const Decision& d);

}  // namespace bastion
