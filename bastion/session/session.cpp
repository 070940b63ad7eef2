#include "session/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <utility>

#include <poll.h>

#include <nlohmann/json.hpp>

#include "approvals/approval.h"
#include "auth/cert_verifier.h"
#include "common/log.h"
#include "common/time_util.h"
#include "session/session_wakeup.h"
#include "auth/ssh_certificate.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {
constexpr int kHoldPollMs = 50;
constexpr int64_t kExpiryWarning = 60;  // seconds before certificate expiry
constexpr double kLingerSeconds = 2.0;  // wait for the client to leave after the last channel
// Once ended, a session is cut off after this long even if a channel still
// has output the client will not read (a closed window must not keep it alive).
constexpr double kEndGraceSeconds = 5.0;
constexpr int kMaxRefusedRequests = 16;        // forwarding and the like, per session
constexpr std::size_t kMaxRequestText = 256;  // of a refused request, in the log and audit row
constexpr std::size_t kMaxPendingNotices = 4;  // refusals told before any channel runs

// The kind a session is counted under: its target's, or the bastion's own target's.
std::string session_kind(const Config& c, const std::string& target) {
  if (const auto it = c.targets.find(target); it != c.targets.end()) return it->second.type;
  if (target == c.approvals.target) return "approvals";
  if (target == c.approvals.access_target) return "access";
  if (target == WebConfig::kLoginTarget) return "audit";
  return "unknown";
}

// The stricter of two session options (0 or less: no limit).
std::optional<int> stricter(std::optional<int> a, std::optional<int> b) {
  if (!a || *a <= 0) return b ? b : a;
  if (!b || *b <= 0) return a;
  return std::min(*a, *b);
}

// A commands row's details with the channel's target added first (the
// facts' own keys and order kept; facts that already use the key, or are no
// object, go whole under "facts" rather than lose anything).
std::string details_with_target(const std::string& details, const std::string& target) {
  constexpr const char* kKey = "channel_target";
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j[kKey] = target;
  if (!details.empty()) {
    const auto facts = nlohmann::ordered_json::parse(details, nullptr, false);
    if (facts.is_object() && !facts.contains(kKey))
      for (const auto& [k, v] : facts.items()) j[k] = v;
    else
      j["facts"] = facts.is_discarded() ? nlohmann::ordered_json(details) : facts;
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}
}  // namespace

Session::Session(ServerContext& ctx, std::shared_ptr<const Config> cfg, ssh_session client,
                 Identity identity, std::string id)
    : ctx_(ctx), cfg_(std::move(cfg)), client_(client), identity_(std::move(identity)),
      id_(std::move(id)),
      live_(ctx.live_sessions(), {id_, identity_.key_id, identity_.requested_user,
                                  session_kind(*cfg_, identity_.requested_user), identity_.source_address, unix_now()}) {
  started_ = last_activity_ = monotonic_seconds();
  seen_config_ = cfg_;
  instance_generation_ = ctx.instance_generation();
  started_unix_ = unix_now();
  builtin_approvals_.name = cfg_->approvals.target;
  builtin_approvals_.type = "approvals";
  builtin_approvals_.builtin = BuiltinTarget::approvals;
  builtin_access_.name = cfg_->approvals.access_target;
  builtin_access_.type = "access";
  builtin_access_.builtin = BuiltinTarget::access;
  builtin_audit_.name = WebConfig::kLoginTarget;
  builtin_audit_.type = "audit";
  builtin_audit_.builtin = BuiltinTarget::audit;
}

Session::~Session() {
  release_channels([](const ChannelPipeline&) { return true; });  // before the upstreams
  upstreams_.clear();
  SessionEnd e{id_, iso8601_now(), end_reason_, last_exit_, bytes_in_, bytes_out_, picked_ ? identity_.requested_user : ""};
  std::string err;
  if (!ctx_.audit().session_ended(e, err)) log_error("audit write failed", {{"session", id_}, {"error", err}});
  log_info("session closed", {{"session", id_}, {"identity", identity_.key_id}, {"reason", e.end_reason},
                              {"bytes_in", std::to_string(bytes_in_)}, {"bytes_out", std::to_string(bytes_out_)}});
}

ssh_channel Session::open_channel() {
  // An ended session (expiry, revoked grant, limits, shutdown) starts
  // nothing new, whatever its old channels are still doing.
  if (!end_reason_.empty()) return nullptr;
  if (!may_open_channel()) return nullptr;
  ssh_channel ch = ssh_channel_new(client_);
  if (!ch) return nullptr;
  channels_.push_back(std::make_unique<ChannelPipeline>(*this, ch, next_index_++));
  return ch;
}

ssh_channel Session::open_tunnel(ssh_message msg, std::string& refusal) {
  const char* host = ssh_message_channel_request_open_destination(msg);
  const int port = ssh_message_channel_request_open_destination_port(msg);
  const std::string dest = std::string(host ? host : "") + ":" + std::to_string(port);
  if (!end_reason_.empty()) return refusal = "the session has ended", nullptr;
  std::string why;
  const TargetConfig* t = target_config(why);
  const int tunnel_port = t && t->schema ? kind_of(*t).tunnel_port() : 0;
  if (!tunnel_port) return refusal = "port forwarding is not allowed", nullptr;
  // Only the target itself, by its own name: `ssh -L LOCAL:TARGET:PORT`.
  if (!host || host != t->name || port != tunnel_port)
    return refusal = "port forwarding is not allowed (a " + t->type + " target forwards only " + t->name + ":" +
                     std::to_string(tunnel_port) + ")", nullptr;
  // As OpenSSH: a certificate without permit-port-forwarding, or one bound
  // to a forced command, forwards nothing.
  if (!identity_.extensions.contains("permit-port-forwarding"))
    return refusal = "your certificate does not permit port forwarding", nullptr;
  if (identity_.force_command) return refusal = "your certificate is restricted to a forced command", nullptr;
  if (!may_open_channel()) return refusal = "too many channels", nullptr;
  ssh_channel ch = ssh_message_channel_request_open_reply_accept(msg);
  if (!ch) return refusal = "cannot open the channel", nullptr;
  channels_.push_back(std::make_unique<ChannelPipeline>(*this, ch, next_index_++));
  channels_.back()->open_tunnel(dest);
  return ch;
}

bool Session::sandbox_uid(std::optional<uint32_t>& uid) {
  uid.reset();
  if (geteuid() != 0) return true;  // children run as bastiond's own (unprivileged) user
  if (!sandbox_uid_) {
    const auto id = ctx_.sandbox_uids().acquire();
    if (!id) return false;
    sandbox_uid_.emplace(ctx_.sandbox_uids(), *id);
  }
  uid = sandbox_uid_->id();
  return true;
}

ClientAccess Session::client_access(const TargetConfig& t) const {
  const ClientAccessIdentity* id = ctx_.client_access_identity(t.type);
  if (!id || !identity_.certificate || !t.schema) return {};
  return kind_of(t).client_access(*id, t.name, identity_.certificate->signed_data);
}

void Session::refuse_request(const std::string& kind, const std::string& what_raw,
                             const std::string& reason) {
  // Each refusal is a log line and an audit row: a client pipelining
  // refused requests must not fill the disk (and so lock every user out
  // when the audit store fails). Past a few, the session ends.
  if (++refused_requests_ > kMaxRefusedRequests) {
    if (end_reason_.empty()) {
      log_warn("too many refused requests; ending the session", {{"session", id_}, {"identity", identity_.key_id}});
      // Called from inside libssh's event poll: ending channels here would
      // stop their executors, which take their descriptors out of that very
      // poll while it iterates them. The session loop ends them (nothing new
      // starts meanwhile: end_reason_ is set).
      end_reason_ = "too many refused requests";
      deferred_end_ = "bastion: too many refused requests; session closed";
    }
    return;
  }
  const std::string what = what_raw.size() > kMaxRequestText ? what_raw.substr(0, kMaxRequestText) + "..." : what_raw;
  log_warn("request refused", {{"session", id_}, {"identity", identity_.key_id}, {"kind", kind},
                               {"request", what}, {"reason", reason}});
  // The SSH refusal itself carries no text (libssh 0.10 sends an empty
  // description: OpenSSH shows "administratively prohibited: "), so the
  // reason reaches the user on the session's channel: now, or on the first
  // one that runs.
  const std::string line = "bastion: refused " + what + ": " + reason;
  if (std::none_of(channels_.begin(), channels_.end(), [](auto& c) { return c->running(); })) {
    if (pending_notices_.size() < kMaxPendingNotices) pending_notices_.push_back(line);
  } else {
    for_each_channel([&](ChannelPipeline& ch) {
      if (ch.running()) ch.notice(line);
    });
  }
  CommandStart c{id_, -1, iso8601_now(), kind, what, "deny", reason, "", "", "bastion", "", ""};
  int64_t row;
  std::string err;
  if (!ctx_.audit().command_started(c, row, err)) log_error("audit write failed", {{"session", id_}, {"error", err}});
}

const TargetConfig* Session::target_config(std::string& refusal) {
  return target_config(identity_.requested_user, refusal);
}

const TargetConfig* Session::target_config(const std::string& name, std::string& refusal) {
  // The reserved targets: every authenticated user may use them; what each
  // may do there is decided per request (approvers, four eyes).
  if (name == cfg_->approvals.target) return &builtin_approvals_;
  if (name == cfg_->approvals.access_target) return &builtin_access_;
  if (name == WebConfig::kLoginTarget) return &builtin_audit_;
  const auto it = cfg_->targets.find(name);
  if (it == cfg_->targets.end()) {
    refusal = "unknown target \"" + name + "\"";
    return nullptr;
  }
  for (const auto& p : identity_.principals)
    if (std::find(it->second.allow.begin(), it->second.allow.end(), p) != it->second.allow.end())
      return &it->second;
  // No standing access: a just-in-time grant may let the user in until it ends.
  const auto known = upstreams_.find(name);
  if ((known == upstreams_.end() || !known->second.grant) && ctx_.approvals()) {
    std::string err;
    const auto g = ctx_.approvals()->active_grant(identity_.key_id, it->first, unix_now(), err);
    if (g) {
      upstreams_[name].grant = SessionRequest::Grant{g->id, g->decided_by, g->reason, g->grant_expires_at};
      log_info("session uses an access grant", {{"session", id_}, {"target", name}, {"grant", std::to_string(g->id)},
                                                 {"expires", iso8601(g->grant_expires_at)}});
    }
  }
  // A grant held from earlier counts until its known end, not until the next poll.
  if (const auto u = upstreams_.find(name);
      u != upstreams_.end() && u->second.grant && unix_now() < u->second.grant->expires_at)
    return &it->second;
  // What next: a target with approvers takes access requests (the syntax of
  // ApprovalCommands' `request`).
  refusal = "access to target \"" + it->first + "\" is not allowed for " + identity_.key_id +
            (it->second.approvers.empty() ? "" : "; request access with: ssh " + cfg_->approvals.access_target +
             "@bastion request " + it->first + " --for 1h --reason \"...\"");
  return nullptr;
}

const TargetConfig* Session::channel_target(const std::string& name, std::string& refusal) {
  if (name == cfg_->approvals.target) return &builtin_approvals_;
  if (name == cfg_->approvals.access_target) return &builtin_access_;
  if (!cfg_->targets.contains(name)) return refusal = "bastion: unknown target \"" + name + "\"", nullptr;
  if (const auto u = upstreams_.find(name); u != upstreams_.end() && !u->second.withdrawn.empty())
    return refusal = u->second.withdrawn, nullptr;
  // Upstreams held now (admitted, not withdrawn), this one aside: a client
  // must not make the bastion hold connections to every target at once.
  const auto held = std::count_if(upstreams_.begin(), upstreams_.end(), [&](const auto& e) {
    return e.first != name && e.second.admitted && e.second.withdrawn.empty() && cfg_->targets.contains(e.first);
  });
  if (held >= cfg_->limits.max_targets_per_session)
    return refusal = "bastion: too many targets on one connection (limits.max_targets_per_session = " +
                     std::to_string(cfg_->limits.max_targets_per_session) + ")",
           nullptr;
  std::string why;
  const TargetConfig* t = target_config(name, why);
  if (!t) return refusal = "bastion: " + why, nullptr;
  // The live configuration must allow it too: a reload that removed the
  // target or the identity's access closes the way to new channels as it
  // ends running ones (recheck_access).
  if (const auto cur = ctx_.config(); cur && cur != cfg_) {
    if (const auto [line, reason] = access_withdrawn(*cur, name, upstreams_[name]); !line.empty()) {
      (void)reason;
      return refusal = "bastion: access to target \"" + name + "\" is not allowed for " + identity_.key_id, nullptr;
    }
  }
  return t;
}

bool Session::has_channel_targets() const {
  return unknown_target() &&
         std::any_of(upstreams_.begin(), upstreams_.end(), [](const auto& e) { return e.second.admitted; });
}

bool Session::names_target(const std::string& name) const {
  return name == cfg_->approvals.target || name == cfg_->approvals.access_target || name == WebConfig::kLoginTarget ||
         cfg_->targets.contains(name);
}

bool Session::unknown_target() const {
  const std::string& u = identity_.requested_user;
  return u != cfg_->approvals.target && u != cfg_->approvals.access_target && u != WebConfig::kLoginTarget &&
         !cfg_->targets.contains(u);
}

std::vector<std::string> Session::usable_targets(bool tty) {
  // Usable both in the configuration this session started with (which
  // target_config() and target() read) and in the live one: a reload that
  // withdrew a target (or the identity's access to it) closes the picker's
  // way in too, as recheck_access() closes a running session's.
  std::vector<std::string> out = usable_targets_in(*cfg_, tty);
  if (const auto cur = ctx_.config(); cur && cur != cfg_) {
    const std::vector<std::string> live = usable_targets_in(*cur, tty);
    std::erase_if(out, [&](const std::string& n) { return std::find(live.begin(), live.end(), n) == live.end(); });
  }
  return out;
}

std::vector<std::string> Session::usable_targets_in(const Config& cfg, bool tty) {
  std::vector<std::string> out;
  const int64_t now = unix_now();
  for (const auto& entry : cfg.targets) {
    const std::string& name = entry.first;
    const TargetConfig& t = entry.second;  // named, not bound: lambdas capture it (clang 14)
    bool allowed = std::any_of(identity_.principals.begin(), identity_.principals.end(), [&](const std::string& p) {
      return std::find(t.allow.begin(), t.allow.end(), p) != t.allow.end();
    });
    std::optional<SessionRequest::Grant> grant;
    if (!allowed && ctx_.approvals()) {
      std::string err;
      if (const auto g = ctx_.approvals()->active_grant(identity_.key_id, name, now, err)) {
        grant = SessionRequest::Grant{g->id, g->decided_by, g->reason, g->grant_expires_at};
        allowed = true;
      }
    }
    if (!allowed) continue;
    // The session decision, as admit() would ask it (fail closed: a policy
    // that cannot be built lists nothing).
    Decision d = Decision::allow();
    if (cfg.policy || t.policy) {
      std::string err;
      const auto chain = PolicyChain::create(cfg.policy, t.policy, cfg.policy_default, err);
      if (!chain) continue;
      SessionRequest r = session_request(t, tty);
      r.grant = grant;
      r.listing = true;  // s.session.listing: the policy can tell this from a session
      d = chain->decide_session(r);
    }
    if (d.allowed() && t.credential(d.credential.empty() ? "default" : d.credential)) out.push_back(name);
  }
  return out;
}

Session::Pick Session::choose_target(const std::string& name, bool tty) {
  if (!unknown_target() || has_channel_targets()) return Pick::refused;
  const auto usable = usable_targets(tty);
  if (std::find(usable.begin(), usable.end(), name) == usable.end()) return Pick::refused;
  // The sessions row names the target while it runs (and if bastiond dies
  // before the end is written), not the login name.
  std::string err;
  if (!ctx_.audit().session_retargeted(id_, name, err)) {
    log_error("audit write failed", {{"session", id_}, {"error", err}});
    return Pick::audit_failed;
  }
  log_info("target picked", {{"session", id_}, {"identity", identity_.key_id}, {"login_name", identity_.requested_user},
                             {"target", name}});
  identity_.requested_user = name;
  picked_ = true;
  live_.retarget(name, session_kind(*cfg_, name));  // operators see where it runs
  return Pick::picked;
}

std::shared_ptr<TargetConnection> Session::target(const TargetConfig& t, std::string& error) {
  SessionUpstream& up = upstreams_[t.name];
  // A connection that may carry one channel at a time (busy) serves a second
  // one running at once with a connection of its own, made the same way and
  // owned by that channel alone.
  const bool own = up.conn && up.conn->connected() && up.conn->busy();
  if (up.conn && up.conn->connected() && !own) return up.conn;
  if (!up.withdrawn.empty()) return error = up.withdrawn.substr(up.withdrawn.find(' ') + 1), nullptr;
  // A lost connection may still be used by other channels' executors: they
  // share its ownership, so replacing it here frees nothing under them (it
  // stays in the event until its last user lets go, so they see it end).
  const TargetConfig* dest = &t;
  // Held until the connect returns: dest and cred point into it, and a
  // second reload during a slow connect must not free them.
  const auto live = ctx_.config();
  if (live && t.builtin == BuiltinTarget::none) {
    // A reload the session loop has not rechecked yet (it does after the
    // channels' steps): a new onward connection needs the live
    // configuration to accept this certificate and grant this target.
    if (live != seen_config_) {
      if (const std::string why = certificate_refusal(*live, unix_now()); !why.empty())
        return error = "your certificate is no longer accepted (" + why + ")", nullptr;
      if (const auto [line, reason] = access_withdrawn(*live, t.name, up); !line.empty())
        return error = line.substr(line.find(' ') + 1), nullptr;
    }
    // on_session decided under the live configuration, or no new onward
    // connection: one made now would go where, and as whom, a reload says,
    // under a decision that never saw it. (Connections already open serve
    // their channels on, as a running shell does, until a reload withdraws
    // their access.)
    if (up.admitted && up.admitted_under.lock() != live) {
      error = "target \"" + t.name + "\" was reconfigured after this connection was let in; connect again";
      // A connection whose user name named the target has no other use: it
      // ends (from the loop, not inside this channel's start), so a client
      // sharing it (ControlMaster) opens a new one, decided afresh, at its
      // next command instead of meeting this refusal until it is told to
      // exit. A shared connection's target is decided again once its last
      // channel closed.
      if (!unknown_target() && end_reason_.empty()) {
        end_reason_ = "target reconfigured";
        deferred_end_ = "bastion: " + error + "; session closed";
      }
      return nullptr;
    }
    const auto it = live->targets.find(t.name);
    if (it == live->targets.end() || it->second.type != t.type)
      return error = "target '" + t.name + "' was removed by a configuration reload", nullptr;
    dest = &it->second;  // the decision's own configuration: its address, keys, credential
  }
  const HeldCredential* cred = up.admitted ? dest->credential(up.credential) : nullptr;  // chosen by admit(), which comes first
  if (!cred) return error = "target '" + t.name + "' holds no credential '" + up.credential + "'", nullptr;
  std::unique_ptr<TargetConnection> fresh = timed(ctx_.metrics().upstream_connect(t.type), [&] {
    return kind_of(*dest).connect_for(*dest, *cred, ConnectContext{id_, identity_.key_id, &ctx_.audit()}, error);
  });
  if (!fresh) {
    log_error("target connection failed", {{"session", id_}, {"target", t.name}, {"error", error}});
    return nullptr;
  }
  fresh->attach(ev_);
  log_info("target connected",
           {{"session", id_}, {"target", t.name}, {"credential", up.credential}, {"own", own ? "channel" : "session"}});
  if (own) return std::shared_ptr<TargetConnection>(std::move(fresh));
  up.conn = std::move(fresh);
  return up.conn;
}

void Session::touch(const std::string& target) {
  last_activity_ = monotonic_seconds();
  if (const auto u = upstreams_.find(target); !target.empty() && u != upstreams_.end())
    u->second.last_activity = last_activity_;
}

Policy* Session::policy(const TargetConfig& t, std::string& error) {
  // A reload applies to sessions in flight only where the new config still
  // describes this session's target (same name, same kind); otherwise the
  // session keeps the policy it started with. Never a fallback to allow-all.
  const auto cur = ctx_.config();
  const bool reserved = t.builtin != BuiltinTarget::none;
  const auto it = cur->targets.find(t.name);
  const bool live = reserved || (it != cur->targets.end() && it->second.type == t.type);
  const Config& from = live ? *cur : *cfg_;
  auto global = from.policy;
  auto target = reserved ? nullptr : (live ? it->second.policy : t.policy);
  SessionUpstream& up = upstreams_[t.name];
  up.policy_under = cur;
  if (!live && !up.kept_policy_logged) {
    up.kept_policy_logged = true;
    log_warn("target gone from the reloaded config; session keeps its starting policy",
             {{"session", id_}, {"target", t.name}});
  }
  if (!global && !target) {
    if (!allow_all_) allow_all_ = std::make_unique<AllowAllPolicy>();
    return allow_all_.get();
  }
  if (!up.chain || !up.chain->built_from(global.get(), target.get())) {
    up.chain = PolicyChain::create(global, target, from.policy_default, error);
    up.chain_global = global;
    up.chain_target = target;
    if (up.chain) log_info("policy loaded", {{"session", id_}, {"for", t.name},
                                             {"global", global ? global->hash.substr(0, 12) : ""},
                                             {"target", target ? target->hash.substr(0, 12) : ""}});
  }
  return up.chain.get();
}

SessionRequest Session::session_request(const TargetConfig& t, bool tty) const {
  SessionRequest r;
  r.session_id = id_;
  r.identity = identity_.key_id;
  r.principals = identity_.principals;
  r.source_address = identity_.source_address;
  r.cert_serial = identity_.serial;
  r.cert_valid_before = identity_.valid_before;
  r.cert_extensions = identity_.extensions;
  r.target = t.name;
  r.target_type = t.type;
  // The labels the live policy (policy()) judges by: the live target's,
  // while it is the same target (a reload that relabelled it applies).
  r.target_labels = t.labels;
  if (const auto cur = ctx_.config(); cur && t.builtin == BuiltinTarget::none)
    if (const auto it = cur->targets.find(t.name); it != cur->targets.end() && it->second.type == t.type)
      r.target_labels = it->second.labels;
  r.started_at = started_unix_;
  r.tty = tty;
  if (const auto u = upstreams_.find(t.name); u != upstreams_.end()) {
    r.grant = u->second.grant;
    r.credential = u->second.credential;
  }
  return r;
}

bool Session::record_input(const std::string& target) const {
  const auto u = upstreams_.find(target);
  const std::optional<bool> opt = u != upstreams_.end() ? u->second.options.record_input : std::nullopt;
  return opt.value_or(cfg_->record_input);
}

void Session::audit_decision(int channel, const std::string& kind, const std::string& text, const Decision& d,
                             const std::string& recording, int64_t& id, const std::string& details,
                             const TargetConfig* target) {
  const CommandStart c{.session_id = id_,
                       .channel = channel,
                       .at = iso8601_now(),
                       .kind = kind,
                       .text = text,
                       .decision = d.name(),
                       .reason = d.reason,
                       .recording = recording,
                       .policy_hash = d.policy_hash,
                       .policy_hook = d.hook_name(),
                       .policy_source = d.source,
                       .details = target && unknown_target() ? details_with_target(details, target->name) : details};
  std::string err;
  id = 0;
  ctx_.metrics().decision(d.name());
  if (!ctx_.audit().command_started(c, id, err)) {
    log_error("audit write failed", {{"session", id_}, {"error", err}});
    id = -1;
  }
}

void Session::channel_finished(const ChannelTotals& t) {
  bytes_in_ += t.bytes_in;
  bytes_out_ += t.bytes_out;
  if (t.exit_status) last_exit_ = t.exit_status;
  // The session's end reason names a channel the bastion refused or ended.
  if (t.end_reason != "completed" && t.end_reason != "client closed") channel_reason_ = t.end_reason;
}

bool Session::admit(Policy& policy, const TargetConfig& t, bool tty, std::string& refusal) {
  SessionUpstream& up = upstreams_[t.name];
  if (up.admitted) return true;
  // The configuration this decision is made under: the one read now, if the
  // policy came from it and no reload lands before the decision is written.
  const auto decided_under = ctx_.config();
  if (!up.denial.empty()) return refusal = up.denial, false;
  Decision d = timed(ctx_.metrics().policy_decision(), [&] { return policy.decide_session(session_request(t, tty)); });
  // The credential the session connects with: the one on_session named, or
  // "default". One the target does not hold refuses the session: never a
  // fallback to another (the policy meant less privilege, or more care).
  const bool reserved = t.builtin != BuiltinTarget::none;
  const std::string credential = d.credential.empty() ? "default" : d.credential;
  std::string message;
  // A reload may have withdrawn the credential (or the target) since this
  // connection logged in: the live configuration must hold it too, as a
  // running session on it would be ended (recheck_access).
  bool live_holds = true;
  if (const auto live = ctx_.config(); live && !reserved) {
    const auto it = live->targets.find(t.name);
    live_holds = it != live->targets.end() && it->second.type == t.type && it->second.credential(credential);
  }
  if (d.allowed() && !reserved && (!t.credential(credential) || !live_holds)) {
    std::string held;
    for (const auto& [name, c] : t.credentials) held += (held.empty() ? "" : ", ") + name;
    d.verdict = Decision::Verdict::deny;
    d.reason = "target '" + t.name + "' holds no credential '" + credential + "'" +
               (d.credential.empty() ? " (the policy must choose one of: " + held + ")" : "");
    message = "bastion: " + d.reason;
  }
  std::string details;
  if (!reserved) details = nlohmann::json{{"credential", credential}}.dump();
  int64_t row;
  audit_decision(-1, "session", "", d, "", row, details, &t);
  log_info("session decision", {{"session", id_}, {"decision", d.name()}, {"reason", d.reason}, {"at", d.source},
                                {"credential", reserved ? "" : credential}});
  if (row < 0) return refusal = up.denial = "bastion: session denied: the audit store is unavailable", false;
  if (!d.allowed()) {
    up.denial = !message.empty() ? message
                                 : "bastion: session denied: " + (d.reason.empty() ? "denied by policy" : d.reason);
    return refusal = up.denial, false;
  }
  if (!reserved) up.credential = credential;
  if (ctx_.config() == decided_under && up.policy_under.lock() == decided_under) up.admitted_under = decided_under;
  up.options = d.options;
  up.last_activity = monotonic_seconds();
  // The session's own deadlines: the strictest any of its targets set.
  options_.idle_timeout = stricter(options_.idle_timeout, d.options.idle_timeout);
  options_.max_session_length = stricter(options_.max_session_length, d.options.max_session_length);
  up.admitted = true;
  return true;
}

bool Session::holding_output() const {
  return std::any_of(channels_.begin(), channels_.end(), [](const auto& c) { return c->holding_output(); });
}

int Session::idle_poll_ms() const {
  // Masked output held back for a possible straddling match is released
  // after a short quiet period; a channel may wait for something (a shell
  // line's echo to settle, an approval, a recording checkpoint). Besides
  // those, the session sleeps until its own nearest deadline.
  std::optional<int> channels_ms;
  if (holding_output()) channels_ms = kHoldPollMs;
  for (const auto& c : channels_)
    if (const auto w = c->wants_wakeup_ms()) channels_ms = std::min(channels_ms.value_or(*w), *w);
  const double mono = monotonic_seconds();
  if (unknown_target())
    for (const auto& [name, up] : upstreams_) {
      const int idle = up.options.idle_timeout.value_or(0);
      if (!up.admitted || !up.withdrawn.empty() || idle <= 0) continue;
      const int w = std::max(0, static_cast<int>(std::ceil((up.last_activity + idle - mono) * 1000.0)));
      channels_ms = std::min(channels_ms.value_or(w), w);
    }
  const double unix_frac =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  SessionDeadlines d;
  d.mono_now = mono;
  d.unix_now = unix_frac;
  d.cert_expiry = static_cast<int64_t>(std::min<uint64_t>(identity_.valid_before, INT64_MAX));
  d.expiry_warning = kExpiryWarning;
  d.expiry_warned = expiry_warned_;
  d.any_running = std::any_of(channels_.begin(), channels_.end(), [](auto& c) { return c->running(); });
  for (const auto& [name, up] : upstreams_)
    if (up.grant && up.withdrawn.empty()) {
      const int64_t due = std::min(up.next_grant_check, up.grant->expires_at);
      d.next_grant_check = std::min(d.next_grant_check.value_or(due), due);
    }
  d.started = started_;
  d.max_session_length = options_.max_session_length.value_or(cfg_->limits.max_session_length);
  d.last_activity = last_activity_;
  d.idle_timeout = options_.idle_timeout.value_or(cfg_->limits.idle_timeout);
  d.channels_ms = channels_ms;
  d.woken_by_others = waker_ && waker_->fd() >= 0;
  d.ended = !end_reason_.empty() || !deferred_end_.empty();
  d.last_moved = last_moved_;
  return session_sleep_ms(d);
}

// libssh may run the channel-open callback (and so append to channels_)
// from inside any call that reads packets, e.g. a channel read in step().
// Walk by index, re-reading the size, so growth cannot invalidate the walk.
template <typename F>
void Session::for_each_channel(F&& f) {
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    ChannelPipeline* c = channels_[i].get();
    f(*c);
  }
}

// A channel's destructor talks to libssh (close, free), which may read
// packets and so run the channel-open callback: the list must be whole and
// consistent while any destructor runs. Take the channels out first, then
// let them go.
template <typename Pred>
void Session::release_channels(Pred&& which) {
  // Kept channels are taken while their pipelines are still listed (and
  // counted): taking one reads libssh, which may run a channel open.
  for (std::size_t i = 0; i < channels_.size(); ++i)
    if (which(std::as_const(*channels_[i]))) closing_.adopt(channels_[i]->take_unanswered());
  std::vector<std::unique_ptr<ChannelPipeline>> going;
  for (auto& c : channels_)
    if (which(std::as_const(*c))) going.push_back(std::move(c));
  std::erase(channels_, nullptr);
  going.clear();
  closing_.prune();
}

// At most max_channels_per_session running; besides, channels the bastion
// closed whose client has not answered yet (libssh keeps them until then)
// count against as many again: a client that never answers keeps no more
// than twice the limit, and one slow to answer (OpenSSH answers once it has
// written the channel's output locally) is not refused for it.
bool Session::may_open_channel() const {
  const int max = cfg_->limits.max_channels_per_session;
  const auto live = std::count_if(channels_.begin(), channels_.end(), [](auto& c) { return !c->done(); });
  // Done ones not released yet (a libssh call later in the pass may run this).
  const auto waiting = std::count_if(channels_.begin(), channels_.end(), [](auto& c) { return c->awaiting_answer(); });
  return live < max && live + waiting + static_cast<long>(closing_.unanswered()) < 2L * max;
}

void Session::end_all(const std::string& message, const std::string& reason) {
  if (end_reason_.empty()) end_reason_ = reason;
  for_each_channel([&](ChannelPipeline& c) { c.terminate(message, reason); });
}

std::string Session::certificate_refusal(const Config& cur, int64_t now) const {
  if (!identity_.certificate) return {};
  TrustAnchors anchors{cur.user_cas, cur.revoked.get(), cur.cert_clock_skew};
  const CertVerdict v = verify_user_certificate(*identity_.certificate, anchors, now, identity_.source_address);
  return v.accepted ? std::string() : v.reason.empty() ? std::string("refused") : v.reason;
}

// A reload can take access away from sessions already open: a revoked
// certificate or a CA no longer trusted, a target removed, or principals no
// longer in its allow. Those sessions end, as a new login would be refused.
void Session::recheck_access(const Config& cur, int64_t now) {
  if (const std::string why = certificate_refusal(cur, now); !why.empty()) {
    log_info("access withdrawn by reload", {{"session", id_}, {"identity", identity_.key_id}, {"why", why}});
    return end_all("bastion: your certificate is no longer accepted (" + why + "); session closed",
                   "certificate no longer accepted");
  }
  // Each target the session uses, checked on its own: on a connection of
  // many targets, one withdrawn ends only its channels.
  std::vector<std::string> names;
  if (!unknown_target()) names.push_back(identity_.requested_user);
  else
    for (const auto& [name, up] : upstreams_)
      if (up.admitted && up.withdrawn.empty()) names.push_back(name);
  for (const auto& name : names) {
    const auto [line, reason] = access_withdrawn(cur, name, upstreams_[name]);
    if (line.empty()) continue;
    log_info("access withdrawn by reload", {{"session", id_}, {"target", name}, {"why", reason}});
    end_target(name, line, reason);
    if (!end_reason_.empty()) return;
  }
}

std::pair<std::string, std::string> Session::access_withdrawn(const Config& cur, const std::string& name,
                                                              const SessionUpstream& up) const {
  const auto was = cfg_->targets.find(name);
  if (was == cfg_->targets.end()) return {};  // a reserved target, or none (its channels are refused anyway)
  const auto it = cur.targets.find(name);
  if (it == cur.targets.end() || it->second.type != was->second.type)
    return {"bastion: target \"" + name + "\" was removed from the configuration", "target removed"};
  // The credential the session connected with was withdrawn: as with a
  // removed target, the channels end rather than keep a role the
  // configuration no longer grants.
  if (!up.credential.empty() && !it->second.credential(up.credential))
    return {"bastion: target '" + name + "' no longer holds credential '" + up.credential + "'", "credential removed"};
  if (up.grant) return {};  // a just-in-time grant is checked on its own
  for (const auto& p : identity_.principals)
    if (std::find(it->second.allow.begin(), it->second.allow.end(), p) != it->second.allow.end()) return {};
  return {"bastion: your access to \"" + name + "\" was withdrawn", "access withdrawn"};
}

void Session::end_target(const std::string& name, const std::string& message, const std::string& reason) {
  // One target per connection (the login named it): the session ends, as before.
  if (!unknown_target()) return end_all(message + "; session closed", reason);
  auto& up = upstreams_[name];
  up.withdrawn = message + "; its channels were closed";
  for_each_channel([&](ChannelPipeline& c) {
    if (c.target_name() == name) c.terminate(up.withdrawn, reason);
  });
  // Nothing starts on it again: the onward connection (authenticated with
  // what was withdrawn) goes now, not at the session's end. Executors still
  // holding it let go when their channels are released.
  up.conn.reset();
}

void Session::check_grants(int64_t now) {
  for (auto& [name, up] : upstreams_) {
    // Expiry is known (checked every pass); a revocation is polled.
    if (!up.grant || !up.withdrawn.empty() || (now < up.next_grant_check && now < up.grant->expires_at)) continue;
    // A revocation (here or by another bastion) is polled.
    up.next_grant_check = now + 2;
    std::string why;
    if (now >= up.grant->expires_at) {
      why = "expired";
    } else if (ctx_.approvals()) {
      std::string err;
      const auto r = ctx_.approvals()->request(up.grant->id, err);
      if (r && effective_state(*r, now) != ApprovalState::approved) why = approval_state_name(effective_state(*r, now));
    }
    if (why.empty()) continue;
    log_info("access grant ended", {{"session", id_}, {"target", name}, {"grant", std::to_string(up.grant->id)},
                                    {"why", why}});
    const std::string target = name;  // end_target may not outlive the binding's use
    end_target(target, "bastion: your access grant #" + std::to_string(up.grant->id) + " has " +
                           (why == "expired" ? "expired" : "been " + why),
               "grant " + why);
    if (!end_reason_.empty()) return;
  }
}

void Session::prune_upstreams() {
  for (auto it = upstreams_.begin(); it != upstreams_.end();) {
    const std::string& name = it->first;
    SessionUpstream& up = it->second;
    const bool used = std::any_of(channels_.begin(), channels_.end(),
                                  [&](const auto& c) { return c && c->target_name() == name; });
    if (!unknown_target()) {
      // The login's own target: its decision stays for the session; a lost
      // connection is let go once no channel uses it.
      if (up.conn && !up.conn->connected() && channels_.empty()) up.conn.reset();
      ++it;
    } else if (!used && up.withdrawn.empty()) {
      // Closed with its last channel; a later channel asks on_session again.
      if (up.conn) log_info("target closed", {{"session", id_}, {"target", name}});
      it = upstreams_.erase(it);
    } else {
      ++it;
    }
  }
}

void Session::check_target_idle(double mono) {
  if (!unknown_target()) return;  // one target: the session's own idle timeout is its
  for (auto& [name, up] : upstreams_) {
    const int idle = up.options.idle_timeout.value_or(0);
    if (!up.admitted || !up.withdrawn.empty() || idle <= 0 || mono - up.last_activity < idle) continue;
    up.last_activity = mono;  // told once; its upstream closes with its last channel
    const std::string target = name;
    log_info("target idle", {{"session", id_}, {"target", target}});
    for_each_channel([&](ChannelPipeline& c) {
      if (c.target_name() == target)
        c.terminate("bastion: idle timeout on \"" + target + "\"; its channels were closed", "idle timeout");
    });
  }
}

void Session::check_deadlines() {
  if (!deferred_end_.empty()) {
    const std::string message = std::move(deferred_end_);
    deferred_end_.clear();
    end_all(message, end_reason_);
  }
  if (!end_reason_.empty()) return;
  if (ctx_.instance_generation() != instance_generation_) {
    log_info("session ended: this instance was declared stopped", {{"session", id_}, {"identity", identity_.key_id}});
    return end_all("bastion: this bastion instance missed its heartbeats and was declared stopped by another; "
                   "the audit shows this session as interrupted; session closed",
                   "instance declared stopped");
  }
  const int64_t now = unix_now();
  if (const auto cur = ctx_.config(); cur != seen_config_) {
    seen_config_ = cur;
    recheck_access(*cur, now);
    if (!end_reason_.empty()) return;
  }
  const auto expiry = static_cast<int64_t>(std::min<uint64_t>(identity_.valid_before, INT64_MAX));
  if (now >= expiry) {
    log_info("certificate expired", {{"session", id_}, {"identity", identity_.key_id}});
    return end_all("bastion: your certificate has expired; session closed", "certificate expired");
  }
  const bool any_running = std::any_of(channels_.begin(), channels_.end(), [](auto& c) { return c->running(); });
  if (!expiry_warned_ && any_running && now >= expiry - kExpiryWarning) {
    expiry_warned_ = true;
    for_each_channel([&](ChannelPipeline& c) {
      if (c.running()) c.notice("bastion: your certificate expires in " + std::to_string(expiry - now) +
                                " seconds; the session will end then");
    });
  }
  check_grants(now);
  if (!end_reason_.empty()) return;
  const double mono = monotonic_seconds();
  check_target_idle(mono);
  const auto& lim = cfg_->limits;
  const int max_len = options_.max_session_length.value_or(lim.max_session_length);
  const int idle = options_.idle_timeout.value_or(lim.idle_timeout);
  if (max_len > 0 && mono - started_ >= max_len)
    return end_all("bastion: maximum session length reached; session closed", "max session length");
  if (idle > 0 && mono - last_activity_ >= idle)
    return end_all("bastion: idle timeout; session closed", "idle timeout");
  if (ctx_.stopping()) return end_all("bastion: the bastion is shutting down; session closed", "server shutdown");
}

void Session::run(ssh_event ev) {
  ev_ = ev;
  ssh_set_blocking(client_, 0);
  // A reload or shutdown wakes the loop, which otherwise sleeps until its
  // next deadline. Added before the loop, never from a callback.
  waker_ = std::make_unique<WakeList::Waker>(ctx_.wakers());
  if (waker_->fd() >= 0 && ssh_event_add_fd(ev_, waker_->fd(), POLLIN, &Session::on_wake, waker_.get()) != SSH_OK)
    waker_.reset();
  bool busy = false;
  double linger_until = 0;
  bool trimmed = true;
  while (true) {
    const int sleep_ms = busy ? 0 : idle_poll_ms();
    // About to sleep past the polled passes: what a burst of output grew is
    // given back, once per quiet spell, so an idle session holds little.
    if (sleep_ms > kPolledMs && !trimmed) {
      for_each_channel([](ChannelPipeline& c) { c.trim(); });
      ctx_.want_memory_trim();
      trimmed = true;
    }
    const int rc = ssh_event_dopoll(ev_, sleep_ms);
    if (rc == SSH_ERROR && !ssh_is_connected(client_)) break;
    busy = false;
    for_each_channel([&](ChannelPipeline& c) { busy |= c.step(); });
    // Something arrived (rc SSH_OK; SSH_AGAIN is a timeout) or moved.
    if (busy || rc == SSH_OK) {
      last_moved_ = monotonic_seconds();
      trimmed = false;
    }
    check_deadlines();
    release_channels([](const ChannelPipeline& c) { return c.done(); });
    if (!ssh_is_connected(client_)) break;
    // Once the bastion decided to end the session and every channel has said
    // its last word, give the client a moment to close first (so it does not
    // report a dropped connection), then disconnect. A client that never
    // drains its channels is disconnected all the same.
    if (!end_reason_.empty()) {
      const double now = monotonic_seconds();
      if (ended_at_ == 0) ended_at_ = now;
      if (now - ended_at_ >= kEndGraceSeconds) {
        log_info("session cut off: output left undelivered", {{"session", id_}, {"reason", end_reason_}});
        break;
      }
      if (channels_.empty()) {
        if (linger_until == 0) linger_until = now + kLingerSeconds;
        else if (now >= linger_until) break;
      }
    }
    prune_upstreams();
    // Input a later libssh call took off the socket (any of them may poll
    // the whole session: another channel's read, a close that flushes)
    // waits unread: the socket no longer shows it, so pass again first.
    for_each_channel([&](ChannelPipeline& c) { busy |= c.input_arrived_after_read() || c.output_arrived_after_pump(); });
  }
  release_channels([](const ChannelPipeline&) { return true; });
  if (end_reason_.empty()) end_reason_ = channel_reason_.empty() ? "client disconnected" : channel_reason_;
  for (auto& [name, up] : upstreams_)
    if (up.conn) up.conn->detach();
  if (waker_) ssh_event_remove_fd(ev_, waker_->fd());
  waker_.reset();
}

int Session::on_wake(socket_t, int, void* userdata) {
  static_cast<const WakeList::Waker*>(userdata)->drain();
  return 0;
}

}  // namespace bastion
