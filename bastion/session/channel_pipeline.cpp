#include "session/channel_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "approvals/approvals_executor.h"
#include "common/display_escape.h"
#include "common/log.h"
#include "common/ssh_channel_read.h"
#include "common/time_util.h"
#include "session/session.h"
#include "session/target_picker_executor.h"
#include "targets/target_kind.h"
#include "web/audit_login.h"

namespace bastion {
namespace {

constexpr std::size_t kIoChunk = 32768;
// How long input a client sent before closing its channel may wait for the target.
constexpr double kClosedInputSeconds = 5;
constexpr std::size_t kPumpBudget = 256 * 1024;
constexpr double kHoldRelease = 0.05;  // seconds of quiet before held masked output is shown
constexpr int kPollMs = 200;  // what waits on a timer rather than a packet is stepped this often

}  // namespace

ChannelPipeline::ChannelPipeline(Session& s, ssh_channel ch, int index) : s_(s), ch_(ch), index_(index) {
  pipeline_.add_sink(&client_);
  pipeline_.add_sink(&recording_.sink());
  pipeline_.add_sink(&out_count_);
}

ChannelPipeline::~ChannelPipeline() {
  if (state_ != State::done) finish(ExitInfo{}, end_reason_.empty() ? "session ended" : end_reason_);
}

void ChannelPipeline::window_changed(int cols, int rows) {
  if (exec_) exec_->window_change(cols, rows);
  recording_.resize(cols, rows);
}

void ChannelPipeline::signal(const std::string& name) {
  // Held for review, without a pty a signal is how a client says Ctrl-C:
  // the next wait step cancels and says so on stderr before the exit status.
  if (state_ == State::waiting && review_id_ && (name == "INT" || name == "TERM" || name == "QUIT" || name == "HUP")) {
    cancel_requested_ = true;
    return;
  }
  if (exec_) exec_->send_signal(name);
}

void ChannelPipeline::notice(const std::string& raw) {
  if (state_ == State::done) return;
  // Notices quote reasons, names and errors that users, policies and
  // targets control: one escaped line, whatever they hold.
  const std::string text = display_escape(raw);
  // A tunnel carries a protocol, not a terminal: its executor says it in
  // its own protocol (or not at all); the recording gets it either way.
  if (kind() == ChannelKind::tunnel) {
    if (exec_) exec_->show_notice(text);
    return pipeline_.notice(Stream::record, text + "\n");
  }
  if (pty()) pipeline_.notice(Stream::out, "\r\n" + text + "\r\n");
  else pipeline_.notice(Stream::err, text + "\n");
}

void ChannelPipeline::status_line(const std::string& line, bool final_line) {
  // One line, rewritten in place; a newline once decided.
  if (kind() == ChannelKind::tunnel) {
    if (exec_) exec_->show_notice(display_escape(line));
    if (final_line) pipeline_.notice(Stream::record, display_escape(line) + "\n");
    return;
  }
  if (pty()) pipeline_.notice(Stream::out, "\r\x1b[K" + line + (final_line ? "\r\n" : ""));
  else pipeline_.notice(Stream::err, "\r" + line + (final_line ? "\n" : ""));
}

bool ChannelPipeline::open_recording(std::string& error) {
  const Config& cfg = s_.config();
  const ChannelRecording::Place place{.dir = (std::filesystem::path(cfg.recordings_dir()) / utc_date()).string(),
                                      .session_id = s_.id(),
                                      .channel = index_};
  const ChannelRecording::Header header{
      .pty = pty(),
      .title = display_escape(s_.identity().key_id + " -> " + target_name()),
      .command = kind() == ChannelKind::exec ? text() : ""};
  const ChannelRecording::Ledger ledger{.store = &s_.audit(), .signer = s_.context().audit_signer()};
  if (!recording_.open(place, header, cfg.limits.recording_max_bytes, s_.flusher(), ledger, error))
    return s_.context().metrics().recording_failure(), false;
  if (kind() == ChannelKind::exec) recording_.marker("exec: " + text());
  return true;
}

void ChannelPipeline::start() {
  const Config& cfg = s_.config();
  std::string refusal, err;
  if (s_.ended()) return refuse("bastion: this session has ended; nothing was run", kExitBastionError, "session ended");
  const TargetConfig* t = nullptr;
  // `sftp -s TARGET/sftp` sends the name as an exec command (a name with a
  // slash is a server path to sftp), so that one exec form routes as well.
  const bool sftp_exec = requests_.kind() == ChannelKind::exec && s_.unknown_target() &&
                         requests_.text().ends_with("/sftp") && requests_.text().find(' ') == std::string::npos;
  if ((requests_.kind() == ChannelKind::subsystem || sftp_exec) && !routed_) {
    const Route r = route_subsystem(t);
    if (r == Route::handled) return;
  }
  if (!t) t = s_.target_config(refusal);
  if (!t && s_.unknown_target()) return unknown_target();
  if (!t) return refuse("bastion: " + refusal, kExitAccessRefused, "access refused");
  Policy* policy = s_.policy(*t, err);
  if (!policy) {
    log_error("policy unavailable", {{"session", s_.id()}, {"error", err}});
    return refuse("bastion: the policy is unavailable; nothing was run", kExitBastionError, "policy error");
  }
  if (!s_.admit(*policy, *t, pty().has_value(), refusal))
    return refuse(refusal, kExitAccessRefused, "session denied");

  target_cfg_ = t;
  gate_.set_target(*t, pty().has_value());
  if (requests_.pty_refused()) notice("bastion: no terminal: your certificate does not permit a pty (no-pty)");
  const TargetKind* target_kind = t->builtin == BuiltinTarget::none ? &kind_of(*t) : nullptr;
  const bool per_statement = !target_kind || target_kind->commands_per_channel();
  // A subsystem the kind serves on a channel of many commands runs; other
  // subsystems there are file transfers.
  if (per_statement && kind() == ChannelKind::subsystem && !(target_kind && target_kind->serves_subsystem(text()))) {
    // The session decision row says the target was let in; this channel's row says what it was refused.
    Decision d = Decision::deny("file transfer is not available on " + t->type + " targets");
    d.hook = Decision::Hook::bastion;
    command_id_ = gate_.audit_only(kind_name(), text(), d);
    return refuse("bastion: " + d.reason, kExitAccessRefused, "subsystem refused");
  }
  if (!target_kind) return start_builtin(*t);
  CommandRequest req = gate_.request(kind_name(), text());
  ExecRequest as_started;  // what launch() will ask the target for
  as_started.kind = kind(), as_started.text = text(), as_started.pty = pty();
  req.lines_decided = target_kind->decides_lines(as_started);
  // On a database target the channel is a console or a script: each
  // statement in it is decided on its own (the gate's submit()), not the channel.
  Decision d = per_statement ? Decision::allow(kind() == ChannelKind::tunnel ? "each API request through it is decided by the policy"
                                                                  : "each command in it is decided by the policy")
                             : timed(s_.context().metrics().policy_decision(), [&] { return policy->decide(req); });
  if (per_statement) d.hook = Decision::Hook::bastion;
  if (kind() == ChannelKind::subsystem && d.verdict == Decision::Verdict::mask) {
    // sftp is a binary protocol: rewriting its bytes would corrupt files.
    d.verdict = Decision::Verdict::deny;
    d.reason = "output masking cannot apply to file transfers";
  }
  // Denied commands are recorded too: the recording shows what the user saw.
  // Tunnels carry TLS records (the proxy decides and audits each request
  // inside); file transfers carry binary: neither is a terminal to record.
  // A kind whose tunnel is a protocol proxy (postgres) records it: one
  // event per statement.
  const bool recorded = kind() != ChannelKind::subsystem &&
                        (kind() != ChannelKind::tunnel || target_kind->records_tunnels());
  // Off only while the live configuration says so too: a connection that
  // authenticated while it was off (ControlMaster) keeps its config, and a
  // reload that turned recording back on must reach its new channels.
  const bool live_off = [&] {
    const auto live = s_.context().config();
    if (!live) return false;
    const auto it = live->targets.find(t->name);
    return it != live->targets.end() && it->second.settings && it->second.settings->recording_off();
  }();
  if (recorded && t->settings && t->settings->recording_off() && live_off) {
    recording_.turn_off();
    log_info("recording off by configuration", {{"session", s_.id()}, {"target", t->name}});
  } else if (recorded && !open_recording(err)) {
    log_error("cannot open recording", {{"session", s_.id()}, {"error", err}});
    if (d.allowed() && cfg.close_on_recording_failure) {
      d = Decision::deny("recording unavailable");
      d.hook = Decision::Hook::bastion;
      command_id_ = gate_.audit_only(kind_name(), text(), d);
      return refuse("bastion: this session cannot be recorded; nothing was run", kExitBastionError,
                    "recording failed");
    }
  }
  const GateResult g = gate_.pass(req, std::move(d), GateScope::channel);
  command_id_ = g.command_id;
  if (command_id_ < 0)
    return refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
  if (g.review_id > 0) {
    review_id_ = g.review_id;
    state_ = State::waiting;
    return;
  }
  if (!g.decision.allowed()) {
    const bool unheld = g.decision.verdict == Decision::Verdict::review && kind() != ChannelKind::subsystem;
    return refuse("bastion: denied: " + g.refusal, kExitPolicyDenied, unheld ? "approval unavailable" : "policy denied");
  }
  launch();
}

const std::string& ChannelPipeline::target_name() const {
  static const std::string none;
  return target_cfg_ ? target_cfg_->name : none;
}

ChannelPipeline::Route ChannelPipeline::route_subsystem(const TargetConfig*& t) {
  const std::string& name = requests_.text();
  // `TARGET/sftp`: that host's sftp; otherwise the name is the target.
  const std::string sftp_suffix = "/sftp";
  const bool sftp = name.size() > sftp_suffix.size() && name.ends_with(sftp_suffix);
  const std::string target = sftp ? name.substr(0, name.size() - sftp_suffix.size()) : name;
  if (!s_.unknown_target()) {
    // One target per connection when the user name chose it.
    const std::string& mine = s_.identity().requested_user;
    if (target != mine && s_.names_target(target)) {
      refuse("bastion: this connection is for " + mine + "; use ssh -s bastion " + name, kExitAccessRefused,
             "subsystem refused");
      return Route::handled;
    }
    return Route::as_requested;
  }
  // OpenSSH sends the whole -s argument as the name: `ssh -s bastion 'targets --json'`.
  if (name == "targets" || name == "targets --json") {
    list_targets(name != "targets");
    return Route::handled;
  }
  if (name == "sftp") {  // `sftp bastion`: no target named
    refuse("bastion: no target named; use sftp -s TARGET/sftp bastion", kExitAccessRefused, "access refused");
    return Route::handled;
  }
  std::string refusal;
  t = s_.channel_target(target, refusal);
  if (!t) {
    // On a shared connection no sessions row names what this channel tried:
    // its own deny row does (as a refused command's would).
    Decision d = Decision::deny(refusal.starts_with("bastion: ") ? refusal.substr(9) : refusal);
    d.hook = Decision::Hook::bastion;
    command_id_ = gate_.audit_only(kind_name(), text(), d);
    refuse(refusal, kExitAccessRefused, "access refused");
    return Route::handled;
  }
  routed_ = sftp ? Routed{ChannelKind::subsystem, "sftp"} : Routed{ChannelKind::shell, ""};
  log_info("channel target", {{"session", s_.id()}, {"subsystem", name}, {"target", t->name}});
  return Route::routed;
}

void ChannelPipeline::list_targets(bool json) {
  const std::vector<std::string> usable = s_.usable_targets(pty().has_value());
  std::string out;
  if (json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& n : usable) {
      const auto it = s_.config().targets.find(n);
      a.push_back({{"name", n}, {"type", it != s_.config().targets.end() ? it->second.type : ""}});
    }
    out = a.dump() + "\n";
  } else {
    for (const auto& n : usable) out += n + "\n";
  }
  // Bastion-internal, like the reserved targets: audited, nothing reaches a target.
  Decision d = Decision::allow("target list");
  d.hook = Decision::Hook::bastion;
  command_id_ = gate_.audit_only(kind_name(), text(), d);
  if (command_id_ < 0) return refuse("bastion: the audit store is unavailable", kExitBastionError, "audit failure");
  exec_ = fixed_output_executor(out, "", 0);
  state_ = State::running;
}

void ChannelPipeline::unknown_target() {
  const bool tty = pty().has_value();
  const std::vector<std::string> usable = s_.usable_targets(tty);
  // `ssh -t bastion`: an interactive shell with nothing to run picks a target
  // (not on a shared connection whose channels chose targets of their own).
  if (tty && kind() == ChannelKind::shell && !usable.empty() && !s_.has_channel_targets()) {
    auto p = std::make_unique<TargetPickerExecutor>(usable, pty()->rows);
    picker_ = p.get();
    exec_ = std::move(p);
    state_ = State::running;
    return;
  }
  refuse("bastion: unknown target \"" + s_.identity().requested_user + "\"", kExitAccessRefused, "access refused");
  notice("bastion: usage: ssh TARGET@bastion [command]");
  std::string list;
  for (const auto& n : usable) list += (list.empty() ? "" : ", ") + n;
  notice(list.empty() ? "bastion: no target is open to you now" : "bastion: targets you may use: " + list);
}

void ChannelPipeline::check_picker() {
  const TargetPicker& p = picker_->picker();
  if (!p.done()) return;
  const std::optional<std::string> chosen = p.chosen();
  picker_ = nullptr;
  exec_.reset();
  if (!chosen) return refuse("bastion: no target chosen", kExitAccessRefused, "no target chosen");
  // Checked again: a reload or an expired grant may have closed it meanwhile.
  const Session::Pick pick = s_.choose_target(*chosen, pty().has_value());
  if (pick == Session::Pick::audit_failed)
    return refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
  if (pick != Session::Pick::picked)
    return refuse("bastion: target \"" + *chosen + "\" is not open to you now", kExitAccessRefused, "pick refused");
  Decision d = Decision::allow("chosen in the target picker");
  d.hook = Decision::Hook::bastion;
  int64_t row = 0;
  s_.audit_decision(index_, "pick", *chosen, d, "", row);
  if (row < 0)
    return refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
  notice("bastion: connecting to " + *chosen);
  // From here exactly as `ssh TARGET@bastion` with no command.
  state_ = State::start_pending;
  start();
}

void ChannelPipeline::launch() {
  std::string err;
  const double t0 = monotonic_seconds();
  conn_ = s_.target(*target_cfg_, err);
  if (!conn_)
    return refuse("bastion: " + (err.empty() ? "cannot connect to the target" : err), kExitBastionError,
                  "target unreachable");
  const double t1 = monotonic_seconds();
  ExecRequest er{.kind = kind(), .text = text(), .pty = pty(), .env = requests_.env(), .gate = &gate_,
                 .access = std::nullopt, .sandbox_uid = std::nullopt};
  const TargetKind& target_kind = kind_of(*target_cfg_);
  if (target_kind.hands_out_client_access(kind(), text())) er.access = s_.client_access(*target_cfg_);
  if (target_kind.runs_children() && !s_.sandbox_uid(er.sandbox_uid))
    return refuse("bastion: no sandbox user is free for " + target_cfg_->type + "; try again later", kExitBastionError,
                  "no sandbox uid");
  exec_ = conn_->start(er, err);
  if (!exec_)
    return refuse("bastion: " + (err.empty() ? "the target did not start the command" : err), kExitBastionError,
                  "target refused");
  const double t2 = monotonic_seconds();
  log_info("command running", {{"session", s_.id()}, {"connect_ms", std::to_string(static_cast<int>((t1 - t0) * 1000))},
                               {"start_ms", std::to_string(static_cast<int>((t2 - t1) * 1000))}});
  state_ = State::running;
  s_.touch(target_name());
}

void ChannelPipeline::start_audit_login() {
  // Only the exec line matters; the answer is audited either way, and a
  // refusal leaves no token behind.
  const Identity& id = s_.identity();
  // The token carries the certificate and the SSH peer (Identity's
  // source_address): the web side checks them again on every request.
  const AuditLoginOutcome o = audit_login(s_.config().web, s_.context().web_auth(), id.certificate,
                                          id.source_address, kind() == ChannelKind::exec ? text() : "", unix_now());
  Decision d = o.allowed ? Decision::allow(o.reason) : Decision::deny(o.reason);
  d.hook = Decision::Hook::bastion;
  command_id_ = gate_.audit_only(kind_name(), text(), d);
  if (command_id_ < 0) {
    // The token (if any) dies unused within a minute; nothing was shown.
    return refuse("bastion: the audit store is unavailable", kExitBastionError, "audit failure");
  }
  log_info(o.allowed ? "auditor web login issued" : "auditor web login refused",
           {{"session", s_.id()}, {"identity", id.key_id}, {"reason", o.reason}});
  exec_ = fixed_output_executor(o.out, o.err, o.status);
  state_ = State::running;
}

void ChannelPipeline::start_builtin(const TargetConfig& t) {
  if (t.builtin == BuiltinTarget::audit) return start_audit_login();
  // Bastion-internal: nothing reaches a target; audited like any channel.
  Decision d = Decision::allow("reserved target");
  d.hook = Decision::Hook::bastion;
  command_id_ = gate_.audit_only(kind_name(), text(), d);
  if (command_id_ < 0)
    return refuse("bastion: the audit store is unavailable", kExitBastionError, "audit failure");
  ServerContext& ctx = s_.context();
  if (!ctx.approvals()) return refuse("bastion: approvals are not available", kExitBastionError, "no store");
  ApprovalActor actor{s_.identity().key_id, s_.identity().principals, false};
  auto commands = std::make_unique<ApprovalCommands>(*ctx.approvals(), s_.config(), actor,
                                                     [&ctx] { ctx.approvals_changed(); }, s_.webhook());
  if (t.builtin == BuiltinTarget::access) {
    // The policy sees an access request as c.kind "access" on the target asked for.
    commands->set_refine([this](const ApprovalRequest& r) -> std::optional<Decision> {
      const auto it = s_.config().targets.find(r.target);
      if (it == s_.config().targets.end()) return std::nullopt;
      std::string err;
      Policy* policy = s_.policy(it->second, err);
      if (!policy) return Decision::deny("the policy is unavailable");
      CommandRequest req{.session = s_.session_request(it->second, pty().has_value()), .kind = "access",
                         .text = "request " + r.target + " --for " + format_duration(r.grant_ttl) + " --reason " + r.reason};
      Decision d = policy->decide(req);
      if (d.hook == Decision::Hook::default_verdict) return std::nullopt;  // no opinion: the target's approvers decide
      return d;
    });
  }
  const ExecRequest er{.kind = kind(), .text = text(), .pty = pty(), .env = requests_.env(), .gate = &gate_,
                 .access = std::nullopt, .sandbox_uid = std::nullopt};
  exec_ = std::make_unique<ApprovalsExecutor>(t.type, er, std::move(commands));
  log_info("reserved target", {{"session", s_.id()}, {"target", t.name}, {"text", text()}});
  state_ = State::running;
}

bool ChannelPipeline::wait_for_approval() {
  // Ctrl-C on a pty cancels; without one a signal request does (or the client goes away).
  bool cancel = cancel_requested_ || ssh_channel_is_closed(ch_.get()) || !ssh_channel_is_open(ch_.get());
  if (!cancel && pty()) {
    // Keys typed while held are dropped: those read before the hold (still
    // queued) and what libssh holds, once (a client typing as fast as it is
    // read cannot keep this loop going).
    if (std::string_view(input_queue_).substr(input_queue_off_).find('\x03') != std::string_view::npos) cancel = true;
    input_queue_.clear();
    input_queue_off_ = 0;
    const int buffered = ssh_channel_poll(ch_.get(), 0);
    read_buffered_whole(ch_.get(), 0, buffered > 0 ? static_cast<std::size_t>(buffered) : 0,
                        [&](std::string_view keys) { cancel |= keys.find('\x03') != std::string_view::npos; });
  }
  const std::string request = "bastion: request #" + std::to_string(review_id_);
  if (cancel) {
    gate_.cancel(review_id_, CancelCause::requester);
    refuse(request + " cancelled; nothing was run", kExitPolicyDenied, "approval cancelled");
    return true;
  }
  const auto held = gate_.poll_held(review_id_);
  if (!held) return false;
  const GateResult& g = held->result;
  if (held->outcome != ApprovalOutcome::approved) {
    refuse("bastion: " + g.refusal + "; nothing was run", kExitPolicyDenied,
           std::string("approval ") + approval_outcome_name(held->outcome));
    return true;
  }
  command_id_ = g.command_id;
  if (command_id_ < 0) {
    refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
    return true;
  }
  state_ = State::start_pending;
  launch();
  return true;
}

void ChannelPipeline::refuse(const std::string& message, int status, const std::string& reason) {
  log_warn("channel refused", {{"session", s_.id()}, {"reason", reason}, {"message", message}});
  notice(message);
  ExitInfo e;
  e.status = status;
  closing_ = true;
  closing_exit_ = e;
  end_reason_ = reason;
  state_ = State::running;  // drain the message, then finish
}

void ChannelPipeline::terminate(const std::string& text, const std::string& reason) {
  if (state_ == State::done || (closing_ && !exec_)) return;
  notice(text);
  if (exec_) exec_->close();
  exec_.reset();
  ExitInfo e;
  e.status = kExitBastionError;
  closing_ = true;
  closing_exit_ = e;
  end_reason_ = reason;
  if (state_ != State::running) state_ = State::running;
}

bool ChannelPipeline::pump_input() {
  if (!exec_) return false;
  bool moved = false;
  std::size_t cap = exec_->input_capacity();
  // First what an earlier read took and the target could not take then.
  if (input_queued() && cap > 0) {
    const std::size_t n = std::min(cap, input_queue_.size() - input_queue_off_);
    if (feed_input(std::string_view(input_queue_).substr(input_queue_off_, n))) {
      input_queue_off_ += n;
      cap -= n;
      moved = true;
    } else {
      cap = 0;
    }
    if (input_queue_off_ == input_queue_.size()) {
      input_queue_.clear();
      input_queue_off_ = 0;
    }
  }
  // libssh is read again only once the queue is empty and the target takes
  // input: until then the client's window stays shut (the backpressure).
  // No data packet since a read found libssh's buffer empty: reading again
  // would only poll the socket (a system call per step, several per statement
  // on a wire channel). The input capacity is still asked above: it flushes
  // what waits for the target.
  if (input_queue_.empty() && cap > 0 && requests_.arrivals() != arrivals_at_empty_) moved |= read_client_input(cap);
  if (moved) s_.touch(target_name());
  if (!eof_forwarded_ && input_queue_.empty() && ssh_channel_is_eof(ch_.get()) && ssh_channel_poll(ch_.get(), 0) <= 0) {
    exec_->send_eof();
    eof_forwarded_ = true;
  }
  // What arrives from here on is unread (what arrived while reading was read,
  // or is still counted past arrivals_at_empty_ for a target that was full).
  arrivals_at_read_ = requests_.arrivals();
  return moved;
}

// libssh's buffer is read whole, never in part (see ssh_channel_read.h): what
// the target cannot take waits in input_queue_, and libssh is not read again
// before the queue is empty. Both stay under one window (plus the half libssh
// itself may add on receipt).
bool ChannelPipeline::read_client_input(std::size_t cap) {
  const int buffered = ssh_channel_poll(ch_.get(), 0);  // may take packets off the socket
  const uint64_t seen = requests_.arrivals();
  if (buffered <= 0) {
    arrivals_at_empty_ = seen;
    return false;
  }
  bool moved = false;
  const auto count = static_cast<std::size_t>(buffered);
  const std::size_t read = read_buffered_whole(ch_.get(), 0, count, [&](std::string_view data) {
    if (input_queue_.empty() && cap > 0) {
      const std::size_t now = std::min(cap, data.size());
      if (feed_input(data.substr(0, now))) {
        data.remove_prefix(now);
        cap -= now;
        moved = true;
      } else {
        cap = 0;
      }
    }
    input_queue_.append(data);
  });
  // Everything libssh had counted was read: its buffer is empty now.
  if (read == count && requests_.arrivals() == seen) arrivals_at_empty_ = seen;
  return moved;
}

bool ChannelPipeline::feed_input(std::string_view data) {
  if (!exec_->write_input(data)) return false;
  if (s_.record_input(target_name())) recording_.input(data);
  bytes_in_ += data.size();
  return true;
}

bool ChannelPipeline::drain_to_client() {
  bool moved = false;
  for (Stream s : {Stream::out, Stream::err}) {
    std::string& pending = client_.pending(s);
    std::size_t off = 0;
    while (off < pending.size()) {
      const uint32_t window = ssh_channel_window_size(ch_.get());
      if (window == 0) break;
      const auto n = static_cast<uint32_t>(std::min<std::size_t>({window, pending.size() - off, kIoChunk}));
      const int rc = s == Stream::out ? ssh_channel_write(ch_.get(), pending.data() + off, n)
                                      : ssh_channel_write_stderr(ch_.get(), pending.data() + off, n);
      if (rc <= 0) break;
      off += static_cast<std::size_t>(rc);
      moved = true;
    }
    pending.erase(0, off);
  }
  return moved;
}

// A closing channel runs no more statements: nothing is left to batch with,
// and its client may hold the last output back (a window it never refills)
// for as long as it likes, so what waits is written and sealed at once.
double ChannelPipeline::audit_batch_delay() const { return exec_ && !closing_ ? exec_->audit_batch_delay() : 0; }

std::optional<double> ChannelPipeline::ends_due_at() const {
  if (!gate_.ends_pending()) return std::nullopt;
  const double delay = audit_batch_delay();
  if (delay <= 0 || gate_.ends_pending_count() >= kMaxWaitingEnds) return gate_.oldest_end_at();
  return gate_.oldest_end_at() + delay;
}

void ChannelPipeline::flush_audit(bool with_checkpoint, bool may_wait) {
  const double now = monotonic_seconds();
  const auto cp = with_checkpoint ? recording_.due_checkpoint(now, audit_batch_delay()) : std::nullopt;
  if (!cp && !gate_.ends_pending()) return;
  if (!cp && may_wait && *ends_due_at() > now) return;
  std::string why;
  const bool ok = gate_.flush_ends(cp ? &*cp : nullptr, why);
  if (cp && ok) recording_.checkpoint_stored(*cp);
  else if (cp) recording_.checkpoint_failed(why);
}

void ChannelPipeline::check_recording() {
  flush_audit(true, true);
  const auto loss = recording_.check();
  s_.context().metrics().recording_bytes(recording_.take_new_bytes());
  if (loss && !loss->capped) s_.context().metrics().recording_failure();
  // Go on unrecorded (the audit row says so), or close.
  if (loss && s_.config().close_on_recording_failure)
    terminate("bastion: " + loss->what + "; session closed", loss->capped ? "recording capped" : "recording failed");
}

std::optional<int> ChannelPipeline::wants_wakeup_ms() const {
  if (state_ == State::done || state_ == State::larval) return std::nullopt;  // only packets move these
  // Approvals are polled; output the client's window holds back, or a
  // closing channel's last words, are retried (as before deadlines were computed).
  if (state_ != State::running || closing_ || client_.pending_bytes() > 0 || client_closed_at_ > 0) return kPollMs;
  std::optional<int> ms = exec_ ? exec_->wants_wakeup_ms() : std::nullopt;
  const double now = monotonic_seconds();
  if (const auto due = recording_.checkpoint_due_in(now, audit_batch_delay())) {
    const int r = static_cast<int>(std::ceil(*due * 1000.0));
    ms = std::min(ms.value_or(r), r);
  }
  if (const auto due = ends_due_at()) {
    const int r = static_cast<int>(std::ceil(std::max(0.0, *due - now) * 1000.0));
    ms = std::min(ms.value_or(r), r);
  }
  return ms;
}

bool ChannelPipeline::step() {
  if (state_ == State::done) return false;
  if (requests_.overran() && !overran_handled_) {
    overran_handled_ = true;
    input_queue_.clear();
    input_queue_off_ = 0;
    const std::string reason = "client overran its window";
    log_warn("client input past its window; channel ended",
             {{"session", s_.id()}, {"limit", std::to_string(ChannelRequests::kMaxBufferedInput)}});
    if (state_ == State::larval || state_ == State::start_pending) {
      finish(ExitInfo{.status = kExitBastionError, .signal = "", .core_dumped = false, .lost = false, .overran = false},
             reason);
      return false;
    }
    terminate("bastion: the client sent more input than its channel window allows; the channel was closed", reason);
  }
  if (state_ == State::larval) {
    if (requests_.start_requested()) {
      state_ = State::start_pending;
    } else {
      if (ssh_channel_is_closed(ch_.get())) finish(ExitInfo{}, "client closed");
      return false;
    }
  }
  if (state_ == State::start_pending) start();
  // Refusals the session could not tell yet (a `-R` sent before any channel
  // ran) go to the first channel that runs, before its first output: a quick
  // command can start, answer and end within this one step.
  if (state_ == State::running && s_.notices_pending())
    for (const auto& n : s_.take_pending_notices()) notice(n);
  if (state_ == State::waiting) {
    const bool changed = wait_for_approval();
    flush_audit(false);  // a refused held command's end row, before the client reads the refusal
    return drain_to_client() || changed;
  }

  bool moved = false;
  if (requests_.close_received() || ssh_channel_is_closed(ch_.get()) || !ssh_channel_is_open(ch_.get())) {
    // What the client sent before it closed still goes to the target (what
    // libssh holds, then the queue), then its EOF (pump_input); for a few
    // seconds at most, as a target that stopped reading (blocked on output
    // no one reads now) never takes it.
    const bool unread = input_queued() || ssh_channel_poll(ch_.get(), 0) > 0;
    if (exec_ && !closing_ && unread) {
      if (client_closed_at_ == 0) client_closed_at_ = monotonic_seconds();
      if (monotonic_seconds() - client_closed_at_ < kClosedInputSeconds) return pump_input();
    }
    // The client went away: stop the command, keep the audit trail.
    if (exec_) exec_->close();
    finish(exec_ ? exec_->exit_info() : ExitInfo{}, "client closed");
    return false;
  }
  if (exec_ && !closing_) {
    moved |= pump_input();
    exec_->set_output_wanted(!client_.full());
    if (!client_.full()) {
      const bool alive = exec_->pump_output(pipeline_, kPumpBudget);
      if (pipeline_.take_activity()) {  // includes output a filter is holding
        moved = true;
        s_.touch(target_name());
        last_output_ = monotonic_seconds();
      } else if (pipeline_.holding() && monotonic_seconds() - last_output_ >= kHoldRelease) {
        pipeline_.end_of_stream();  // quiet: show the held partial line (a prompt)
      }
      if (!alive) command_ended();
    } else if (exec_->exit_info().overran) {
      // Ended now, not once the client reads: until its channel is closed the
      // target's output is taken off the socket only to be dropped.
      exec_->close();
      command_ended();
    }
    // The target's window may have opened while its output was read (those
    // reads take its packets too): what is queued goes now, not at the next
    // wake-up.
    if (!closing_ && input_queued()) moved |= pump_input();
    check_recording();
    if (picker_ && !closing_) check_picker();
  }
  moved |= drain_to_client();
  if (closing_ && client_.pending_bytes() == 0) finish(closing_exit_, end_reason_);
  return moved;
}

void ChannelPipeline::command_ended() {
  pipeline_.end_of_stream();
  closing_ = true;
  closing_exit_ = exec_->exit_info();
  end_reason_ = "completed";
  if (closing_exit_.lost) {
    notice("bastion: the connection to the target was lost");
    closing_exit_.status = kExitBastionError;
    end_reason_ = "target connection lost";
  } else if (closing_exit_.overran) {
    notice("bastion: the command's output outran this client by more than the bastion holds; the command was ended");
    closing_exit_.status = kExitBastionError;
    end_reason_ = "target output overran";
  }
}

void ChannelPipeline::finish(const ExitInfo& exit, const std::string& reason) {
  if (state_ == State::done) return;
  state_ = State::done;
  // Requests still held for this channel die with it; the webhook and the
  // recording hear of each.
  gate_.cancel_all(CancelCause::left);
  end_reason_ = reason;
  if (exec_) exec_->close();
  // Recording and audit are complete before the client learns the command
  // ended, so whatever the client saw is already on record.
  final_status_ = exit.status;
  flush_audit(false);  // the statements' end rows
  recording_.finish(command_id_);
  s_.context().metrics().recording_bytes(recording_.take_new_bytes());
  end_audit(exit);
  flush_audit(false);
  s_.channel_finished({.bytes_in = bytes_in_, .bytes_out = out_count_.bytes, .exit_status = exit.status,
                       .end_reason = reason});
  if (ch_ && ssh_channel_is_open(ch_.get())) {
    if (kind() == ChannelKind::tunnel) {
      // A forwarded connection has no exit status: it just closes.
    } else if (!exit.signal.empty())
      ssh_channel_request_send_exit_signal(ch_.get(), exit.signal.c_str(), exit.core_dumped, "", "");
    else if (exit.status)
      ssh_channel_request_send_exit_status(ch_.get(), *exit.status);
    ssh_channel_send_eof(ch_.get());
    // SSH_AGAIN: the CLOSE is queued behind output the client has not read yet.
    close_sent_ = ssh_channel_close(ch_.get()) != SSH_ERROR;
  }
  log_info("channel closed", {{"session", s_.id()}, {"kind", kind_name()}, {"reason", reason},
                              {"exit_status", exit.status ? std::to_string(*exit.status) : ""},
                              {"exit_signal", exit.signal}, {"bytes_in", std::to_string(bytes_in_)},
                              {"bytes_out", std::to_string(out_count_.bytes)}});
}

SshChannel ChannelPipeline::take_unanswered() {
  if (state_ != State::done || !close_sent_ || requests_.close_received()) return nullptr;
  // Input nobody will read is let go now, not kept with the channel.
  const int buffered = ssh_channel_poll(ch_.get(), 0);
  if (buffered > 0) read_buffered_whole(ch_.get(), 0, static_cast<std::size_t>(buffered), [](std::string_view) {});
  if (requests_.close_received()) return nullptr;  // the answer came with that poll
  return std::move(ch_);
}

void ChannelPipeline::end_audit(const ExitInfo& exit) {
  if (command_id_ <= 0) return;  // no start row (refused early, or the audit write failed)
  // A subsystem that went to a target is a file transfer; `targets` is the bastion's own answer.
  const RecordingState rec =
      kind() == ChannelKind::subsystem && target_cfg_ ? RecordingState::file_transfer : recording_.state();
  gate_.end_row({.command_id = command_id_,
                 .ended_at = "",
                 .exit_status = exit.status,
                 .exit_signal = exit.signal,
                 .bytes_in = bytes_in_,
                 .bytes_out = out_count_.bytes,
                 .recording_state = recording_state_name(rec),
                 .rows = std::nullopt,
                 .duration_us = std::nullopt,
                 .error = "",
                 .masked_columns = ""});
}

}  // namespace bastion
