#include "targets/ssh/ssh_target.h"

#include <sstream>

#include "common/log.h"

#include "targets/ssh/minted_identity.h"
#include "targets/ssh/sftp_gate.h"
#include "targets/ssh/ssh_executor.h"
#include "targets/ssh/ssh_shell_executor.h"
#include "targets/ssh/ssh_script_executor.h"

namespace bastion {
namespace {

constexpr const char* kUpstreamCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr";

}  // namespace

bool import_identity(const SshCredential& c, SshKey& key, std::string& error) {
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_base64(c.identity_key.bytes.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK)
    return error = c.identity + ": not a private key libssh can load (or it has a passphrase)", false;
  key.reset(raw);
  if (c.certificate.empty()) return true;
  // An OpenSSH public key line: TYPE BASE64 [COMMENT].
  std::istringstream line(c.certificate_text);
  std::string type, b64;
  line >> type >> b64;
  const ssh_keytypes_e kt = ssh_key_type_from_name(type.c_str());
  ssh_key cert_raw = nullptr;
  if (b64.empty() || kt == SSH_KEYTYPE_UNKNOWN || ssh_pki_import_cert_base64(b64.c_str(), kt, &cert_raw) != SSH_OK)
    return error = c.certificate + ": not an OpenSSH certificate", false;
  SshKey cert(cert_raw);
  if (ssh_pki_copy_cert_to_privkey(cert.get(), key.get()) != SSH_OK)
    return error = c.certificate + ": certificate does not match identity " + c.identity, false;
  return true;
}

std::unique_ptr<SshTargetConnection> SshTargetConnection::connect(const TargetConfig& t, const SshCredential& cred,
                                                                  const ConnectContext& ctx, std::string& error) {
  SshSession s(ssh_new());
  if (!s) return error = "out of memory", nullptr;
  const auto& c = kind_part<SshSettings>(t.settings.get());
  long timeout = c.connect_timeout;
  int verbosity = SSH_LOG_NOLOG;
  bool no = false;
  unsigned int port = static_cast<unsigned int>(c.port);
  ssh_options_set(s.get(), SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
  ssh_options_set(s.get(), SSH_OPTIONS_HOST, c.host.c_str());
  ssh_options_set(s.get(), SSH_OPTIONS_PORT, &port);
  ssh_options_set(s.get(), SSH_OPTIONS_USER, cred.user.c_str());
  ssh_options_set(s.get(), SSH_OPTIONS_TIMEOUT, &timeout);
  // Only the configured known_hosts counts; nothing from the bastion's home.
  ssh_options_set(s.get(), SSH_OPTIONS_KNOWNHOSTS, c.known_hosts.c_str());
  ssh_options_set(s.get(), SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
  ssh_options_set(s.get(), SSH_OPTIONS_PROCESS_CONFIG, &no);
  // The bastion is the client on this leg, so its order wins: AES-GCM first
  // (AES-NI makes it far cheaper per byte than chacha20-poly1305, the
  // target's own first choice), the rest as fallbacks for targets without it.
  ssh_options_set(s.get(), SSH_OPTIONS_CIPHERS_C_S, kUpstreamCiphers);
  ssh_options_set(s.get(), SSH_OPTIONS_CIPHERS_S_C, kUpstreamCiphers);
  // Each request (channel open, exec) is one small packet waiting for its
  // reply: with Nagle's algorithm it can wait out the peer's delayed ACK.
  int nodelay = 1;
  ssh_options_set(s.get(), SSH_OPTIONS_NODELAY, &nodelay);
  const std::string where = "target " + t.name + " (" + c.host + ":" + std::to_string(c.port) + ")";

  if (ssh_connect(s.get()) != SSH_OK) return error = where + " unreachable: " + ssh_get_error(s.get()), nullptr;

  switch (ssh_session_is_known_server(s.get())) {
    case SSH_KNOWN_HOSTS_OK: break;
    case SSH_KNOWN_HOSTS_CHANGED:
      return error = where + ": host key has CHANGED; refusing to connect", nullptr;
    case SSH_KNOWN_HOSTS_OTHER:
      return error = where + ": host key type differs from known_hosts; refusing to connect", nullptr;
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      return error = where + ": host key not in known_hosts; refusing to connect", nullptr;
    default:
      return error = where + ": cannot verify host key: " + ssh_get_error(s.get()), nullptr;
  }

  SshKey key;
  std::string why;
  if (cred.mints()) {
    // Minted only once the host key is verified: no certificate for an impostor.
    MintedCertInfo minted;
    if (!mint_identity(t, cred, ctx, s.get(), key, minted, why)) return error = where + ": " + why, nullptr;
    if (ssh_userauth_publickey(s.get(), nullptr, key.get()) != SSH_AUTH_SUCCESS)
      return error = where + ": the target refused the bastion's certificate (serial " + std::to_string(minted.serial) +
                     ", principals " + minted.principals + "): does its sshd trust the bastion's CA " +
                     "(TrustedUserCAKeys) and allow that principal for user " + cred.user + "?",
             nullptr;
  } else {
    if (!import_identity(cred, key, why)) return error = where + ": cannot load the bastion's credential", nullptr;
    if (ssh_userauth_publickey(s.get(), nullptr, key.get()) != SSH_AUTH_SUCCESS)
      return error = where + ": the target refused the bastion's credential", nullptr;
  }
  // What this leg costs per byte depends on it: say which one the target took.
  const char* in = ssh_get_cipher_in(s.get());
  const char* out = ssh_get_cipher_out(s.get());
  log_info("target connected", {{"target", t.name}, {"cipher_in", in ? in : ""}, {"cipher_out", out ? out : ""}});
  return std::unique_ptr<SshTargetConnection>(new SshTargetConnection(std::move(s), t.name));
}

SshTargetConnection::SshTargetConnection(SshSession s, std::string name)
    : session_(std::move(s)), name_(std::move(name)), hold_(std::make_shared<UpstreamHold>([this](bool held) {
        if (held) poll_out();
        else poll_in();
      })) {}

SshTargetConnection::~SshTargetConnection() {
  hold_->orphan();
  detach();
}

void SshTargetConnection::attach(ssh_event ev) {
  if (wanted_ == ev) return;
  detach();
  wanted_ = ev;
  poll_in();
}

void SshTargetConnection::detach() {
  poll_out();
  wanted_ = nullptr;
}

void SshTargetConnection::poll_in() {
  if (event_ || !wanted_ || hold_->held()) return;
  if (ssh_event_add_session(wanted_, session_.get()) == SSH_OK) event_ = wanted_;
}

void SshTargetConnection::poll_out() {
  if (event_) ssh_event_remove_session(event_, session_.get());
  event_ = nullptr;
}

bool SshTargetConnection::connected() const { return ssh_is_connected(session_.get()) != 0; }

std::unique_ptr<Executor> SshTargetConnection::start(const ExecRequest& req, std::string& error) {
  // A pty shell's lines are read off a screen model of bounded size.
  const bool lines = req.pty && req.gate && (req.kind == ChannelKind::shell || req.kind == ChannelKind::exec);
  if (lines && !ScreenModel::size_ok(req.pty->cols, req.pty->rows))
    return error = "terminal " + std::to_string(req.pty->cols) + "x" + std::to_string(req.pty->rows) +
                   " is outside what the bastion reads (" + std::to_string(ScreenModel::kMinCols) + "x1 to " +
                   std::to_string(ScreenModel::kMaxCols) + "x" + std::to_string(ScreenModel::kMaxRows) +
                   "); resize the window",
           nullptr;
  // Opening a channel is a short blocking exchange; do it outside the shared
  // event so no client callbacks run in the middle of it.
  ssh_event ev = wanted_;
  detach();
  ssh_set_blocking(session_.get(), 1);
  auto fail = [&](const std::string& what) -> std::unique_ptr<Executor> {
    error = "target " + name_ + ": " + what + ": " + ssh_get_error(session_.get());
    ssh_set_blocking(session_.get(), 0);
    if (ev) attach(ev);
    return nullptr;
  };
  SshChannel ch(ssh_channel_new(session_.get()));
  if (!ch || ssh_channel_open_session(ch.get()) != SSH_OK) return fail("cannot open a channel");
  auto exec = std::make_unique<SshExecutor>(std::move(ch), hold_);  // callbacks first
  ssh_channel c = exec->channel();
  if (req.pty && ssh_channel_request_pty_size(c, req.pty->term.c_str(), req.pty->cols, req.pty->rows) != SSH_OK)
    return fail("pty request refused");
  // The target's sshd decides which variables it accepts; a refusal is not fatal.
  for (const auto& [k, v] : req.env) ssh_channel_request_env(c, k.c_str(), v.c_str());
  int rc;
  if (req.kind == ChannelKind::exec) rc = ssh_channel_request_exec(c, req.text.c_str());
  else if (req.kind == ChannelKind::shell) rc = ssh_channel_request_shell(c);
  else rc = ssh_channel_request_subsystem(c, req.text.c_str());
  if (rc != SSH_OK) return fail(std::string(channel_kind_name(req.kind)) + " request refused");
  ssh_set_blocking(session_.get(), 0);
  if (ev) attach(ev);
  // sftp: each file operation is decided on its own.
  if (req.kind == ChannelKind::subsystem && req.text == "sftp") return std::make_unique<SftpGate>(std::move(exec), req.gate);
  // A pty: each line is read off the screen and decided at its Enter.
  if (lines) return std::make_unique<SshShellExecutor>(std::move(exec), *req.gate, *req.pty);
  if (!decides_stdin_lines(req)) return exec;
  // A shell reading commands from stdin: each is decided before it is sent on.
  if (!req.gate) return error = "target " + name_ + ": no gate to decide the shell's lines", nullptr;
  return std::make_unique<SshScriptExecutor>(std::move(exec), *req.gate);
}

}  // namespace bastion
