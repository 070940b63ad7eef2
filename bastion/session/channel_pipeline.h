// One client session channel, end to end: its requests (pty, env, exec,
// shell, subsystem, window-change, signal) are taken while the channel is
// larval; then the command is decided (policy), audited, recorded and
// started on the target; output flows target -> filters -> sinks (client,
// recorder, counters) and input flows client -> target, both under flow
// control.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <libssh/callbacks.h>

#include "common/ssh_handles.h"
#include "config/config.h"
#include "approvals/approval.h"
#include "audit/audit_store.h"
#include "filters/output_filter.h"
#include "policy/command_gate.h"
#include "recorder/asciicast_writer.h"
#include "sinks/client_sink.h"
#include "sinks/recorder_sink.h"
#include "targets/target.h"

namespace bastion {

class Session;

// Exit statuses the bastion itself reports (documented in bastiond(8)).
constexpr int kExitAccessRefused = 1;
constexpr int kExitPolicyDenied = 126;
constexpr int kExitBastionError = 255;

class ChannelPipeline : public CommandGate {
 public:
  ChannelPipeline(Session& s, ssh_channel ch, int index);
  ~ChannelPipeline() override;
  ChannelPipeline(const ChannelPipeline&) = delete;
  ChannelPipeline& operator=(const ChannelPipeline&) = delete;

  // One pass of the event loop. Returns true when bytes moved, so the loop
  // polls again without sleeping.
  bool step();
  // A direct-tcpip channel the session accepted (kinds that take tunnels):
  // started at once, without channel requests.
  void open_tunnel(const std::string& destination);
  bool done() const { return state_ == State::done; }
  bool running() const { return state_ == State::running; }
  // A message from the bastion to this channel's user (also recorded).
  void notice(const std::string& text);
  // The bastion ends this channel: message, exit status 255, close.
  void terminate(const std::string& text, const std::string& reason);
  std::optional<int> exit_status() const { return final_status_; }
  bool holding_output() const { return pipeline_.holding(); }
  const std::string& end_reason() const { return end_reason_; }

  // CommandGate: statements inside this channel (SQL).
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
  enum class State { larval, start_pending, waiting, running, done };

  static int cb_pty(ssh_session, ssh_channel, const char* term, int w, int h, int, int, void* self);
  static int cb_shell(ssh_session, ssh_channel, void* self);
  static int cb_exec(ssh_session, ssh_channel, const char* cmd, void* self);
  static int cb_subsystem(ssh_session, ssh_channel, const char* name, void* self);
  static int cb_env(ssh_session, ssh_channel, const char* k, const char* v, void* self);
  static int cb_window(ssh_session, ssh_channel, int w, int h, int, int, void* self);
  static void cb_signal(ssh_session, ssh_channel, const char* sig, void* self);
  static void cb_agent(ssh_session, ssh_channel, void* self);
  static void cb_x11(ssh_session, ssh_channel, int, const char*, const char*, uint32_t, void* self);

  int request(const std::string& kind, const std::string& text);
  GateResult record_decision(const CommandRequest& req, Decision d, bool nested = false);
  void start();
  void launch(const Decision& d);                 // connect and run an allowed command
  void start_builtin(const TargetConfig& t);      // approvals@ / access@
  void begin_review(const Decision& d);           // hold the command for a human decision
  bool wait_for_review();                         // true once decided (or cancelled)
  void review_status(bool final_line);
  // Shared by held channels and held commands inside a channel.
  bool create_review(const std::string& kind, const std::string& text, const Decision& d, ApprovalRequest& r,
                     std::string& refusal);
  void show_review_status(const ApprovalRequest& r, bool final_line);
  // The request's decided state, or "" while pending; consumes an approval.
  std::string review_outcome(ApprovalRequest& r, uint64_t& seen_version, int64_t& next_poll);
  bool open_recording(std::string& error);
  void refuse(const std::string& message, int status, const std::string& reason);
  bool pump_input();
  bool drain_to_client();
  bool check_recording();
  void finish(const ExitInfo& exit, const std::string& reason);
  void end_audit(const ExitInfo& exit);
  void write_command_end(CommandEnd& e);  // stamps ended_at, writes, logs a failure

  Session& s_;
  SshChannel ch_;
  int index_;
  ssh_channel_callbacks_struct cb_{};
  State state_ = State::larval;

  std::optional<PtyRequest> pty_;
  bool pty_refused_ = false;  // the certificate lacks permit-pty
  std::map<std::string, std::string> env_;
  std::string kind_, text_;

  const TargetConfig* target_cfg_ = nullptr;
  std::optional<ApprovalRequest> review_;  // the request this channel waits on
  Decision review_decision_;
  uint64_t review_seen_version_ = 0;
  int64_t review_next_poll_ = 0, review_next_status_ = 0;
  struct HeldCommand {
    ApprovalRequest request;
    Decision decision;
    CommandRequest command;
    uint64_t seen_version = 0;
    int64_t next_poll = 0, next_status = 0;
  };
  std::map<int64_t, HeldCommand> held_;  // commands inside the channel waiting for approval  // the session's config snapshot owns it
  // Declared before exec_: the executor may point into the connection.
  std::shared_ptr<TargetConnection> conn_;
  std::unique_ptr<Executor> exec_;
  std::unique_ptr<recorder::AsciicastWriter> rec_;
  std::string rec_path_;
  std::string rec_state_ = "unrecorded";
  ClientSink client_;
  RecorderSink rec_sink_{nullptr};
  ByteCounterSink out_count_;
  OutputPipeline pipeline_;

  double last_output_ = 0;
  uint64_t bytes_in_ = 0;
  int64_t command_id_ = 0;
  bool eof_forwarded_ = false;
  bool closing_ = false;  // output drained -> send exit + close
  ExitInfo closing_exit_;
  std::optional<int> final_status_;
  std::string end_reason_;
};

}  // namespace bastion
