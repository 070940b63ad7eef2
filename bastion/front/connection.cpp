#include "front/connection.h"

#include "auth/cert_problem_text.h"
#include "auth/cert_verifier.h"
#include "common/base64.h"
#include "common/guarded.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace bastion {
namespace {
constexpr int kMaxAuthFailures = 6;
// Plain keys named in the one row a declined-key login leaves: a client may
// offer any number of keys, the row stays small.
constexpr std::size_t kMaxPlainKeysNamed = 3;
// Certificates accepted in a query and never signed for, one row each.
constexpr std::size_t kMaxProbesNamed = 3;
// A refusal reason is ours, but may quote what the client sent (a parser's
// complaint, a plain key's description): bounded like the rest.
constexpr std::size_t kMaxReasonBytes = 4 * kMaxUntrustedBytes;

struct SshBinaryStringFree { void operator()(ssh_string s) const { ssh_string_free(s); } };
using SshString = std::unique_ptr<std::remove_pointer_t<ssh_string>, SshBinaryStringFree>;

// "ssh-ed25519 SHA256:..." for an offered key.
std::string key_description(ssh_key key) {
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  std::string out = type ? type : "unknown";
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != 0 || !hash) return out;
  char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (fp) out += std::string(" ") + fp;
  ssh_string_free_char(fp);
  return out;
}

// The certificate blob libssh holds for a *-cert-v01 key, or empty.
std::string certificate_blob(ssh_key key) {
  char* raw = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &raw) != SSH_OK || !raw) return {};
  const SshCString b64(raw);
  std::string blob;
  return base64_decode(b64.get(), blob) ? blob : std::string();
}

// The slots one login takes; given back unless the login completes, so no
// refusal (or exception) after taking them leaks one.
class LoginSlots {
 public:
  explicit LoginSlots(ServerContext& ctx) : ctx_(ctx) {}
  LoginSlots(const LoginSlots&) = delete;
  LoginSlots& operator=(const LoginSlots&) = delete;
  ~LoginSlots() {
    if (!identity_.empty()) ctx_.release_identity(identity_);
    if (session_) ctx_.release_session();
  }
  bool take_session(int limit) { return session_ = ctx_.acquire_session(limit); }
  bool take_identity(const std::string& id, int limit) {
    if (!ctx_.acquire_identity(id, limit)) return false;
    identity_ = id;
    return true;
  }
  void keep() { identity_.clear(), session_ = false; }

 private:
  ServerContext& ctx_;
  std::string identity_;
  bool session_ = false;
};

}  // namespace

Connection::Connection(ServerContext& ctx, SshSession s, std::string peer, std::string source)
    : ctx_(ctx), cfg_(ctx.config()), session_(std::move(s)), peer_(std::move(peer)), source_(std::move(source)) {
  ctx_.connection_opened();
}

Connection::~Connection() {
  s_.reset();  // the session ends (audit row) before the transport goes
  if (unauthenticated_)  // a destructor must not throw
    guarded(peer_, "login audit", 0, [this] { return audit_unfinished_login(), 0; });
  if (!identity_slot_.empty()) ctx_.release_identity(identity_slot_);
  if (session_slot_) ctx_.release_session();
  if (unauthenticated_) {
    ctx_.end_startup(source_);
    // OpenSSH's PerSourcePenalties: a source whose connections keep ending
    // without a login (refused credentials, silence past the grace time,
    // scans) is refused at accept for a while.
    const auto& pen = cfg_->limits.per_source_penalties;
    const int seconds = grace_exceeded_ ? pen.grace_exceeded
                        : credential_failures_ > 0 ? pen.authfail
                        : refused_by_us_ ? 0 : pen.noauth;
    ctx_.penalize(source_, peer_, seconds, cfg_->limits, monotonic_seconds());
  }
  ctx_.connection_closed();
}

void Connection::audit_auth(const std::string& user, const std::string& key_id, uint64_t serial,
                            const std::string& ca_fp, bool ok, const std::string& reason) {
  const AuthEvent e{.at = iso8601_now(),
                    .source_address = peer_,
                    .user = user,
                    .key_id = key_id,
                    .serial = serial,
                    .ca_fingerprint = ca_fp,
                    .accepted = ok,
                    .reason = reason};
  std::string err;
  login_audited_ = true;
  if (!ctx_.audit().auth_event(e, err)) log_error("audit write failed", {{"error", err}});
}

void Connection::note_probe(const std::string& key_id, uint64_t serial, const std::string& ca,
                            const std::string& refused) {
  for (const auto& p : probes_)
    if (p.key_id == key_id && p.serial == serial && p.ca == ca) return;
  if (probes_.size() < kMaxProbesNamed) probes_.push_back({login_user_, key_id, ca, serial, refused});
  else ++more_probes_;
}

void Connection::forget_probe(const std::string& key_id, uint64_t serial, const std::string& ca) {
  std::erase_if(probes_, [&](const Probe& p) { return p.key_id == key_id && p.serial == serial && p.ca == ca; });
}

void Connection::audit_unfinished_login() {
  if (!login_asked_) return;
  const bool answered = login_audited_;
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    const Probe& p = probes_[i];
    const std::string key_id = clip_untrusted(p.key_id);
    std::string why = "certificate offered but not signed for (no private key)";
    if (!p.refused.empty()) why += "; it would be refused: " + p.refused;
    if (i + 1 == probes_.size() && more_probes_ > 0)
      why += "; and " + std::to_string(more_probes_) + " more certificate" + (more_probes_ > 1 ? "s" : "");
    log_warn("authentication refused", {{"peer", peer_}, {"user", p.user}, {"key_id", key_id},
                                        {"serial", std::to_string(p.serial)}, {"ca", p.ca}, {"reason", why}});
    audit_auth(p.user, key_id, p.serial, p.ca, false, why);
    ctx_.metrics().auth_failure(classify_auth_failure(why));
  }
  // The plain keys OpenSSH offers before a certificate leave no row of
  // their own, as before an accepted certificate.
  if (answered || !probes_.empty()) return;
  std::string why;
  if (plain_keys_.empty()) {
    why = "no certificate offered";
  } else {
    why = "not a certificate: plain key" + std::string(plain_keys_.size() > 1 ? "s " : " ") + join(plain_keys_, ", ");
    if (more_plain_keys_) why += " and more";
    why += " offered; a user certificate is required";
  }
  log_warn("authentication refused", {{"peer", peer_}, {"user", login_user_}, {"reason", why}});
  audit_auth(login_user_, "", 0, "", false, why);
  ctx_.metrics().auth_failure(classify_auth_failure(why));
}

int Connection::refuse_login(const std::string& user, const std::string& reason, const std::string& key_id_sent,
                             uint64_t serial, const std::string& ca, bool client_fault) {
  // The key ID may be from a certificate no CA vouched for (user is
  // login_user_, already clipped; ca is a fingerprint we computed).
  const std::string key_id = clip_untrusted(key_id_sent);
  const std::string why = clip_untrusted(reason, kMaxReasonBytes);
  ++failures_;
  if (client_fault) ++credential_failures_;
  else refused_by_us_ = true;
  ctx_.metrics().auth_failure(classify_auth_failure(why));
  log_warn("authentication refused", {{"peer", peer_}, {"user", user}, {"key_id", key_id},
                                      {"serial", std::to_string(serial)}, {"ca", ca}, {"reason", why}});
  audit_auth(user, key_id, serial, ca, false, why);
  if (failures_ >= kMaxAuthFailures) ssh_disconnect(session_.get());
  return SSH_AUTH_DENIED;
}

void Connection::auth_other(ssh_message msg) {
  if (s_) return;
  const char* user = ssh_message_auth_user(msg);
  login_asked_ = true;
  login_user_ = clip_untrusted(user ? user : "");
  switch (ssh_message_subtype(msg)) {
    // OpenSSH clients ask with "none" first on every login to learn the
    // methods: not an attempt by itself (the connection's end says if
    // nothing else came).
    case SSH_AUTH_METHOD_NONE: return;
    case SSH_AUTH_METHOD_PASSWORD:
      refuse_login(login_user_, "password authentication is not accepted; a user certificate is required", "", 0, "");
      return;
    case SSH_AUTH_METHOD_INTERACTIVE:
      refuse_login(login_user_, "keyboard-interactive authentication is not accepted; a user certificate is required",
                   "", 0, "");
      return;
    default:
      refuse_login(login_user_, "authentication method not accepted; a user certificate is required", "", 0, "");
      return;
  }
}

// The trampolines below are called from inside libssh: each one refuses
// what it was asked if an exception comes up.
int Connection::cb_auth_pubkey(ssh_session, const char* user, ssh_key key, char state, void* self) {
  auto* c = static_cast<Connection*>(self);
  return guarded(c->peer_, "authentication", int{SSH_AUTH_DENIED},
                 [&] { return c->auth_pubkey(user ? user : "", key, state); });
}

ssh_channel Connection::cb_channel_open(ssh_session, void* self) {
  auto* c = static_cast<Connection*>(self);
  return guarded(c->peer_, "channel open", ssh_channel{nullptr},
                 [&] { return c->s_ ? c->s_->open_channel() : nullptr; });
}

// Requests no callback took: forwarding of every kind, X11 and agent
// channels. They are refused (libssh's default reply) and audited.
int Connection::cb_message(ssh_session, ssh_message msg, void* self) {
  auto* c = static_cast<Connection*>(self);
  return guarded(c->peer_, "request refusal", 1, [&] {
    const int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);
    if (type == SSH_REQUEST_AUTH) {
      c->auth_other(msg);
      return 1;  // libssh's default reply: failure, publickey is the method
    }
    std::string what;
    std::string reason = "port forwarding is not allowed";
    if (type == SSH_REQUEST_CHANNEL_OPEN && sub == SSH_CHANNEL_DIRECT_TCPIP) {
      // A kubectl target's API, for the user's own kubectl: the session
      // takes the channel (its opening is audited with its decision).
      if (c->s_ && c->s_->open_tunnel(msg, reason)) return 0;
      const char* host = ssh_message_channel_request_open_destination(msg);
      what = "direct-tcpip to " + std::string(host ? host : "?") + ":" +
             std::to_string(ssh_message_channel_request_open_destination_port(msg));
    } else if (type == SSH_REQUEST_CHANNEL_OPEN) {
      // Named as OpenSSH names the channel type, so the user's line says what.
      what = sub == SSH_CHANNEL_X11                ? "x11 channel"
             : sub == SSH_CHANNEL_AUTH_AGENT       ? "auth-agent channel"
             : sub == SSH_CHANNEL_FORWARDED_TCPIP  ? "forwarded-tcpip channel"
                                                   : "channel type " + std::to_string(sub);
      reason = sub == SSH_CHANNEL_X11          ? "X11 forwarding is not available through the bastion"
               : sub == SSH_CHANNEL_AUTH_AGENT ? "agent forwarding is not available through the bastion"
                                               : "only session channels are served";
    } else if (type == SSH_REQUEST_GLOBAL && (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD ||
                                              sub == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)) {
      what = "remote port forwarding";
      reason = "remote port forwarding is not allowed (a tunnel would bypass recording)";
    }
    if (!what.empty() && c->s_) c->s_->refuse_request("forward", what, reason);
    return 1;  // not handled here: libssh sends the default refusal
  });
}

int Connection::auth_pubkey(const char* user, ssh_key key, char state) {
  if (s_) return SSH_AUTH_DENIED;  // already authenticated
  const std::string u = user;  // exact: the target of an accepted login
  login_asked_ = true;
  login_user_ = clip_untrusted(u);
  auto refuse = [&](const std::string& why, const std::string& key_id, uint64_t serial, const std::string& ca,
                    bool client_fault = true) {
    return refuse_login(login_user_, why, key_id, serial, ca, client_fault);
  };
  const int type = ssh_key_type(key);
  const bool is_cert = type == SSH_KEYTYPE_ED25519_CERT01 || type == SSH_KEYTYPE_RSA_CERT01 ||
                       type == SSH_KEYTYPE_ECDSA_P256_CERT01 || type == SSH_KEYTYPE_ECDSA_P384_CERT01 ||
                       type == SSH_KEYTYPE_ECDSA_P521_CERT01;
  if (!is_cert) {
    // OpenSSH clients offer the bare key before its certificate on every
    // login; a query for it is routine, so it is noted, and audited only if
    // the login ends without another answer (audit_unfinished_login).
    if (state == SSH_PUBLICKEY_STATE_NONE) {
      // Queries are not counted as refusals: the debug line is kept to the
      // keys named, so a client repeating queries cannot grow the log.
      if (plain_keys_.size() < kMaxPlainKeysNamed) {
        log_debug("plain key offered", {{"peer", peer_}, {"user", login_user_}});
        plain_keys_.push_back(key_description(key));
      } else {
        more_plain_keys_ = true;
      }
      return SSH_AUTH_DENIED;
    }
    return refuse("not a certificate: plain key " + key_description(key) + "; a user certificate is required", "", 0,
                  "");
  }

  SshCertificate cert;
  std::string err;
  // The parser's complaint may quote the blob (an option's name).
  if (!parse_ssh_certificate(certificate_blob(key), cert, err))
    return refuse("malformed certificate: " + clip_untrusted(err), "", 0, "");
  TrustAnchors anchors{cfg_->user_cas, cfg_->revoked.get(), cfg_->cert_clock_skew};
  const CertVerdict v = verify_user_certificate(cert, anchors, unix_now(), peer_);
  if (!v.accepted) {
    // A problem the holder can fix is told only to the holder: the query
    // (anyone with the public certificate can send one) is answered "yes"
    // so that the client signs, and the reason goes out only with the
    // refusal of a verified signature. Everything else stays silent.
    const bool tell = cfg_->auth_failure_detail && !v.problems.empty();
    if (tell && state == SSH_PUBLICKEY_STATE_NONE) {
      note_probe(cert.key_id, cert.serial, v.ca_fingerprint, v.reason);
      return SSH_AUTH_SUCCESS;
    }
    if (tell && state == SSH_PUBLICKEY_STATE_VALID) {
      forget_probe(cert.key_id, cert.serial, v.ca_fingerprint);
      send_banner(cert_problem_lines(v.problems, cfg_->renew_hint.empty() ? kDefaultRenewHint : cfg_->renew_hint));
    }
    return refuse(v.reason, cert.key_id, cert.serial, v.ca_fingerprint);
  }

  // A query ("would you accept this key?") is answered without side effects;
  // the real attempt comes with a signature libssh has already verified
  // against the certified key.
  // Remembered until signed for: a client that cannot sign (a stolen
  // certificate without its key) still leaves a row with the key ID.
  if (state == SSH_PUBLICKEY_STATE_NONE) {
    note_probe(cert.key_id, cert.serial, v.ca_fingerprint);
    return SSH_AUTH_SUCCESS;
  }
  forget_probe(cert.key_id, cert.serial, v.ca_fingerprint);  // this attempt gets its own answer
  if (state != SSH_PUBLICKEY_STATE_VALID) return refuse("bad signature", cert.key_id, cert.serial, v.ca_fingerprint);

  // Only an authenticated connection counts against max_sessions.
  LoginSlots slots(ctx_);
  if (!slots.take_session(cfg_->limits.max_sessions))
    return refuse("max_sessions reached", cert.key_id, cert.serial, v.ca_fingerprint, false);
  if (!slots.take_identity(cert.key_id, cfg_->limits.max_sessions_per_identity))
    return refuse("too many sessions for this identity", cert.key_id, cert.serial, v.ca_fingerprint, false);

  Identity id{.key_id = cert.key_id,
              .principals = cert.principals,
              .serial = cert.serial,
              .ca_fingerprint = v.ca_fingerprint,
              .valid_before = cert.valid_before,
              .force_command = v.force_command,
              .extensions = {cert.extensions.begin(), cert.extensions.end()},
              .source_address = peer_,
              .requested_user = u,
              .certificate = std::make_shared<const SshCertificate>(cert)};
  const std::string sid = new_session_id();
  if (sid.empty()) {
    log_error("no random bytes for a session id; refusing login", {{"peer", peer_}});
    return refuse("internal error: no session id", cert.key_id, cert.serial, v.ca_fingerprint, false);
  }
  const std::string principals = join(cert.principals, ",");
  const SessionStart ss{.id = sid,
                        .identity = cert.key_id,
                        .principals = cert.principals,
                        .cert_serial = cert.serial,
                        .key_id = cert.key_id,
                        .ca_fingerprint = v.ca_fingerprint,
                        .source_address = peer_,
                        .target = u,
                        .started_at = iso8601_now()};
  if (!ctx_.audit().session_started(ss, err)) {
    // Fail closed: no audit row, no session.
    log_error("audit write failed; refusing login", {{"peer", peer_}, {"error", err}});
    return refuse("audit store unavailable", cert.key_id, cert.serial, v.ca_fingerprint, false);
  }
  audit_auth(login_user_, cert.key_id, cert.serial, v.ca_fingerprint, true, "accepted");
  log_info("session opened", {{"session", sid}, {"peer", peer_}, {"identity", cert.key_id},
                              {"principals", principals}, {"serial", std::to_string(cert.serial)},
                              {"ca", v.ca_fingerprint}, {"target", u},
                              {"valid_before", iso8601(static_cast<int64_t>(std::min<uint64_t>(cert.valid_before, INT64_MAX)))}});
  s_ = std::make_unique<Session>(ctx_, cfg_, session_.get(), std::move(id), sid);
  // The login is complete: its slots now belong to the connection, and it
  // no longer counts as unauthenticated.
  slots.keep();
  identity_slot_ = cert.key_id;
  session_slot_ = true;
  ctx_.end_startup(source_);
  unauthenticated_ = false;
  return SSH_AUTH_SUCCESS;
}

void Connection::send_banner(const std::string& text) {
  const SshString banner(ssh_string_from_char(text.c_str()));
  if (!banner || ssh_send_issue_banner(session_.get(), banner.get()) != SSH_OK)
    log_info("cannot send the refusal banner", {{"peer", peer_}, {"error", ssh_get_error(session_.get())}});
}

void Connection::run() {
  guarded(peer_, "connection", 0, [this] {
    serve();
    return 0;
  });
}

void Connection::serve() {
  ssh_session s = session_.get();
  long grace = cfg_->limits.login_grace_time;
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &grace);
  const double deadline = monotonic_seconds() + grace;
  // Callbacks go in before the key exchange: the client's first auth
  // packets can arrive while ssh_handle_key_exchange is still running.
  cb_.userdata = this;
  cb_.auth_pubkey_function = &Connection::cb_auth_pubkey;
  cb_.channel_open_request_session_function = &Connection::cb_channel_open;
  ssh_callbacks_init(&cb_);
  ssh_set_server_callbacks(s, &cb_);
  ssh_set_message_callback(s, &Connection::cb_message, this);
  ssh_set_auth_methods(s, SSH_AUTH_METHOD_PUBLICKEY);
  if (ssh_handle_key_exchange(s) != SSH_OK) {
    grace_exceeded_ = monotonic_seconds() >= deadline;
    log_info("key exchange failed", {{"peer", peer_}, {"error", ssh_get_error(s)}});
    return;
  }

  SshEvent ev(ssh_event_new());
  if (!ev || ssh_event_add_session(ev.get(), s) != SSH_OK) return;
  while (!s_) {
    if (monotonic_seconds() > deadline) {
      grace_exceeded_ = true;
      log_info("login grace time exceeded", {{"peer", peer_}});
      return;
    }
    if (ctx_.stopping()) return;
    if (ssh_event_dopoll(ev.get(), 100) == SSH_ERROR && !ssh_is_connected(s)) return;
    if (!ssh_is_connected(s)) return;
  }
  s_->run(ev.get());
  ssh_event_remove_session(ev.get(), s);
}

}  // namespace bastion
