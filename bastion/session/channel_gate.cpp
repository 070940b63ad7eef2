#include "session/channel_gate.h"

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/time_util.h"
#include "filters/masking_filter.h"
#include "policy/shell_parse.h"
#include "session/session.h"

namespace bastion {
namespace {

Decision bastion_deny(const std::string& reason) {
  Decision d = Decision::deny(reason);
  d.hook = Decision::Hook::bastion;
  return d;
}

// The audit row's details: the kind's facts, and for shell command lines
// every reason the parser could not resolve a part (what an auditor looks
// for when a line was denied as opaque).
std::string audit_details(const CommandRequest& req) {
  std::string facts = req.facts ? req.facts->audit_details() : "";
  if (req.kind != "exec" && req.kind != "shell_line") return facts;
  std::string shell = shell_audit_details(parse_command(req.text));
  if (shell.empty()) return facts;
  if (facts.empty()) return shell;
  nlohmann::json j = nlohmann::json::parse(facts, nullptr, false);
  if (!j.is_object()) return facts;
  j.update(nlohmann::json::parse(shell));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string refusal_reason(const Decision& d) {
  if (d.verdict != Decision::Verdict::review) return d.reason;
  return "approval required" + (d.reason.empty() || d.reason == "approval required" ? "" : ": " + d.reason);
}

ChannelGate::ChannelGate(Session& s, int channel, ChannelRecording& recording, OutputPipeline& output,
                         ChannelMessages& messages)
    : s_(s), channel_(channel), recording_(recording), output_(output), messages_(messages) {}

ChannelGate::~ChannelGate() {
  std::string ignored;  // logged by flush_ends
  flush_ends(nullptr, ignored);
}

GateResult ChannelGate::record(const CommandRequest& req, Decision decision, GateScope scope) {
  GateResult g;
  g.decision = std::move(decision);
  Decision& d = g.decision;
  // The channel's own command is in its recording already (header, "exec:"
  // marker); API requests are marked only when refused (one per request is noise).
  if (scope == GateScope::command || (scope == GateScope::request && !d.allowed()))
    recording_.marker(req.kind + ": " + req.text);
  if (scope != GateScope::request || !d.allowed())
    recording_.marker(std::string("decision: ") + d.name() + (d.reason.empty() ? "" : " (" + d.reason + ")"));
  s_.audit_decision(channel_, req.kind, req.text, d, recording_.path(), g.command_id, audit_details(req), target_);
  if (g.command_id < 0 && d.allowed() && scope != GateScope::channel) d = bastion_deny("the audit store is unavailable");
  return g;
}

GateResult ChannelGate::pass(const CommandRequest& req, Decision d, GateScope scope) {
  GateResult g = record(req, std::move(d), scope);
  if (g.command_id < 0 && scope == GateScope::channel) return g;  // the channel refuses itself
  log_decision(req, g.decision);
  apply(g, req, scope);
  return g;
}

void ChannelGate::apply(GateResult& g, const CommandRequest& req, GateScope scope) {
  const Decision& d = g.decision;
  // A file transfer is not held: nobody could see its status line.
  const bool holdable = scope == GateScope::channel ? req.kind != "subsystem" : scope == GateScope::command;
  if (d.verdict == Decision::Verdict::review && holdable && g.command_id > 0) return hold(g, req, scope);
  if (!d.allowed()) {
    g.refusal = refusal_reason(d);
    // Every refusal line says why, even for deny("") in a policy.
    if (g.refusal.empty()) g.refusal = "the policy gave no reason";
    return;
  }
  if (scope == GateScope::channel) {
    if (d.verdict == Decision::Verdict::mask) output_.add_filter(std::make_unique<MaskingFilter>(mask_patterns_.get(d.mask)));
    return;
  }
  if (scope == GateScope::command && !d.mask.empty()) output_.begin_command(std::make_unique<MaskingFilter>(mask_patterns_.get(d.mask)));
  s_.touch(target_ ? target_->name : std::string());
}

void ChannelGate::hold(GateResult& g, const CommandRequest& req, GateScope scope) {
  const Decision& d = g.decision;
  const int64_t now = unix_now();
  ApprovalRequest r{.id = 0,
                    .kind = "command",
                    .session_id = s_.id(),
                    .channel = channel_,
                    .requester = s_.identity().key_id,
                    .target = target_->name,
                    .command_kind = req.kind,
                    .command_text = req.text,
                    .reason = d.reason.empty() ? "approval required" : d.reason,
                    .approvers = d.approvers.empty() ? target_->approvers : d.approvers,
                    .min_approvals = d.min_approvals,
                    .created_at = now,
                    .expires_at = now + (d.review_timeout > 0 ? d.review_timeout : s_.config().approvals.timeout),
                    .state = ApprovalState::pending,
                    .decided_at = 0,
                    .decided_by = "",
                    .deny_reason = "",
                    .grant_ttl = 0,
                    .grant_expires_at = 0,
                    .votes = {}};
  ServerContext& ctx = s_.context();
  ApprovalLinks links{.store = ctx.approvals(),
                      .version = [&ctx] { return ctx.approvals_version(); },
                      .changed = [&ctx] { ctx.approvals_changed(); },
                      .webhook = s_.webhook(),
                      .marker = [this](const std::string& m) { recording_.marker(m); }};
  auto approval = PendingApproval::create(std::move(links), std::move(r), g.refusal);
  if (!approval) return;
  g.review_id = approval->id();
  g.refusal = "approval required";
  waiting_.emplace(g.review_id, Waiting{std::move(approval), d, req, scope});
}

std::optional<ChannelGate::Held> ChannelGate::poll_held(int64_t id) {
  const auto it = waiting_.find(id);
  if (it == waiting_.end()) {
    GateResult g;
    g.decision = Decision::deny("unknown approval request");
    g.refusal = g.decision.reason;
    return Held{ApprovalOutcome::denied, g};
  }
  PendingApproval& a = *it->second.approval;
  const int64_t now = unix_now();
  if (a.status_due(now)) messages_.status_line(a.status_line(now), false);
  const ApprovalOutcome o = a.poll(now);
  if (o == ApprovalOutcome::pending) return std::nullopt;
  messages_.status_line(a.status_line(unix_now()), true);
  Waiting w = std::move(it->second);
  waiting_.erase(it);
  if (o == ApprovalOutcome::approved) return Held{o, approved(std::move(w))};
  GateResult g;
  g.decision = Decision::deny("request #" + std::to_string(id) + " " + w.approval->refusal(o));
  g.decision.hook = Decision::Hook::approval;
  g.refusal = g.decision.reason;
  return Held{o, g};
}

GateResult ChannelGate::approved(Waiting w) {
  const std::string id = std::to_string(w.approval->id()), by = w.approval->voters();
  Decision d = std::move(w.decision);
  // Result columns are masked only by a source inside the channel.
  const bool masks = !d.mask.empty() || (w.scope != GateScope::channel && !d.column_masks.empty());
  d.verdict = masks ? Decision::Verdict::mask : Decision::Verdict::allow;
  d.reason = "approved in request #" + id + " by " + by;
  d.hook = Decision::Hook::approval;
  const std::string notice = "bastion: request #" + id + " approved by " + by;
  if (w.scope != GateScope::channel) {
    messages_.notice(notice);
    return pass(w.command, std::move(d), w.scope);
  }
  // A held channel: on record first, then the user hears of it.
  GateResult g = record(w.command, std::move(d), GateScope::channel);
  if (g.command_id < 0) return g;
  messages_.notice(notice);
  log_info("approval granted", {{"session", s_.id()}, {"request", id}, {"by", by}});
  apply(g, w.command, GateScope::channel);
  return g;
}

void ChannelGate::cancel(int64_t id, CancelCause cause) {
  const auto it = waiting_.find(id);
  if (it == waiting_.end()) return;
  Waiting& w = it->second;
  const int64_t now = unix_now();
  const bool channel = w.scope == GateScope::channel;
  // A held channel ends its status line; a source says itself what it cancelled.
  if (channel && cause == CancelCause::requester) messages_.status_line(w.approval->status_line(now), true);
  // The store's reason: a held command keeps "cancelled by the requester" however it ends (as before).
  w.approval->cancel(channel && cause == CancelCause::left ? "the requester left" : "cancelled by the requester", now);
  waiting_.erase(it);
}

void ChannelGate::cancel_all(CancelCause cause) {
  while (!waiting_.empty()) cancel(waiting_.begin()->first, cause);
}

GateResult ChannelGate::decide(const CommandRequest& req, GateScope scope) {
  std::string err;
  Policy* policy = s_.policy(*target_, err);
  if (policy) return pass(req, timed(s_.context().metrics().policy_decision(), [&] { return policy->decide(req); }), scope);
  log_error("policy unavailable", {{"session", s_.id()}, {"error", err}});
  return pass(req, bastion_deny("the policy is unavailable"), scope);
}

GateResult ChannelGate::submit(const CommandRequest& req) { return decide(req, GateScope::command); }

GateResult ChannelGate::submit_request(const CommandRequest& req) { return decide(req, GateScope::request); }

GateResult ChannelGate::refuse(const CommandRequest& req, const std::string& reason) {
  return pass(req, bastion_deny(reason), GateScope::command);
}

std::optional<GateResult> ChannelGate::poll_review(int64_t id) {
  auto held = poll_held(id);
  if (!held) return std::nullopt;
  return held->result;
}

void ChannelGate::cancel_review(int64_t id) { cancel(id, CancelCause::requester); }

int64_t ChannelGate::audit_only(const std::string& kind, const std::string& text, const Decision& d) {
  int64_t id = 0;
  s_.audit_decision(channel_, kind, text, d, "", id, "", target_);
  return id;
}

void ChannelGate::command_ended(int64_t command_id, const CommandOutcome& o) {
  output_.end_command();
  if (command_id > 0) end_row(statement_end(command_id, o, true));
}

void ChannelGate::request_ended(int64_t command_id, const CommandOutcome& o) {
  // No end_command(): the running command's masks stay.
  if (command_id > 0) end_row(statement_end(command_id, o, false));
}

CommandEnd ChannelGate::statement_end(int64_t command_id, const CommandOutcome& o, bool results) const {
  return {.command_id = command_id,
          .ended_at = "",
          .exit_status = o.status,
          .exit_signal = "",
          .bytes_in = o.bytes_in,
          .bytes_out = o.bytes_out,
          .recording_state = recording_state_name(recording_.state()),
          .rows = results ? o.rows : std::nullopt,
          .duration_us = o.duration_us,
          .error = o.error,
          .masked_columns = results ? o.masked_columns : ""};
}

void ChannelGate::end_row(CommandEnd e) {
  e.ended_at = iso8601_now();
  if (pending_ends_.empty()) oldest_end_at_ = monotonic_seconds();
  pending_ends_.push_back(std::move(e));
}

bool ChannelGate::flush_ends(const RecordingCheckpoint* checkpoint, std::string& error) {
  if (pending_ends_.empty() && !checkpoint) return true;
  const std::vector<CommandEnd> ends = std::move(pending_ends_);
  pending_ends_.clear();
  if (s_.audit().commands_ended(ends, checkpoint, error)) return true;
  log_error("audit write failed", {{"session", s_.id()}, {"error", error}});
  return false;
}

void ChannelGate::log_decision(const CommandRequest& req, const Decision& d) const {
  log_info("command", {{"session", s_.id()}, {"identity", s_.identity().key_id}, {"target", target_->name},
                       {"kind", req.kind}, {"text", req.text}, {"decision", d.name()}, {"reason", d.reason},
                       {"policy_at", d.source}});
}

CommandRequest ChannelGate::request(const std::string& kind, const std::string& text) const {
  return CommandRequest{.session = s_.session_request(*target_, tty_), .kind = kind, .text = text};
}

const std::string& ChannelGate::mask_key() const { return s_.mask_key(); }

}  // namespace bastion
