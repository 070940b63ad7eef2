#include "front/server.h"


#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_signer.h"
#include "audit/recording_retention.h"
#include "audit/audit_chain.h"
#include "audit/activation_watermark.h"
#include "audit/audit_store_open.h"
#include "audit/pg_audit_store.h"
#include "audit/pg_listener.h"
#include "common/log.h"
#include "common/secret_file.h"
#include "common/wake_list.h"
#include "common/ssh_handles.h"
#include "front/connection.h"
#include "front/control_socket.h"
#include "front/daemon_status.h"
#include "front/fd_limit.h"
#include "front/pid_file.h"
#include "front/systemd_notify.h"
#include "metrics/metrics_server.h"
#include "recordings/recording_shipper.h"
#include "admission/startup_limits.h"
#include "common/time_util.h"
#include "front/privileges.h"
#include "recorder/async_file_sink.h"
#include "web/audit_login.h"
#include "web/web_server.h"
#include "auth/address_match.h"

namespace bastion {
namespace {

constexpr int kShutdownGraceSeconds = 10;

// Connections refused at accept are counted and logged at most once a
// second, so a flood does not flood the log.
class RefusalSummary {
 public:
  enum Reason { max_sessions, per_source, max_startups, penalty, out_of_fds, kReasons };
  void add(Reason r, const std::string& peer) {
    ++counts_[r];
    last_peer_ = peer;
    flush_if_due();
  }
  void flush_if_due() {
    const auto now = std::chrono::steady_clock::now();
    if (counts_[0] + counts_[1] + counts_[2] + counts_[3] + counts_[4] == 0 || now < next_) return;
    log_warn("connections refused before authentication",
             {{"max_sessions", std::to_string(counts_[max_sessions])},
              {"per_source_max_startups", std::to_string(counts_[per_source])},
              {"max_startups", std::to_string(counts_[max_startups])},
              {"per_source_penalties", std::to_string(counts_[penalty])},
              {"out_of_descriptors", std::to_string(counts_[out_of_fds])},
              {"last_peer", last_peer_}});
    for (auto& c : counts_) c = 0;
    next_ = now + std::chrono::seconds(1);
  }

 private:
  uint64_t counts_[kReasons] = {};
  std::string last_peer_;
  std::chrono::steady_clock::time_point next_{};
};

// One descriptor held back for the moment every other one is taken: accept()
// then fails with EMFILE and the pending connection would keep the listener
// readable, so the accept loop would spin. The spare is let go, the
// connection accepted and closed at once, and the spare taken again.
class SpareFd {
 public:
  SpareFd() : fd_(open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
  ~SpareFd() {
    if (fd_ >= 0) close(fd_);
  }
  SpareFd(const SpareFd&) = delete;
  SpareFd& operator=(const SpareFd&) = delete;
  // True when a pending connection was shed.
  bool shed(int listen_fd) {
    if (fd_ < 0) return false;
    close(fd_);
    const int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) close(c);
    fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return c >= 0;
  }

 private:
  int fd_;
};

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

SshBind make_bind(const Config& cfg, std::string& error) {
  SshBind b(ssh_bind_new());
  if (!b) return error = "out of memory", nullptr;
  unsigned int port = static_cast<unsigned int>(cfg.listen_port);
  int verbosity = SSH_LOG_NOLOG;
  ssh_bind_options_set(b.get(), SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity);
  ssh_bind_options_set(b.get(), SSH_BIND_OPTIONS_BINDADDR, cfg.listen_host.c_str());
  ssh_bind_options_set(b.get(), SSH_BIND_OPTIONS_BINDPORT, &port);
  for (const auto& k : cfg.host_keys)
    if (ssh_bind_options_set(b.get(), SSH_BIND_OPTIONS_HOSTKEY, k.c_str()) != SSH_OK)
      return error = k + ": cannot load host key: " + ssh_get_error(b.get()), nullptr;
  if (ssh_bind_listen(b.get()) != SSH_OK)
    return error = "cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) + ": " +
                   ssh_get_error(b.get()), nullptr;
  // libssh listens with a backlog of 10; a burst of logins would then wait
  // for SYN retransmits. Linux lets a second listen() raise it.
  listen(ssh_bind_get_fd(b.get()), SOMAXCONN);
  // accept() runs after poll said readable; a connection reset in between
  // must not block the main loop.
  const int lfd = ssh_bind_get_fd(b.get());
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  return b;
}

// The active version of each stored policy the config names, as
// "NAME@VERSION;" (cheap: one indexed read per name); nullopt when the
// store cannot be read (the running config stays).
std::optional<std::string> store_policies_signature(const Config& cfg, PolicyStoreReader& store, std::string& error) {
  std::vector<std::string> names;
  for (const auto& [name, version] : cfg.store_policies) names.push_back(name);
  std::vector<int64_t> versions;
  if (!store.active_versions(names, versions, error)) return std::nullopt;
  std::string sig;
  for (std::size_t i = 0; i < names.size(); ++i) sig += names[i] + "@" + std::to_string(versions[i]) + ";";
  return sig;
}

// The same for the versions the config was loaded with.
std::string loaded_store_policies(const Config& cfg) {
  std::string sig;
  for (const auto& [name, version] : cfg.store_policies) sig += name + "@" + std::to_string(version) + ";";
  return sig;
}

// Size and mtime of every policy file: a cheap "did anything change" key.
std::string policy_files_signature(const Config& cfg) {
  std::string sig;
  for (const auto& f : cfg.policy_files()) {
    struct stat st{};
    if (stat(f.c_str(), &st) == 0)
      sig += f + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + ";";
    else
      sig += f + ":missing;";
  }
  return sig;
}

void apply_retention(AuditStore& audit, const Config& cfg) {
  if (cfg.retention <= 0) return;
  const PruneReport r = prune_recordings(audit, cfg.recordings_dir(), cfg.retention, unix_now(), "bastiond (retention " +
                                                                               format_duration(cfg.retention) + ")",
                                         false);
  for (const auto& e : r.errors) log_error("retention: cannot prune", {{"error", e}});
  if (!r.pruned.empty()) log_info("retention: recordings pruned", {{"count", std::to_string(r.pruned.size())}});
}

// The one reload path (SIGHUP, `bastionctl reload`, a policy file changed,
// the policy store's active version changed): a config that does not load
// (a stored policy missing, the store unreachable) is refused and the
// running one stays. `version` becomes the running config's on success.
ReloadResult reload(ServerContext& ctx, const std::string& trigger, ConfigVersion& version, PolicyStoreReader& store) {
  notify_reloading();
  const auto old = ctx.config();
  ReloadResult r{.at = unix_now(), .ok = false, .error = "", .trigger = trigger};
  auto fresh = load_config(old->path, r.error, ctx.kinds(), true, &store);
  ctx.metrics().config_reload(fresh != nullptr);
  if (!fresh) {
    log_error("reload refused; keeping the running config", {{"error", r.error}, {"trigger", trigger}});
    notify_reloaded("reload refused, running generation " + std::to_string(version.generation) + ": " + r.error);
    return r;
  }
  const auto& o = fresh->operators;
  if (fresh->listen_host != old->listen_host || fresh->listen_port != old->listen_port ||
      fresh->host_keys != old->host_keys || fresh->data_dir != old->data_dir || fresh->user != old->user ||
      fresh->web.listen_host != old->web.listen_host || fresh->web.listen_port != old->web.listen_port ||
      fresh->web.cert_file != old->web.cert_file || fresh->web.key_file != old->web.key_file ||
      fresh->web.assets_dir != old->web.assets_dir || fresh->web.session_ttl != old->web.session_ttl ||
      o.metrics_host != old->operators.metrics_host || o.metrics_port != old->operators.metrics_port ||
      o.control_socket != old->operators.control_socket || o.pid_file != old->operators.pid_file)
    log_warn("listen, host_keys, data_dir, user, web_*, metrics_listen, control_socket and pid_file changes take "
             "effect only after a restart");
  const auto& ns = fresh->recordings_store;
  const auto& os = old->recordings_store;
  if (ns.type != os.type || ns.endpoint != os.endpoint || ns.bucket != os.bucket || ns.region != os.region ||
      ns.prefix != os.prefix || ns.access_key.bytes != os.access_key.bytes || ns.secret_key.bytes != os.secret_key.bytes)
    log_warn("recordings_store changes take effect only after a restart (recordings are shipped as before)");
  log_setup(fresh->log_format, fresh->log_level);
  version = config_version(*fresh, version.generation + 1);
  ctx.set_config(std::move(fresh));
  r.ok = true;
  log_info("config reloaded", {{"config", old->path}, {"trigger", trigger},
                               {"generation", std::to_string(version.generation)}});
  notify_reloaded("config reloaded, generation " + std::to_string(version.generation));
  return r;
}

// This host's name, as instances are listed in a shared store.
std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// What the metrics listener serves: the counters, and the gauges read now.
std::string render_metrics(ServerContext& ctx, SqlAuditStore& audit, const RecordingShipper* shipper) {
  MetricsGauges g;
  g.sessions_by_kind = ctx.live_sessions().count_by_kind(ctx.metrics().kinds());
  std::string err;
  g.approvals_pending = audit.pending_request_count(unix_now(), err);
  if (g.approvals_pending < 0) log_error("metrics: cannot count pending approvals", {{"error", err}});
  if (shipper) {
    g.recordings_unshipped = static_cast<int64_t>(shipper->unshipped());
    g.recording_upload_failures = static_cast<int64_t>(shipper->failures());
  }
  return ctx.metrics().render(g);
}

}  // namespace

int run_server(std::shared_ptr<const Config> cfg, const TargetKinds& kinds) {
  // Bind as started (root for a low port), then drop for good: data_dir is
  // the unprivileged user's, so everything in it is opened after the drop.
  // Several descriptors per session: the soft limit goes up to the hard
  // one (systemd's default soft limit of 1024 would cap bastiond near 240
  // sessions). Connections past the limit are refused at accept.
  const FdLimit fds = raise_fd_limit();
  log_info("file descriptor limit", {{"soft_limit", std::to_string(fds.now)}, {"was", std::to_string(fds.before)},
                                     {"hard_limit", std::to_string(fds.hard)},
                                     {"sessions_allowed", std::to_string(sessions_allowed(fds.now))}});
  if (static_cast<uint64_t>(cfg->limits.max_sessions) > sessions_allowed(fds.now))
    log_warn("limits.max_sessions is more than the file descriptor limit allows; connections past it are refused",
             {{"max_sessions", std::to_string(cfg->limits.max_sessions)},
              {"sessions_allowed", std::to_string(sessions_allowed(fds.now))}});
  std::string err;
  std::optional<UnixUser> run_as;
  SshBind bind;
  if (!plan_privilege_drop(*cfg, run_as, err) || !(bind = make_bind(*cfg, err)) || !drop_privileges(run_as, err)) {
    log_error("cannot start", {{"error", err}});
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg->recordings_dir(), ec);
  if (ec) {
    log_error("cannot create data directory", {{"path", cfg->recordings_dir()}, {"error", ec.message()}});
    return 1;
  }
  // Opened as the unprivileged user, so the socket is that user's (mode
  // 0600); a second bastiond on the same data_dir stops here.
  std::unique_ptr<ControlSocket> control;
  if (!cfg->operators.control_socket.empty() && !(control = ControlSocket::open(cfg->operators.control_socket, err))) {
    log_error("cannot start", {{"error", err}});
    return 1;
  }
  const std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(cfg->audit_signing_key, err);
  if (!signer) {
    log_error("cannot load the audit signing key", {{"error", err}});
    return 1;
  }
  log_info("audit signing key", {{"path", cfg->audit_signing_key},
                                 {"public_key", audit_public_key_path(cfg->audit_signing_key)},
                                 {"fingerprint", signer->fingerprint()}});
  if (!cfg->audit_key_fingerprint.empty() && signer->fingerprint() != cfg->audit_key_fingerprint) {
    // Someone replaced the key (or the config pins another): signing with it
    // would make every seal and anchor from now on unverifiable.
    log_error("cannot start: the audit signing key is not the pinned one",
              {{"path", cfg->audit_signing_key}, {"fingerprint", signer->fingerprint()},
               {"audit_key_fingerprint", cfg->audit_key_fingerprint}});
    return 1;
  }
  auto audit = open_audit_store(cfg->audit_store(), cfg->store_password_file, kBastiondWriter, err);
  if (!audit) {
    log_error("cannot open audit store", {{"error", err}});
    return 1;
  }
  // The activations this host ran before it restarted: none older runs now
  // (a cut of the store's newest activation, chain entry and all).
  const std::string watermark = activation_watermark_path(cfg->data_dir);
  std::map<std::string, int64_t> activations_seen;
  if (!read_activation_watermark(watermark, activations_seen, err)) {
    log_error("cannot start", {{"error", err + " (remove it to take the store's policy history as it is)"}});
    return 1;
  }
  audit->prime_activations(activations_seen);
  // `policy = "store:NAME"`: read from the store just opened, as this
  // (unprivileged) user; without it bastiond does not start (fail closed),
  // before it signs anything in the store.
  if (cfg->store_policies_unread) {
    cfg = load_config(cfg->path, err, kinds, true, audit.get());
    if (!cfg) {
      log_error("cannot start", {{"error", err}});
      return 1;
    }
    for (const auto& [name, version] : cfg->store_policies)
      log_info("stored policy loaded", {{"policy", stored_policy_label(name, version)}});
  }
  audit->set_signer(signer);
  // What a previous process left open (kill -9, power loss) ended with it.
  // Not on a shared store: the other instances' sessions are live there.
  const int interrupted = cfg->store.empty() ? audit->mark_interrupted(iso8601_now(), err) : 0;
  if (interrupted < 0) {
    log_error("cannot mark interrupted recordings", {{"error", err}});
    return 1;
  }
  if (interrupted > 0)
    log_warn("recordings left open by a previous bastiond marked interrupted", {{"count", std::to_string(interrupted)}});
  // Signals go to the signalfd only; every thread inherits this mask.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, s);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  std::string mask_key;
  if (!load_or_create_secret(cfg->data_dir + "/mask.key", mask_key, err)) {
    log_error("cannot load the masking key", {{"error", err}});
    return 1;
  }
  recorder::Flusher flusher(100);
  ServerContext ctx(cfg, kinds, *audit, flusher);
  ctx.set_mask_key(std::move(mask_key));
  ctx.set_audit_signer(signer.get());
  for (const auto& kind : kinds.all()) {
    // Users' own clients trust this identity for as long as it lasts; a
    // bastion that cannot load it refuses tunnels and says so here.
    if (!kind->tunnel_port()) continue;
    ClientAccessIdentity id;
    std::string why;
    if (kind->load_client_access_identity(cfg->data_dir, id, why))
      ctx.set_client_access_identity(kind->type(), std::move(id));
    else
      log_error(std::string(kind->type()) + " tunnels unavailable: cannot load the proxy's identity", {{"error", why}});
  }
  ctx.set_approvals(audit.get());
  // A shared store: other instances' approval changes wake this one's
  // waiting sessions at once (their 2 s poll stays the fallback).
  // Instances on a shared store beat; one that stops beating has its
  // sessions marked interrupted by the others.
  if (!audit->register_instance(host_name(), cfg->heartbeat_interval, err)) {
    log_error("cannot register this instance in the store", {{"error", err}});
    return 1;
  }
  auto next_heartbeat = std::chrono::steady_clock::now();
  std::unique_ptr<PgListener> approvals_listener;
  if (!cfg->store.empty())
    approvals_listener = std::make_unique<PgListener>(PgTarget{cfg->store, cfg->store_password_file},
                                                      kApprovalsChannel, [&ctx] {
                                                        ctx.approvals_changed();
                                                        ctx.wakers().wake_all();
                                                      });
  // A stored policy's new active version: pushed or rolled back through any
  // instance, announced on the store; the main loop below compares versions
  // at once (and, NOTIFY or not, about once a second).
  WakeList policy_wakes;
  const WakeList::Waker policy_waker(policy_wakes);
  std::unique_ptr<PgListener> policy_listener;
  if (!cfg->store.empty())
    policy_listener = std::make_unique<PgListener>(PgTarget{cfg->store, cfg->store_password_file}, kPolicyChannel,
                                                   [&policy_wakes] { policy_wakes.wake_all(); });
  // The webhook URL is read at start (a reload does not move it).
  std::unique_ptr<Webhook> webhook;
  if (!cfg->approvals.webhook.empty()) {
    webhook = std::make_unique<Webhook>(cfg->approvals.webhook, cfg->approvals.webhook_text);
    ctx.set_webhook(webhook.get());
  }
  // The auditors' page: started after the drop (its identity lives in
  // data_dir), stopped before the context it reads goes.
  std::unique_ptr<WebAuth> web_auth;
  std::unique_ptr<WebServer> web;
  if (cfg->web.enabled()) {
    web_auth = std::make_unique<WebAuth>(cfg->web.session_ttl, web_base_url(cfg->web));
    web = WebServer::start(*cfg, [&ctx] { return ctx.config(); }, *web_auth, err);
    if (!web) {
      log_error("cannot start the web listener", {{"error", err}});
      return 1;
    }
    ctx.set_web_auth(web_auth.get());
    if (!is_loopback_address(cfg->web.listen_host))
      log_warn("the auditors' web page listens beyond this host", {{"web_listen", cfg->web.listen_host}});
    log_info("web listening", {{"address", cfg->web.listen_host + ":" + std::to_string(cfg->web.listen_port)},
                               {"certificate", web->cert_path()}});
  }
  // Recordings off the host: closed and interrupted ones (a previous
  // process's included, marked above) are shipped from here on. Read at
  // start; a reload does not change the store.
  std::unique_ptr<RecordingShipper> shipper;
  if (cfg->recordings_store.enabled()) {
    audit->ships_from(cfg->recordings_dir());
    shipper = std::make_unique<RecordingShipper>(*audit, cfg->recordings_store, cfg->recordings_dir());
    log_info("recordings store", {{"type", cfg->recordings_store.type}, {"endpoint", cfg->recordings_store.endpoint},
                                  {"bucket", cfg->recordings_store.bucket}});
  }
  std::unique_ptr<MetricsServer> metrics;
  if (cfg->operators.metrics_port != 0) {
    metrics = MetricsServer::start(cfg->operators.metrics_host, cfg->operators.metrics_port,
                                   [&ctx, &audit, &shipper] { return render_metrics(ctx, *audit, shipper.get()); }, err);
    if (!metrics) {
      log_error("cannot start the metrics listener", {{"error", err}});
      return 1;
    }
    if (!is_loopback_address(cfg->operators.metrics_host))
      log_warn("metrics listen beyond this host (metrics_allow_remote)", {{"metrics_listen", cfg->operators.metrics_host}});
    log_info("metrics listening", {{"address", cfg->operators.metrics_host + ":" + std::to_string(cfg->operators.metrics_port)}});
  }
  std::unique_ptr<PidFile> pid_file;
  if (!cfg->operators.pid_file.empty() && !(pid_file = PidFile::create(cfg->operators.pid_file, err))) {
    log_error("cannot start", {{"error", err}});
    return 1;
  }
  log_info("bastiond listening", {{"address", cfg->listen_host + ":" + std::to_string(cfg->listen_port)},
                                  {"targets", std::to_string(cfg->targets.size())},
                                  {"data_dir", cfg->data_dir}});
  notify_ready("listening on " + cfg->listen_host + ":" + std::to_string(cfg->listen_port) + ", " +
               std::to_string(cfg->targets.size()) + " targets");

  // The running config's version and the last reload, for `bastionctl status`.
  DaemonStatus status{.pid = getpid(), .started_at = unix_now(), .now = 0, .version = BASTION_VERSION,
                      .config_path = cfg->path, .config = config_version(*cfg, 1), .last_reload = {}};

  // Draws for MaxStartups' random early drop: unpredictable to a client,
  // so it cannot time its connections around the drops.
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<unsigned> percent(0, 99);
  RefusalSummary refusals;
  SpareFd spare;
  auto accept_paused_until = std::chrono::steady_clock::now();  // out of descriptors and no spare
  std::string policy_sig = policy_files_signature(*cfg);
  // A stored version that failed to load is not tried again every second
  // (its refusal is logged once); the next change is.
  std::string store_refused, store_error;
  // The activations running now are the newest each name may fall back to:
  // an older one newest again later (rows deleted) is refused on reload.
  for (const auto& [name, version] : ctx.config()->store_policies) {
    StoredPolicy running;
    std::string why;
    if (!audit->active_policy(name, ctx.config()->policy_signers, running, why))
      log_warn("cannot read the policy store", {{"error", why}});
  }
  // What ran is kept for the next start (activation_watermark.h).
  auto keep_activations_seen = [&] {
    auto now = audit->activations_seen();
    if (now == activations_seen) return;
    std::string why;
    if (!write_activation_watermark(watermark, now, why))
      log_error("cannot record the policy activations run", {{"error", why}});
    else
      activations_seen = std::move(now);
  };
  keep_activations_seen();
  auto reload_now = [&](const std::string& trigger) {
    status.last_reload = reload(ctx, trigger, status.config, *audit);
    policy_sig = policy_files_signature(*ctx.config());
    keep_activations_seen();
  };
  auto next_policy_check = std::chrono::steady_clock::now();
  auto next_prune = std::chrono::steady_clock::now();  // at start, then daily
  while (!ctx.stopping()) {
    if (std::chrono::steady_clock::now() >= next_prune) {
      next_prune = std::chrono::steady_clock::now() + std::chrono::hours(24);
      apply_retention(*audit, *ctx.config());
    }
    // Buffers quiet sessions gave back go back to the system (malloc keeps
    // freed memory otherwise: about 0.6 MiB per session after a burst).
    if (ctx.take_memory_trim()) malloc_trim(0);
    if (!cfg->store.empty() && std::chrono::steady_clock::now() >= next_heartbeat) {
      next_heartbeat = std::chrono::steady_clock::now() + std::chrono::seconds(cfg->heartbeat_interval);
      const auto beat = audit->heartbeat(err);
      if (beat == SqlAuditStore::Beat::failed) log_error("store heartbeat failed", {{"error", err}});
      // Silent too long (a stall, a partition): the others marked this
      // instance's sessions interrupted. Those end here too, so nothing runs
      // that the audit shows as over; the instance joins again under a new id.
      // (Registered first: a session starting meanwhile is under the new id,
      // or ends with the others. Not registered: the next beat tries again.)
      if (beat == SqlAuditStore::Beat::declared_stopped) {
        const std::string old_id = audit->instance_id();
        if (audit->register_instance(host_name(), cfg->heartbeat_interval, err))
          log_error("this instance was declared stopped by another (missed heartbeats): its sessions end; "
                    "it joined again as a new instance",
                    {{"instance", audit->instance_id()}, {"was", old_id}});
        else
          log_error("this instance was declared stopped and cannot register again", {{"error", err}});
        ctx.instance_declared_stopped();
      }
      if (audit->interrupt_silent_instances(iso8601_now(), Config::kMissedHeartbeats, err) < 0)
        log_error("cannot mark the sessions of silent instances interrupted", {{"error", err}});
    }
    // The chain's head is signed within about a second of a write.
    if (!audit->anchor_chain(false, err)) log_error("cannot anchor the audit chain", {{"error", err}});
    // Policy files are watched (about once a second) and reloaded on change,
    // through the same path as SIGHUP: a broken file is refused.
    if (std::chrono::steady_clock::now() >= next_policy_check) {
      next_policy_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      // Commands become searchable (bastionctl audit --grep) within about a
      // second; until then readers match them with LIKE.
      if (!audit->index_pending(err)) log_error("cannot index commands for search", {{"error", err}});
      const std::string sig = policy_files_signature(*ctx.config());
      if (sig != policy_sig) {
        log_info("policy file changed; reloading");
        reload_now("policy file changed");
      }
      // Stored policies: the store's active versions against those running.
      if (const auto running = ctx.config(); !running->store_policies.empty()) {
        std::string why;
        const auto now_sig = store_policies_signature(*running, *audit, why);
        if (!now_sig && why != store_error) log_error("cannot read the policy store; keeping the running policies", {{"error", why}});
        store_error = now_sig ? "" : why;
        if (now_sig && *now_sig != loaded_store_policies(*running) && *now_sig != store_refused) {
          log_info("stored policy changed; reloading", {{"active", *now_sig}});
          reload_now("policy store");
          store_refused = status.last_reload.ok ? "" : *now_sig;
        }
      }
    }
    const bool accepting = std::chrono::steady_clock::now() >= accept_paused_until;
    pollfd fds[4] = {{accepting ? ssh_bind_get_fd(bind.get()) : -1, POLLIN, 0}, {sfd, POLLIN, 0},
                     {control ? control->fd() : -1, POLLIN, 0}, {policy_waker.fd(), POLLIN, 0}};
    if (poll(fds, 4, 1000) < 0) {
      if (errno == EINTR) continue;
      log_error("poll failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (fds[3].revents & POLLIN) {
      // Another instance announced a policy change: compare now.
      policy_waker.drain();
      next_policy_check = std::chrono::steady_clock::now();
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
          reload_now("SIGHUP");
        }
        else {
          log_info("shutting down", {{"signal", strsignal(static_cast<int>(si.ssi_signo))}});
          notify_stopping();
          ctx.stop();
        }
      }
    }
    if (control && (fds[2].revents & POLLIN))
      control->serve_one([&](const std::string& request) -> std::string {
        if (request == "status") {
          status.now = unix_now();
          return status_json(status, ctx.live_sessions().list());
        }
        if (request == "reload") {
          reload_now("control socket");
          return reload_json(status.last_reload, status.config);
        }
        return R"j({"error":"unknown request (expected status or reload)"})j";
      });
    refusals.flush_if_due();
    if (!(fds[0].revents & POLLIN)) continue;
    // accept() here rather than in libssh, to know why it failed: out of
    // descriptors, the connection is refused at once (and counted), and
    // the loop neither spins nor floods the log.
    const int listen_fd = ssh_bind_get_fd(bind.get());
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        if (!spare.shed(listen_fd)) accept_paused_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        refusals.add(RefusalSummary::out_of_fds, "");
      } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        log_warn("accept failed", {{"error", std::strerror(errno)}});
      }
      continue;
    }
    SshSession s(ssh_new());
    if (!s) {
      close(fd);
      continue;
    }
    if (ssh_bind_accept_fd(bind.get(), s.get(), fd) != SSH_OK) {
      // The session owns the socket once libssh attached it; before that, we do.
      if (ssh_get_fd(s.get()) != fd) close(fd);
      log_warn("accept failed", {{"error", ssh_get_error(bind.get())}});
      continue;
    }
    // Small packets (key exchange, replies, keystroke echo) go out at once
    // rather than waiting for the client's delayed ACK, as OpenSSH does.
    const int one = 1;
    setsockopt(ssh_get_fd(s.get()), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::string peer = peer_address(ssh_get_fd(s.get()));
    const std::string source = source_group(peer);
    const auto current = ctx.config();
    // Refused connections are closed at once (SshSession's destructor), with
    // no banner: a flood costs an accept and a close.
    if (ctx.sessions() >= current->limits.max_sessions) {
      refusals.add(RefusalSummary::max_sessions, peer);
      continue;
    }
    if (ctx.penalized(source, peer, current->limits, monotonic_seconds())) {
      refusals.add(RefusalSummary::penalty, peer);
      continue;
    }
    switch (ctx.admit_startup(source, current->limits, percent(rng))) {
      case ServerContext::Startup::per_source_full: refusals.add(RefusalSummary::per_source, peer); continue;
      case ServerContext::Startup::max_startups: refusals.add(RefusalSummary::max_startups, peer); continue;
      case ServerContext::Startup::admitted: break;
    }
    // From here the Connection owns the unauthenticated slot.
    auto conn = std::make_shared<Connection>(ctx, std::move(s), peer, source);
    try {
      std::thread([conn] { conn->run(); }).detach();
    } catch (const std::system_error& e) {
      // Out of threads: refuse this connection (conn closes it), keep serving.
      log_error("connection refused: cannot start a thread", {{"peer", peer}, {"error", e.what()}});
    }
  }

  // Stop accepting; sessions see ctx.stopping(), tell their users and close
  // their recordings. Wait for them, but not forever.
  bind.reset();
  control.reset();
  if (web) web->stop();
  if (metrics) metrics->stop();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(kShutdownGraceSeconds);
  while (ctx.active() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (ctx.active() > 0) log_warn("sessions still open at exit", {{"count", std::to_string(ctx.active())}});
  // Every session closed itself: nothing for the other instances to end.
  // Otherwise they end what is left once this instance's beats stop.
  else if (!audit->instance_stopped(iso8601_now(), err))
    log_error("cannot mark this instance stopped in the store", {{"error", err}});
  close(sfd);
  pid_file.reset();  // before a possible _exit below, which runs no destructor
  log_info("bastiond stopped");
  // Threads still running hold references into ctx; exit without unwinding them.
  if (ctx.active() > 0) _exit(0);
  return 0;
}

}  // namespace bastion
