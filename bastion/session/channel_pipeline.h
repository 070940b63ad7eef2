// One client session channel, end to end: its requests are collected
// (ChannelRequests) while it is larval; then its command goes through the
// channel's gate (ChannelGate: decision, markers, audit row, approval) and is
// started on the target; output flows target -> filters -> sinks (client,
// recording, counters) and input flows client -> target, both under flow
// control.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "common/ssh_handles.h"
#include "filters/output_filter.h"
#include "session/channel_gate.h"
#include "session/channel_recording.h"
#include "session/channel_requests.h"
#include "sinks/client_sink.h"
#include "targets/target.h"

namespace bastion {

class Session;
class TargetPickerExecutor;

// Exit statuses the bastion itself reports (documented in bastiond(8)).
constexpr int kExitAccessRefused = 1;
constexpr int kExitPolicyDenied = 126;
constexpr int kExitBastionError = 255;

// What a finished channel adds to its session's totals (the session's audit row).
struct ChannelTotals {
  uint64_t bytes_in = 0;   // client -> target
  uint64_t bytes_out = 0;  // target -> client
  std::optional<int> exit_status;
  std::string end_reason;  // completed | client closed | why the bastion ended or refused it
};

class ChannelPipeline : private ChannelRequests::Handler, private ChannelMessages {
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
  void open_tunnel(const std::string& destination) { requests_.open_tunnel(destination); }
  bool done() const { return state_ == State::done; }
  // A done channel whose CLOSE the client has not answered (the session
  // keeps it, see ClosingChannels); null otherwise. Called before release.
  SshChannel take_unanswered();
  // Done, its CLOSE sent and not answered yet, still held here.
  bool awaiting_answer() const { return done() && ch_ && close_sent_ && !requests_.close_received(); }
  bool running() const { return state_ == State::running; }
  // A message from the bastion to this channel's user (also recorded).
  void notice(const std::string& text) override;
  // The bastion ends this channel: message, exit status 255, close.
  void terminate(const std::string& text, const std::string& reason);
  std::optional<int> exit_status() const { return final_status_; }
  bool holding_output() const { return pipeline_.holding(); }
  // Client input arrived after this channel last read (a later libssh call
  // processed it): the loop must pass again before it sleeps, as the socket
  // no longer shows it.
  bool input_arrived_after_read() const {
    return state_ == State::running && exec_ && !closing_ && requests_.arrivals() != arrivals_at_read_;
  }
  // The same for the target's side: output, an exit or a lost connection
  // its executor has not looked at (while step() would pump it: the client
  // takes output and has not closed).
  bool output_arrived_after_pump() const {
    return state_ == State::running && exec_ && !closing_ && !client_.full() && !requests_.close_received() &&
           exec_->changed_since_pump();
  }
  // How soon this channel must be stepped again although nothing arrived
  // (its executor waits for a settling echo, an approval is polled, output
  // waits for the client, the recording owes a checkpoint); nullopt: only
  // when something arrives.
  std::optional<int> wants_wakeup_ms() const;
  // The session goes to sleep: buffers a burst grew are given back.
  void trim() {
    client_.trim();
    recording_.trim();
    if (input_queue_.empty()) std::string().swap(input_queue_);
  }
  const std::string& end_reason() const { return end_reason_; }
  // The target this channel's commands go to, once known ("" before).
  const std::string& target_name() const;

 private:
  enum class State { larval, start_pending, waiting, running, done };

  // ChannelRequests::Handler
  void window_changed(int cols, int rows) override;
  void signal(const std::string& name) override;
  bool larval() const override { return state_ == State::larval; }
  // ChannelMessages
  void status_line(const std::string& line, bool final_line) override;

  void start();
  void launch();                              // connect and run an allowed command
  void start_builtin(const TargetConfig& t);  // approvals@ / access@ / audit@
  void start_audit_login();                   // audit@: the auditors' web login
  void unknown_target();  // usage and the usable targets, or the picker (a pty, no command)
  // A subsystem request: on a connection whose login named no target its
  // name picks the channel's target (or lists them); on one whose login
  // named a target, one naming another is refused.
  enum class Route { as_requested, routed, handled };
  Route route_subsystem(const TargetConfig*& t);
  void list_targets(bool json);  // subsystem `targets` / `targets --json`
  void check_picker();    // the picker is done: start its target, or refuse
  bool wait_for_approval();                   // true once decided (or cancelled)
  bool open_recording(std::string& error);
  void refuse(const std::string& message, int status, const std::string& reason);
  bool pump_input();
  void command_ended();  // the executor is done: say why, then close once drained
  bool read_client_input(std::size_t cap);  // libssh's whole buffer: to the target, the rest queued
  bool feed_input(std::string_view data);   // to the target (and the recording)
  bool input_queued() const { return input_queue_off_ < input_queue_.size(); }
  bool drain_to_client();
  void check_recording();
  // Stores the gate's queued end rows and, with_checkpoint, the recording's
  // due checkpoint, in one transaction. `may_wait`: end rows the executor
  // lets wait (Executor::audit_batch_delay) stay queued until due.
  void flush_audit(bool with_checkpoint, bool may_wait = false);
  double audit_batch_delay() const;
  // When queued end rows must be written (monotonic seconds), if any are queued.
  std::optional<double> ends_due_at() const;
  static constexpr std::size_t kMaxWaitingEnds = 512;
  void finish(const ExitInfo& exit, const std::string& reason);
  void end_audit(const ExitInfo& exit);

  // What the channel runs: as requested, or, for a subsystem that chose the
  // target, what `ssh TARGET@bastion` with no command (or `-s sftp`) asks.
  ChannelKind kind() const { return routed_ ? routed_->kind : requests_.kind(); }
  const char* kind_name() const { return channel_kind_name(kind()); }
  const std::string& text() const { return routed_ ? routed_->text : requests_.text(); }
  const std::optional<PtyRequest>& pty() const { return requests_.pty(); }

  Session& s_;
  SshChannel ch_;
  int index_;
  State state_ = State::larval;

  const TargetConfig* target_cfg_ = nullptr;  // the session's config snapshot owns it
  struct Routed {
    ChannelKind kind;
    std::string text;
  };
  std::optional<Routed> routed_;
  ChannelRecording recording_;
  ClientSink client_;
  ByteCounterSink out_count_;
  OutputPipeline pipeline_;
  ChannelGate gate_{s_, index_, recording_, pipeline_, *this};
  int64_t review_id_ = 0;  // the approval request this channel waits on
  bool cancel_requested_ = false;  // a signal arrived while held (no pty: the client's Ctrl-C)
  // Declared before exec_: the executor may point into the connection.
  std::shared_ptr<TargetConnection> conn_;
  std::unique_ptr<Executor> exec_;
  TargetPickerExecutor* picker_ = nullptr;  // exec_, while the user picks a target

  double last_output_ = 0;
  uint64_t bytes_in_ = 0;
  int64_t command_id_ = 0;
  bool eof_forwarded_ = false;
  bool overran_handled_ = false;  // requests_.overran() acted on
  double client_closed_at_ = 0;   // the client closed with input still queued (monotonic)
  // Client input read from libssh that the target could not take yet
  // (from input_queue_off_ on). libssh reads are whole (see pump_input), so
  // this holds at most one receive window.
  std::string input_queue_;
  std::size_t input_queue_off_ = 0;
  uint64_t arrivals_at_read_ = 0;  // requests_.arrivals() when pump_input ended
  // requests_.arrivals() when a read last found libssh's buffer empty
  // (none yet: read once).
  uint64_t arrivals_at_empty_ = UINT64_MAX;
  bool closing_ = false;  // output drained -> send exit + close
  bool close_sent_ = false;  // finish() sent the client our CLOSE
  ExitInfo closing_exit_;
  std::optional<int> final_status_;
  std::string end_reason_;
  // Last: its callbacks are removed first when the channel is destroyed.
  ChannelRequests requests_{s_, ch_.get(), *this};
};

}  // namespace bastion
