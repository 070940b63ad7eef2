// What all sessions share: the current config, the audit store, the
// recording flusher, the stop flag and session counters. Owned by the server,
// passed by reference; no globals.
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "approvals/approval_store.h"
#include "approvals/webhook.h"
#include "audit/audit_store.h"
#include "common/id_pool.h"
#include "common/wake_list.h"
#include "config/config.h"
#include "metrics/live_sessions.h"
#include "metrics/metrics_registry.h"
#include "auth/address_match.h"
#include "admission/penalty_box.h"
#include "admission/startup_limits.h"
#include "recorder/async_file_sink.h"
#include "targets/target_kind.h"
#include "web/web_auth.h"

namespace bastion {

class AuditSigner;

// A range no passwd entry uses: a root bastiond runs each session's child
// processes (a target kind's program) as one uid of it (and the same gid), never shared, never root.
inline constexpr uint32_t kSandboxUidFirst = 0x70000000;  // 1879048192
inline constexpr uint32_t kSandboxUidCount = 65536;

class ServerContext {
 public:
  ServerContext(std::shared_ptr<const Config> cfg, const TargetKinds& kinds, AuditStore& audit,
                recorder::Flusher& flusher)
      : config_(std::move(cfg)), audit_(audit), flusher_(flusher), kinds_(kinds),
        metrics_(session_kinds(kinds), BASTION_VERSION) {}

  // Prometheus counters (metrics/), and the sessions open now.
  MetricsRegistry& metrics() { return metrics_; }
  LiveSessions& live_sessions() { return live_sessions_; }

  std::shared_ptr<const Config> config() const {
    std::lock_guard<std::mutex> g(mu_);
    return config_;
  }
  void set_config(std::shared_ptr<const Config> c) {
    {
      std::lock_guard<std::mutex> g(mu_);
      config_ = std::move(c);
    }
    wakers_.wake_all();  // sessions sleeping until a deadline recheck their access now
  }
  AuditStore& audit() { return audit_; }
  // Approval requests live in the audit store; a change made in this process
  // bumps the version, so waiting sessions look at once (other bastions'
  // changes are seen by polling the store).
  ApprovalStore* approvals() { return approvals_; }
  void set_approvals(ApprovalStore* a) { approvals_ = a; }
  uint64_t approvals_version() const { return approvals_version_.load(); }
  void approvals_changed() { ++approvals_version_; }
  // Optional: tells the outside world about approval events (never blocks).
  void set_webhook(Webhook* w) { webhook_ = w; }
  Webhook* webhook() { return webhook_; }
  // Login tokens and browser sessions of the auditors' web page; null when
  // there is no web listener.
  void set_web_auth(WebAuth* a) { web_auth_ = a; }
  WebAuth* web_auth() { return web_auth_; }
  // Key for keyed hashes in column masks (stable across restarts).
  const std::string& mask_key() const { return mask_key_; }
  void set_mask_key(std::string k) { mask_key_ = std::move(k); }
  // The target kinds configs are read with (they outlive every config).
  const TargetKinds& kinds() const { return kinds_; }
  // What users' own clients meet through tunnels, per target kind: loaded
  // at start; null when it could not be (tunnels are then refused).
  const ClientAccessIdentity* client_access_identity(const std::string& type) const {
    const auto it = client_access_.find(type);
    return it == client_access_.end() ? nullptr : &it->second;
  }
  void set_client_access_identity(const std::string& type, ClientAccessIdentity id) {
    client_access_[type] = std::move(id);
  }
  recorder::Flusher& flusher() { return flusher_; }
  // The audit key that signs recording digests (loaded at start).
  const AuditSigner* audit_signer() const { return audit_signer_; }
  void set_audit_signer(const AuditSigner* s) { audit_signer_ = s; }
  // The uids a root bastiond runs sandboxed children as, one per session.
  IdPool& sandbox_uids() { return sandbox_uids_; }

  bool stopping() const { return stopping_.load(); }
  // Bumped when another instance declared this one stopped (it missed its
  // heartbeats on a shared store): the audit reads every session open then
  // as interrupted, so each ends (Session::check_deadlines).
  uint64_t instance_generation() const { return instance_generation_.load(); }
  void instance_declared_stopped() {
    ++instance_generation_;
    wakers_.wake_all();
  }
  void stop() {
    stopping_ = true;
    wakers_.wake_all();
  }
  // Sessions sleep until their own next deadline; what concerns them all
  // (a reload, shutdown) wakes each through this list.
  WakeList& wakers() { return wakers_; }
  // A session went quiet and gave back its buffers; the allocator returns
  // free memory to the system from the main loop, at most once a second,
  // since that walks every arena (sessions cannot make it run more often).
  void want_memory_trim() { trim_wanted_ = true; }
  // Called by the main loop only, which runs on every accepted connection:
  // a wish made within a second of the last trim waits (stays set) for it.
  bool take_memory_trim() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_trim_ || !trim_wanted_.exchange(false)) return false;
    next_trim_ = now + std::chrono::seconds(1);
    return true;
  }

  // Connection threads alive (pre- and post-auth): what shutdown waits for.
  int active() const { return active_.load(); }
  void connection_opened() { ++active_; }
  void connection_closed() { --active_; }

  // Unauthenticated connections, in total and per source group, are capped
  // apart from sessions, so a flood of idle connections cannot take the
  // slots of users who log in (OpenSSH's MaxStartups/PerSourceMaxStartups).
  enum class Startup { admitted, per_source_full, max_startups };
  // Counts the connection in when admitted; `random_below_100` is the
  // caller's draw for the random early drop.
  Startup admit_startup(const std::string& source, const Limits& lim, unsigned random_below_100) {
    std::lock_guard<std::mutex> g(mu_);
    auto& from_source = unauth_per_source_[source];
    if (from_source >= lim.per_source_max_startups) {
      if (from_source == 0) unauth_per_source_.erase(source);
      return Startup::per_source_full;
    }
    if (startup_dropped(lim.max_startups, unauthenticated_, random_below_100)) {
      if (from_source == 0) unauth_per_source_.erase(source);
      return Startup::max_startups;
    }
    ++from_source;
    ++unauthenticated_;
    return Startup::admitted;
  }
  // The connection authenticated or closed.
  void end_startup(const std::string& source) {
    std::lock_guard<std::mutex> g(mu_);
    --unauthenticated_;
    if (--unauth_per_source_[source] <= 0) unauth_per_source_.erase(source);
  }
  int unauthenticated() const {
    std::lock_guard<std::mutex> g(mu_);
    return unauthenticated_;
  }

  // Per-source penalties: a source whose connections keep ending without
  // authenticating is refused at accept for a while.
  bool penalized(const std::string& source, const std::string& peer, const Limits& lim, double now) {
    if (address_in_cidr_list(peer, lim.per_source_penalty_exempt) == 1) return false;
    std::lock_guard<std::mutex> g(mu_);
    return penalties_.refused(source, lim.per_source_penalties, now);
  }
  void penalize(const std::string& source, const std::string& peer, int seconds, const Limits& lim, double now) {
    if (address_in_cidr_list(peer, lim.per_source_penalty_exempt) == 1) return;
    std::lock_guard<std::mutex> g(mu_);
    penalties_.add(source, seconds, lim.per_source_penalties, now);
  }

  // Authenticated sessions, against limits.max_sessions.
  bool acquire_session(int limit) {
    std::lock_guard<std::mutex> g(mu_);
    if (sessions_ >= limit) return false;
    ++sessions_;
    return true;
  }
  void release_session() {
    std::lock_guard<std::mutex> g(mu_);
    --sessions_;
  }
  int sessions() const {
    std::lock_guard<std::mutex> g(mu_);
    return sessions_;
  }

  // Per-identity session count; false when the limit is reached.
  bool acquire_identity(const std::string& id, int limit) {
    std::lock_guard<std::mutex> g(mu_);
    if (per_identity_[id] >= limit) return false;
    ++per_identity_[id];
    return true;
  }
  void release_identity(const std::string& id) {
    std::lock_guard<std::mutex> g(mu_);
    if (--per_identity_[id] <= 0) per_identity_.erase(id);
  }

 private:
  // What a session's kind can be: a target kind, or one of the bastion's own targets.
  static std::vector<std::string> session_kinds(const TargetKinds& kinds) {
    std::vector<std::string> out{"approvals", "access", "audit"};
    for (const auto& k : kinds.all()) out.emplace_back(k->type());
    return out;
  }

  mutable std::mutex mu_;
  std::shared_ptr<const Config> config_;
  AuditStore& audit_;
  recorder::Flusher& flusher_;
  std::atomic<uint64_t> instance_generation_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> trim_wanted_{false};
  std::chrono::steady_clock::time_point next_trim_{};  // main loop only
  ApprovalStore* approvals_ = nullptr;
  Webhook* webhook_ = nullptr;
  const AuditSigner* audit_signer_ = nullptr;
  WebAuth* web_auth_ = nullptr;
  std::atomic<uint64_t> approvals_version_{0};
  std::atomic<int> active_{0};
  std::map<std::string, int> per_identity_;
  int unauthenticated_ = 0;
  std::map<std::string, int> unauth_per_source_;
  int sessions_ = 0;
  PenaltyBox penalties_;
  std::string mask_key_;
  IdPool sandbox_uids_{kSandboxUidFirst, kSandboxUidCount};
  const TargetKinds& kinds_;
  std::map<std::string, ClientAccessIdentity> client_access_;
  MetricsRegistry metrics_;
  LiveSessions live_sessions_;
  WakeList wakers_;
};

}  // namespace bastion
