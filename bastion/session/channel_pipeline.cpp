#include "session/channel_pipeline.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/display_escape.h"
#include "common/guarded.h"
#include "common/log.h"
#include "common/time_util.h"
#include "approvals/approvals_executor.h"
#include "filters/masking_filter.h"
#include "recorder/async_file_sink.h"
#include "session/session.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

constexpr std::size_t kIoChunk = 32768;
constexpr std::size_t kPumpBudget = 256 * 1024;
constexpr double kHoldRelease = 0.05;  // seconds of quiet before held masked output is shown
constexpr std::size_t kMaxEnvVars = 32, kMaxEnvName = 64, kMaxEnvValue = 1024;

bool env_allowed(const std::string& k) { return k == "TERM" || k == "LANG" || k.starts_with("LC_"); }

}  // namespace

ChannelPipeline::ChannelPipeline(Session& s, ssh_channel ch, int index)
    : s_(s), ch_(ch), index_(index) {
  cb_.userdata = this;
  cb_.channel_pty_request_function = &ChannelPipeline::cb_pty;
  cb_.channel_shell_request_function = &ChannelPipeline::cb_shell;
  cb_.channel_exec_request_function = &ChannelPipeline::cb_exec;
  cb_.channel_subsystem_request_function = &ChannelPipeline::cb_subsystem;
  cb_.channel_env_request_function = &ChannelPipeline::cb_env;
  cb_.channel_pty_window_change_function = &ChannelPipeline::cb_window;
  cb_.channel_signal_function = &ChannelPipeline::cb_signal;
  cb_.channel_auth_agent_req_function = &ChannelPipeline::cb_agent;
  cb_.channel_x11_req_function = &ChannelPipeline::cb_x11;
  ssh_callbacks_init(&cb_);
  // No data callback: client input waits in libssh until the target can take it.
  ssh_set_channel_callbacks(ch_.get(), &cb_);
  pipeline_.add_sink(&client_);
  pipeline_.add_sink(&rec_sink_);
  pipeline_.add_sink(&out_count_);
}

ChannelPipeline::~ChannelPipeline() {
  if (state_ != State::done) finish(ExitInfo{}, end_reason_.empty() ? "session ended" : end_reason_);
  // The client may still send requests (window-change, signal) on a channel
  // libssh keeps until its CLOSE is acknowledged: they must not reach us.
  if (ch_) ssh_remove_channel_callbacks(ch_.get(), &cb_);
}

// libssh calls these from C: an exception must not unwind through it. A
// request that throws is refused; the session goes on.
int ChannelPipeline::cb_pty(ssh_session, ssh_channel, const char* term, int w, int h, int, int,
                            void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "pty-req", SSH_ERROR, [&] {
    if (p->state_ != State::larval) return SSH_ERROR;
    // As OpenSSH: a certificate without permit-pty gets no terminal. The
    // client reports the failure and goes on without one; we say why.
    if (!p->s_.identity().extensions.contains("permit-pty")) {
      p->pty_refused_ = true;
      log_warn("pty refused: the certificate does not permit a pty", {{"session", p->s_.id()}});
      return SSH_ERROR;
    }
    p->pty_ = PtyRequest{term ? term : "xterm", w > 0 ? w : 80, h > 0 ? h : 24};
    return SSH_OK;
  });
}

int ChannelPipeline::cb_shell(ssh_session, ssh_channel, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "shell", SSH_ERROR, [&] { return p->request("shell", ""); });
}

int ChannelPipeline::cb_exec(ssh_session, ssh_channel, const char* cmd, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "exec", SSH_ERROR, [&] { return p->request("exec", cmd ? cmd : ""); });
}

int ChannelPipeline::cb_subsystem(ssh_session, ssh_channel, const char* name, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "subsystem", SSH_ERROR, [&] {
    const std::string n = name ? name : "";
    std::string why;
    // sftp (refused later, with a reason, where the kind does not serve it),
    // or a subsystem the target's kind serves.
    const TargetConfig* t = n == "sftp" ? nullptr : p->s_.target_config(why);
    const bool served = t && t->schema && kind_of(*t).serves_subsystem(n);
    if (n != "sftp" && !served) {
      log_warn("subsystem refused", {{"session", p->s_.id()}, {"subsystem", n}});
      return SSH_ERROR;
    }
    return p->request("subsystem", n);
  });
}

int ChannelPipeline::cb_env(ssh_session, ssh_channel, const char* k, const char* v, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "env", SSH_ERROR, [&] {
    if (p->state_ != State::larval || !k || !v || !env_allowed(k)) return SSH_ERROR;
    // Bounded: a client must not grow a channel without limit before it starts.
    if (std::strlen(k) > kMaxEnvName || std::strlen(v) > kMaxEnvValue ||
        (p->env_.size() >= kMaxEnvVars && !p->env_.contains(k)))
      return SSH_ERROR;
    p->env_[k] = v;
    return SSH_OK;
  });
}

int ChannelPipeline::cb_window(ssh_session, ssh_channel, int w, int h, int, int, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  return guarded(p->s_.id(), "window-change", SSH_ERROR, [&] {
    if (!p->pty_ || w <= 0 || h <= 0) return SSH_ERROR;
    p->pty_->cols = w;
    p->pty_->rows = h;
    if (p->exec_) p->exec_->window_change(w, h);
    if (p->rec_) p->rec_->resize(w, h);
    return SSH_OK;
  });
}

void ChannelPipeline::cb_signal(ssh_session, ssh_channel, const char* sig, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  guarded(p->s_.id(), "signal", 0, [&] {
    if (p->exec_ && sig) p->exec_->send_signal(sig);
    return 0;
  });
}

void ChannelPipeline::cb_agent(ssh_session, ssh_channel, void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  guarded(p->s_.id(), "auth-agent-req", 0, [&] {
    log_warn("agent forwarding refused", {{"session", p->s_.id()}});
    p->notice("bastion: agent forwarding is not available through the bastion");
    return 0;
  });
}

void ChannelPipeline::cb_x11(ssh_session, ssh_channel, int, const char*, const char*, uint32_t,
                             void* self) {
  auto* p = static_cast<ChannelPipeline*>(self);
  guarded(p->s_.id(), "x11-req", 0, [&] {
    log_warn("X11 forwarding refused", {{"session", p->s_.id()}});
    p->notice("bastion: X11 forwarding is not available through the bastion");
    return 0;
  });
}

int ChannelPipeline::request(const std::string& kind, const std::string& text) {
  if (state_ != State::larval) return SSH_ERROR;
  kind_ = kind;
  text_ = text;
  if (const auto& forced = s_.identity().force_command) {
    // The certificate's force-command replaces whatever the client asked for.
    kind_ = "exec";
    text_ = *forced;
  }
  state_ = State::start_pending;
  return SSH_OK;
}

void ChannelPipeline::open_tunnel(const std::string& destination) {
  kind_ = "tunnel";
  text_ = destination;
  state_ = State::start_pending;
}

void ChannelPipeline::notice(const std::string& raw) {
  if (state_ == State::done) return;
  // Notices quote reasons, names and errors that users, policies and
  // targets control: one escaped line, whatever they hold.
  const std::string text = display_escape(raw);
  if (pty_) pipeline_.notice(Stream::out, "\r\n" + text + "\r\n");
  else pipeline_.notice(Stream::err, text + "\n");
}

bool ChannelPipeline::open_recording(std::string& error) {
  const Config& cfg = s_.config();
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(cfg.recordings_dir()) / utc_date();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error = dir.string() + ": " + ec.message(), false;
  rec_path_ = (dir / (s_.id() + "-" + std::to_string(index_) + ".cast")).string();
  auto sink = recorder::AsyncFileSink::open(rec_path_, &s_.flusher(), error);
  if (!sink) return false;
  recorder::AsciicastHeader h;
  if (pty_) {
    h.width = pty_->cols;
    h.height = pty_->rows;
    h.env["TERM"] = pty_->term;
  }
  h.timestamp = unix_now();
  h.title = display_escape(s_.identity().key_id + " -> " + s_.identity().requested_user);
  if (kind_ == "exec") h.command = text_;
  rec_ = std::make_unique<recorder::AsciicastWriter>(
      std::make_unique<recorder::SharedSinkRef>(sink), h, cfg.limits.recording_max_bytes,
      &monotonic_seconds);
  rec_sink_ = RecorderSink(rec_.get());
  rec_state_ = "complete";
  if (kind_ == "exec") rec_->marker("exec: " + text_);
  return true;
}

void ChannelPipeline::start() {
  const Config& cfg = s_.config();
  std::string refusal, err;
  if (s_.ended()) return refuse("bastion: this session has ended; nothing was run", kExitBastionError, "session ended");
  const TargetConfig* t = s_.target_config(refusal);
  if (!t) return refuse("bastion: " + refusal, kExitAccessRefused, "access refused");
  Policy* policy = s_.policy(*t, err);
  if (!policy) {
    log_error("policy unavailable", {{"session", s_.id()}, {"error", err}});
    return refuse("bastion: the policy is unavailable; nothing was run", kExitBastionError, "policy error");
  }
  if (!s_.admit(*policy, *t, pty_.has_value(), refusal))
    return refuse(refusal, kExitAccessRefused, "session denied");

  target_cfg_ = t;
  if (pty_refused_) notice("bastion: no terminal: your certificate does not permit a pty (no-pty)");
  const TargetKind* kind = t->builtin == BuiltinTarget::none ? &kind_of(*t) : nullptr;
  const bool per_statement = !kind || kind->commands_per_channel();
  // A subsystem the kind serves on a channel of many commands runs; other
  // subsystems there are file transfers.
  if (per_statement && kind_ == "subsystem" && !(kind && kind->serves_subsystem(text_)))
    return refuse("bastion: file transfer is not available on " + t->type + " targets", kExitAccessRefused,
                  "subsystem refused");
  if (!kind) return start_builtin(*t);
  // On a database target the channel is a console or a script: each
  // statement in it is decided on its own (submit()), not the channel.
  Decision d = per_statement ? Decision::allow(kind_ == "tunnel" ? "each API request through it is decided by the policy"
                                                                 : "each command in it is decided by the policy")
                             : policy->decide(CommandRequest{.session = s_.session_request(*t, pty_.has_value()), .kind = kind_, .text = text_});
  if (per_statement) d.hook = "bastion";
  if (kind_ == "subsystem" && d.verdict == Decision::Verdict::mask) {
    // sftp is a binary protocol: rewriting its bytes would corrupt files.
    d.verdict = Decision::Verdict::deny;
    d.reason = "output masking cannot apply to file transfers";
  }
  // Denied commands are recorded too: the recording shows what the user saw.
  // Tunnels carry TLS records (the proxy decides and audits each request
  // inside); file transfers carry binary: neither is a terminal to record.
  if (kind_ != "subsystem" && kind_ != "tunnel" && !open_recording(err)) {
    log_error("cannot open recording", {{"session", s_.id()}, {"error", err}});
    if (d.allowed() && cfg.close_on_recording_failure) {
      d = Decision::deny("recording unavailable");
      d.hook = "bastion";
      s_.audit_decision(index_, kind_, text_, d, "", command_id_);
      return refuse("bastion: this session cannot be recorded; nothing was run", kExitBastionError,
                    "recording failed");
    }
    rec_state_ = "unrecorded";
  }
  if (rec_) rec_->marker(std::string("decision: ") + d.name() + (d.reason.empty() ? "" : " (" + d.reason + ")"));
  s_.audit_decision(index_, kind_, text_, d, rec_path_, command_id_);
  if (command_id_ < 0)
    return refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
  log_info("command", {{"session", s_.id()}, {"identity", s_.identity().key_id}, {"target", t->name},
                       {"kind", kind_}, {"text", text_}, {"decision", d.name()}, {"reason", d.reason},
                       {"policy_at", d.source}});
  if (d.verdict == Decision::Verdict::review && kind_ != "subsystem") return begin_review(d);
  if (!d.allowed()) {
    std::string why = d.reason;
    if (d.verdict == Decision::Verdict::review)
      why = "approval required" + (d.reason.empty() || d.reason == "approval required" ? "" : ": " + d.reason);
    return refuse("bastion: denied: " + why, kExitPolicyDenied, "policy denied");
  }
  launch(d);
}

void ChannelPipeline::launch(const Decision& d) {
  std::string err;
  if (d.verdict == Decision::Verdict::mask) pipeline_.add_filter(std::make_unique<MaskingFilter>(d.mask));

  const double t0 = monotonic_seconds();
  conn_ = s_.target(err);
  if (!conn_) return refuse("bastion: " + err, kExitBastionError, "target unreachable");
  const double t1 = monotonic_seconds();
  ExecRequest er{kind_, text_, pty_, env_, this, std::nullopt, std::nullopt};
  const TargetKind& kind = kind_of(*target_cfg_);
  if (kind.hands_out_client_access(kind_, text_)) er.access = s_.client_access(*target_cfg_);
  if (kind.runs_children() && !s_.sandbox_uid(er.sandbox_uid))
    return refuse("bastion: no sandbox user is free for " + target_cfg_->type + "; try again later", kExitBastionError,
                  "no sandbox uid");
  exec_ = conn_->start(er, err);
  if (!exec_) return refuse("bastion: " + err, kExitBastionError, "target refused");
  const double t2 = monotonic_seconds();
  log_info("command running", {{"session", s_.id()}, {"connect_ms", std::to_string(static_cast<int>((t1 - t0) * 1000))},
                               {"start_ms", std::to_string(static_cast<int>((t2 - t1) * 1000))}});
  state_ = State::running;
  s_.touch();
}

CommandRequest ChannelPipeline::request(const std::string& kind, const std::string& text) const {
  return CommandRequest{.session = s_.session_request(*target_cfg_, pty_.has_value()), .kind = kind, .text = text};
}

const std::string& ChannelPipeline::mask_key() const { return s_.mask_key(); }

GateResult ChannelPipeline::submit(const CommandRequest& req) {
  std::string err;
  Policy* policy = s_.policy(*target_cfg_, err);
  if (policy) return record_decision(req, policy->decide(req));
  log_error("policy unavailable", {{"session", s_.id()}, {"error", err}});
  Decision d = Decision::deny("the policy is unavailable");
  d.hook = "bastion";
  return record_decision(req, d);
}

GateResult ChannelPipeline::refuse(const CommandRequest& req, const std::string& reason) {
  Decision d = Decision::deny(reason);
  d.hook = "bastion";
  return record_decision(req, d);
}

GateResult ChannelPipeline::submit_request(const CommandRequest& req) {
  std::string err;
  Policy* policy = s_.policy(*target_cfg_, err);
  if (policy) return record_decision(req, policy->decide(req), true);
  log_error("policy unavailable", {{"session", s_.id()}, {"error", err}});
  Decision d = Decision::deny("the policy is unavailable");
  d.hook = "bastion";
  return record_decision(req, d, true);
}

void ChannelPipeline::request_ended(int64_t command_id, const CommandOutcome& o) {
  if (command_id <= 0) return;  // no pipeline_.end_command(): the running command's masks stay
  CommandEnd e;
  e.command_id = command_id;
  e.exit_status = o.status;
  e.duration_us = o.duration_us;
  e.error = o.error;
  e.recording_state = rec_state_;
  write_command_end(e);
}

GateResult ChannelPipeline::record_decision(const CommandRequest& req, Decision decision, bool nested) {
  GateResult g;
  g.decision = std::move(decision);
  Decision& d = g.decision;
  if (rec_ && (!nested || !d.allowed())) {  // API requests: only denials are marked (one per request is noise)
    rec_->marker(req.kind + ": " + req.text);
    rec_->marker(std::string("decision: ") + d.name() + (d.reason.empty() ? "" : " (" + d.reason + ")"));
  }
  s_.audit_decision(index_, req.kind, req.text, d, rec_path_, g.command_id, req.facts ? req.facts->audit_details() : "");
  if (g.command_id < 0 && d.allowed()) {
    d = Decision::deny("the audit store is unavailable");
    d.hook = "bastion";
  }
  log_info("command", {{"session", s_.id()}, {"identity", s_.identity().key_id}, {"target", target_cfg_->name},
                       {"kind", req.kind}, {"text", req.text}, {"decision", d.name()}, {"reason", d.reason},
                       {"policy_at", d.source}});
  if (d.verdict == Decision::Verdict::review && g.command_id > 0 && !nested) {
    ApprovalRequest r;
    std::string refusal;
    if (create_review(req.kind, req.text, d, r, refusal)) {
      HeldCommand h{r, d, req, s_.context().approvals_version(), 0, 0};
      held_.emplace(r.id, std::move(h));
      g.review_id = r.id;
      g.refusal = "approval required";
      return g;
    }
    g.refusal = refusal;
    return g;
  }
  if (!d.allowed()) {
    g.refusal = d.reason.empty() ? "denied" : d.reason;
    if (d.verdict == Decision::Verdict::review)
      g.refusal = "approval required" + (d.reason.empty() || d.reason == "approval required" ? "" : ": " + d.reason);
    return g;
  }
  if (!d.mask.empty() && !nested) pipeline_.begin_command(std::make_unique<MaskingFilter>(d.mask));
  s_.touch();
  return g;
}

void ChannelPipeline::command_ended(int64_t command_id, const CommandOutcome& o) {
  pipeline_.end_command();
  if (command_id <= 0) return;
  CommandEnd e;
  e.command_id = command_id;
  e.exit_status = o.status;
  e.rows = o.rows;
  e.duration_us = o.duration_us;
  e.error = o.error;
  e.masked_columns = o.masked_columns;
  e.recording_state = rec_state_;
  write_command_end(e);
}

void ChannelPipeline::write_command_end(CommandEnd& e) {
  e.ended_at = iso8601_now();
  std::string err;
  if (!s_.audit().command_ended(e, err)) log_error("audit write failed", {{"session", s_.id()}, {"error", err}});
}

void ChannelPipeline::start_builtin(const TargetConfig& t) {
  // Bastion-internal: nothing reaches a target; audited like any channel.
  Decision d = Decision::allow("reserved target");
  d.hook = "bastion";
  s_.audit_decision(index_, kind_, text_, d, "", command_id_);
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
      CommandRequest req{.session = s_.session_request(it->second, pty_.has_value()), .kind = "access",
                         .text = "request " + r.target + " --for " + format_duration(r.grant_ttl) + " --reason " + r.reason};
      Decision d = policy->decide(req);
      if (d.hook == "default") return std::nullopt;  // no opinion: the target's approvers decide
      return d;
    });
  }
  ExecRequest er{kind_, text_, pty_, env_, this, std::nullopt, std::nullopt};
  exec_ = std::make_unique<ApprovalsExecutor>(t.type, er, std::move(commands));
  log_info("reserved target", {{"session", s_.id()}, {"target", t.name}, {"text", text_}});
  state_ = State::running;
}

bool ChannelPipeline::create_review(const std::string& kind, const std::string& text, const Decision& d,
                                    ApprovalRequest& r, std::string& refusal) {
  ServerContext& ctx = s_.context();
  r = ApprovalRequest{};
  r.kind = "command";
  r.session_id = s_.id();
  r.channel = index_;
  r.requester = s_.identity().key_id;
  r.target = target_cfg_->name;
  r.command_kind = kind;
  r.command_text = text;
  r.reason = d.reason.empty() ? "approval required" : d.reason;
  r.approvers = d.approvers.empty() ? target_cfg_->approvers : d.approvers;
  r.min_approvals = d.min_approvals;
  r.created_at = unix_now();
  r.expires_at = r.created_at + (d.review_timeout > 0 ? d.review_timeout : s_.config().approvals.timeout);
  std::string err;
  if (r.approvers.empty()) return refusal = "approval required (" + r.reason + ") but nobody may approve it here", false;
  if (!ctx.approvals() || !ctx.approvals()->create_request(r, err)) {
    log_error("cannot create approval request", {{"session", s_.id()}, {"error", err}});
    return refusal = "approval required, but approvals are unavailable", false;
  }
  ctx.approvals_changed();
  if (auto hook = s_.webhook()) hook(r, "created");
  if (rec_) rec_->marker("approval requested: #" + std::to_string(r.id));
  log_info("approval requested", {{"session", s_.id()}, {"request", std::to_string(r.id)}, {"text", text}});
  return true;
}

void ChannelPipeline::show_review_status(const ApprovalRequest& r, bool final_line) {
  const int64_t waited = unix_now() - r.created_at;
  std::string who;
  for (const auto& a : r.approvers) who += (who.empty() ? "" : ", ") + a;
  const std::string line = display_escape("bastion: request #" + std::to_string(r.id) + " waits for approval by " + who + " (" +
                           r.reason + "), " + format_duration(waited) + " so far; Ctrl-C cancels");
  // One line, rewritten in place; a newline once decided.
  if (pty_) pipeline_.notice(Stream::out, "\r\x1b[K" + line + (final_line ? "\r\n" : ""));
  else pipeline_.notice(Stream::err, "\r" + line + (final_line ? "\n" : ""));
}

std::string ChannelPipeline::review_outcome(ApprovalRequest& req, uint64_t& seen_version, int64_t& next_poll) {
  ServerContext& ctx = s_.context();
  const int64_t now = unix_now();
  const uint64_t v = ctx.approvals_version();
  if (v == seen_version && now < next_poll && now < req.expires_at) return "";
  seen_version = v;
  next_poll = now + 2;  // another bastion sharing the store: poll
  std::string err;
  const auto r = ctx.approvals()->request(req.id, err);
  if (!r) return "";
  req = *r;
  const std::string st = effective_state(*r, now);
  if (st == "pending") return "";
  if (st == "approved") {
    // Bound to this request: this text, this session, once.
    if (!ctx.approvals()->transition(r->id, "approved", "used", now, r->decided_by, "", 0, err)) return "reused";
    ctx.approvals_changed();
  } else if (st == "expired") {
    ctx.approvals()->transition(r->id, "pending", "expired", now, "", "timed out", 0, err);
    ctx.approvals_changed();
    if (auto hook = s_.webhook()) hook(*r, "expired");
  }
  if (rec_) rec_->marker("approval " + st + ": #" + std::to_string(r->id));
  return st;
}

namespace {
std::string voters(const ApprovalRequest& r) {
  std::string by;
  for (const auto& v : r.votes)
    if (v.decision == "approve") by += (by.empty() ? "" : ", ") + v.approver;
  return by;
}
std::string refusal_for(const ApprovalRequest& r, const std::string& st) {
  if (st == "denied") return "denied by " + r.decided_by + (r.deny_reason.empty() ? "" : ": " + r.deny_reason);
  if (st == "expired") return "timed out waiting for approval";
  if (st == "reused") return "was already used";
  return st;
}
}  // namespace

void ChannelPipeline::begin_review(const Decision& d) {
  ApprovalRequest r;
  std::string refusal;
  if (!create_review(kind_, text_, d, r, refusal))
    return refuse("bastion: denied: " + refusal, kExitPolicyDenied, "approval unavailable");
  review_ = r;
  review_decision_ = d;
  review_seen_version_ = s_.context().approvals_version();
  review_next_poll_ = review_next_status_ = 0;
  state_ = State::waiting;
}

void ChannelPipeline::review_status(bool final_line) { show_review_status(*review_, final_line); }

bool ChannelPipeline::wait_for_review() {
  ServerContext& ctx = s_.context();
  const int64_t now = unix_now();
  // Ctrl-C on a pty cancels; without one the client goes away instead.
  bool cancel = ssh_channel_is_closed(ch_.get()) || !ssh_channel_is_open(ch_.get());
  if (!cancel && pty_) {
    char buf[256];
    int n;
    while ((n = ssh_channel_read_nonblocking(ch_.get(), buf, sizeof buf, 0)) > 0)
      if (std::string_view(buf, static_cast<std::size_t>(n)).find('\x03') != std::string_view::npos) cancel = true;
  }
  std::string err;
  if (cancel) {
    ctx.approvals()->transition(review_->id, "pending", "cancelled", now, s_.identity().key_id,
                                "cancelled by the requester", 0, err);
    ctx.approvals_changed();
    if (auto hook = s_.webhook()) hook(*review_, "cancelled");
    review_status(true);
    if (rec_) rec_->marker("approval cancelled: #" + std::to_string(review_->id));
    refuse("bastion: request #" + std::to_string(review_->id) + " cancelled; nothing was run", kExitPolicyDenied,
           "approval cancelled");
    return true;
  }
  if (now >= review_next_status_) {
    review_status(false);
    review_next_status_ = now + 1;
  }
  const std::string st = review_outcome(*review_, review_seen_version_, review_next_poll_);
  if (st.empty()) return false;
  review_status(true);
  const ApprovalRequest& r = *review_;
  if (st != "approved") {
    refuse("bastion: request #" + std::to_string(r.id) + " " + refusal_for(r, st) + "; nothing was run",
           kExitPolicyDenied, "approval " + st);
    return true;
  }
  Decision d = review_decision_;
  d.verdict = d.mask.empty() ? Decision::Verdict::allow : Decision::Verdict::mask;
  d.reason = "approved in request #" + std::to_string(r.id) + " by " + voters(r);
  d.hook = "approval";
  if (rec_) rec_->marker("decision: " + std::string(d.name()) + " (" + d.reason + ")");
  s_.audit_decision(index_, kind_, text_, d, rec_path_, command_id_);
  if (command_id_ < 0) {
    refuse("bastion: the audit store is unavailable; nothing was run", kExitBastionError, "audit failure");
    return true;
  }
  notice("bastion: request #" + std::to_string(r.id) + " approved by " + voters(r));
  log_info("approval granted", {{"session", s_.id()}, {"request", std::to_string(r.id)}, {"by", voters(r)}});
  state_ = State::start_pending;
  launch(d);
  return true;
}

std::optional<GateResult> ChannelPipeline::poll_review(int64_t id) {
  const auto it = held_.find(id);
  if (it == held_.end()) {
    GateResult g;
    g.decision = Decision::deny("unknown approval request");
    g.refusal = g.decision.reason;
    return g;
  }
  HeldCommand& h = it->second;
  const int64_t now = unix_now();
  if (now >= h.next_status) {
    show_review_status(h.request, false);
    h.next_status = now + 1;
  }
  const std::string st = review_outcome(h.request, h.seen_version, h.next_poll);
  if (st.empty()) return std::nullopt;
  show_review_status(h.request, true);
  GateResult g;
  if (st != "approved") {
    g.decision = Decision::deny("request #" + std::to_string(id) + " " + refusal_for(h.request, st));
    g.decision.hook = "approval";
    g.refusal = g.decision.reason;
    held_.erase(it);
    return g;
  }
  Decision d = h.decision;
  d.verdict = d.mask.empty() && d.column_masks.empty() ? Decision::Verdict::allow : Decision::Verdict::mask;
  const std::string by = voters(h.request);
  d.reason = "approved in request #" + std::to_string(id) + " by " + by;
  d.hook = "approval";
  const CommandRequest req = h.command;
  held_.erase(it);  // h is gone from here on
  notice("bastion: request #" + std::to_string(id) + " approved by " + by);
  return record_decision(req, d);
}

void ChannelPipeline::cancel_review(int64_t id) {
  const auto it = held_.find(id);
  if (it == held_.end()) return;
  ServerContext& ctx = s_.context();
  std::string err;
  ctx.approvals()->transition(id, "pending", "cancelled", unix_now(), s_.identity().key_id,
                              "cancelled by the requester", 0, err);
  ctx.approvals_changed();
  if (auto hook = s_.webhook()) hook(it->second.request, "cancelled");
  if (rec_) rec_->marker("approval cancelled: #" + std::to_string(id));
  held_.erase(it);
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
  char buf[kIoChunk];
  while (cap > 0) {
    const int n = ssh_channel_read_nonblocking(ch_.get(), buf,
                                               static_cast<uint32_t>(std::min(cap, sizeof buf)), 0);
    if (n <= 0) break;
    const std::string_view data(buf, static_cast<std::size_t>(n));
    if (!exec_->write_input(data)) break;
    if (rec_ && s_.record_input()) rec_->input(data);
    bytes_in_ += static_cast<std::size_t>(n);
    cap -= static_cast<std::size_t>(n);
    moved = true;
  }
  if (moved) s_.touch();
  if (!eof_forwarded_ && ssh_channel_is_eof(ch_.get()) && ssh_channel_poll(ch_.get(), 0) <= 0) {
    exec_->send_eof();
    eof_forwarded_ = true;
  }
  return moved;
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

bool ChannelPipeline::check_recording() {
  if (!rec_ || rec_state_ != "complete") return true;
  if (!rec_->failed() && !rec_->capped()) return true;
  const bool capped = rec_->capped() && !rec_->failed();
  const std::string what = capped ? "recording size cap reached" : "recording failed: " + rec_->error();
  log_error(what, {{"session", s_.id()}, {"recording", rec_path_}});
  rec_state_ = capped ? "capped" : "failed";
  if (s_.config().close_on_recording_failure) {
    rec_sink_.detach();
    terminate("bastion: " + what + "; session closed", capped ? "recording capped" : "recording failed");
    return false;
  }
  rec_sink_.detach();  // continue unrecorded; the audit row says so
  return true;
}

bool ChannelPipeline::step() {
  if (state_ == State::done) return false;
  if (state_ == State::larval) {
    if (ssh_channel_is_closed(ch_.get())) finish(ExitInfo{}, "client closed");
    return false;
  }
  if (state_ == State::start_pending) start();
  if (state_ == State::waiting) {
    const bool changed = wait_for_review();
    return drain_to_client() || changed;
  }

  bool moved = false;
  if (ssh_channel_is_closed(ch_.get()) || !ssh_channel_is_open(ch_.get())) {
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
        s_.touch();
        last_output_ = monotonic_seconds();
      } else if (pipeline_.holding() && monotonic_seconds() - last_output_ >= kHoldRelease) {
        pipeline_.end_of_stream();  // quiet: show the held partial line (a prompt)
      }
      if (!alive) {
        pipeline_.end_of_stream();
        closing_ = true;
        closing_exit_ = exec_->exit_info();
        end_reason_ = "completed";
        if (closing_exit_.lost) {
          notice("bastion: the connection to the target was lost");
          closing_exit_.status = kExitBastionError;
          end_reason_ = "target connection lost";
        }
      }
    }
    check_recording();
  }
  moved |= drain_to_client();
  if (closing_ && client_.pending_bytes() == 0) finish(closing_exit_, end_reason_);
  return moved;
}

void ChannelPipeline::finish(const ExitInfo& exit, const std::string& reason) {
  if (state_ == State::done) return;
  state_ = State::done;
  // Requests still held for this channel die with it.
  while (!held_.empty()) cancel_review(held_.begin()->first);
  if (review_ && review_->state == "pending" && s_.context().approvals()) {
    std::string err;
    if (s_.context().approvals()->transition(review_->id, "pending", "cancelled", unix_now(), s_.identity().key_id,
                                             "the requester left", 0, err))
      s_.context().approvals_changed();
  }
  end_reason_ = reason;
  if (exec_) exec_->close();
  // Recording and audit are complete before the client learns the command
  // ended, so whatever the client saw is already on record.
  final_status_ = exit.status;
  if (rec_) rec_->finish();
  end_audit(exit);
  s_.bytes_in_ += bytes_in_;
  s_.bytes_out_ += out_count_.bytes;
  if (exit.status) s_.last_exit_ = exit.status;
  if (reason != "completed" && reason != "client closed") s_.channel_reason_ = reason;
  if (ch_ && ssh_channel_is_open(ch_.get())) {
    if (kind_ == "tunnel") {
      // A forwarded connection has no exit status: it just closes.
    } else if (!exit.signal.empty())
      ssh_channel_request_send_exit_signal(ch_.get(), exit.signal.c_str(), exit.core_dumped, "", "");
    else if (exit.status)
      ssh_channel_request_send_exit_status(ch_.get(), *exit.status);
    ssh_channel_send_eof(ch_.get());
    ssh_channel_close(ch_.get());
  }
  log_info("channel closed", {{"session", s_.id()}, {"kind", kind_}, {"reason", reason},
                              {"exit_status", exit.status ? std::to_string(*exit.status) : ""},
                              {"exit_signal", exit.signal}, {"bytes_in", std::to_string(bytes_in_)},
                              {"bytes_out", std::to_string(out_count_.bytes)}});
}

void ChannelPipeline::end_audit(const ExitInfo& exit) {
  if (command_id_ <= 0) return;  // no start row (refused early, or the audit write failed)
  CommandEnd e;
  e.command_id = command_id_;
  e.exit_status = exit.status;
  e.exit_signal = exit.signal;
  e.bytes_in = bytes_in_;
  e.bytes_out = out_count_.bytes;
  e.recording_state = kind_ == "subsystem" ? "not recorded (file transfer)" : rec_state_;
  write_command_end(e);
}

}  // namespace bastion
