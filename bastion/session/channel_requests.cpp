#include "session/channel_requests.h"

#include <cctype>
#include <cstring>
#include <string_view>

#include "common/guarded.h"
#include "common/ssh_channel_drain.h"
#include "common/log.h"
#include "session/session.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxEnvVars = 32, kMaxEnvName = 64, kMaxEnvValue = 1024;

// A locale whose charset is not UTF-8 (GBK, BIG5, SJIS, GB18030) has
// characters ending in the byte `\`, which bash then does not read as an
// escape: the bastion's parser (bytes as ASCII) would see another line than
// bash. Only C, POSIX and UTF-8 locales reach the target.
bool locale_safe(std::string_view v) {
  if (v.empty() || v == "C" || v == "POSIX") return true;
  const std::size_t at = v.find('@');
  const std::string_view name = v.substr(0, at);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string cs;
  for (char c : name.substr(dot + 1)) cs += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return cs == "utf-8" || cs == "utf8";
}

// A subsystem name that chooses a target: a target name, `/sftp`, or `targets --json`.
constexpr std::size_t kMaxSubsystemName = 256;

bool env_allowed(const std::string& k, std::string_view v) {
  if (k == "TERM") return true;
  // Only these choose how bytes decode into characters (LC_ALL over
  // LC_CTYPE over LANG); other LC_* (LC_TIME, LC_TERMINAL) pass as before.
  if (k == "LANG" || k == "LC_ALL" || k == "LC_CTYPE") return locale_safe(v);
  return k.starts_with("LC_");
}

// A subsystem the target's kind serves, nowhere else.
bool served_subsystem(Session& s, const std::string& name) {
  std::string why;
  const TargetConfig* t = name == "sftp" ? nullptr : s.target_config(why);
  return t && t->schema && kind_of(*t).serves_subsystem(name);
}

}  // namespace

ChannelRequests::ChannelRequests(Session& s, ssh_channel ch, Handler& handler)
    : s_(s), ch_(ch), handler_(handler) {
  cb_.userdata = this;
  cb_.channel_pty_request_function = &ChannelRequests::cb_pty;
  cb_.channel_shell_request_function = &ChannelRequests::cb_shell;
  cb_.channel_exec_request_function = &ChannelRequests::cb_exec;
  cb_.channel_subsystem_request_function = &ChannelRequests::cb_subsystem;
  cb_.channel_env_request_function = &ChannelRequests::cb_env;
  cb_.channel_pty_window_change_function = &ChannelRequests::cb_window;
  cb_.channel_signal_function = &ChannelRequests::cb_signal;
  cb_.channel_auth_agent_req_function = &ChannelRequests::cb_agent;
  cb_.channel_x11_req_function = &ChannelRequests::cb_x11;
  // The data callback takes nothing (client input waits in libssh until the
  // target can take it); it only notes that some arrived, so the channel
  // reads, and libssh polls the socket for more, only when there is input.
  cb_.channel_data_function = &ChannelRequests::cb_data;
  cb_.channel_close_function = &ChannelRequests::cb_close;
  ssh_callbacks_init(&cb_);
  ssh_set_channel_callbacks(ch_, &cb_);
}

ChannelRequests::~ChannelRequests() {
  if (!ch_) return;
  ssh_remove_channel_callbacks(ch_, &cb_);
  // The channel may outlive us in libssh (until the client answers its
  // CLOSE): whatever the client sends on it from now on is dropped.
  drop_further_data(ch_);
}

void ChannelRequests::open_tunnel(const std::string& destination) {
  kind_ = ChannelKind::tunnel;
  text_ = destination;
  started_ = true;
}

// libssh calls these from C: an exception must not unwind through it. A
// request that throws is refused; the session goes on.
int ChannelRequests::cb_pty(ssh_session, ssh_channel, const char* term, int w, int h, int, int, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "pty-req", SSH_ERROR, [&] {
    if (!p->larval()) return SSH_ERROR;
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

int ChannelRequests::cb_shell(ssh_session, ssh_channel, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "shell", SSH_ERROR, [&] { return p->start(ChannelKind::shell, ""); });
}

int ChannelRequests::cb_exec(ssh_session, ssh_channel, const char* cmd, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "exec", SSH_ERROR, [&] { return p->start(ChannelKind::exec, cmd ? cmd : ""); });
}

int ChannelRequests::cb_subsystem(ssh_session, ssh_channel, const char* name, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "subsystem", SSH_ERROR, [&] {
    const std::string n = name ? name : "";
    // sftp (refused later, with a reason, where the kind does not serve it),
    // or a subsystem the target's kind serves. A login that named no target
    // chooses one per channel by the subsystem name, and one that named a
    // target is told why another is refused (ChannelPipeline::route_subsystem).
    const std::string named = n.ends_with("/sftp") ? n.substr(0, n.size() - 5) : n;
    const bool routed = n.size() <= kMaxSubsystemName && (p->s_.unknown_target() ||
                                                         (p->s_.names_target(named) && named != p->s_.identity().requested_user));
    if (n != "sftp" && !routed && !served_subsystem(p->s_, n)) {
      log_warn("subsystem refused", {{"session", p->s_.id()}, {"subsystem", n}});
      return SSH_ERROR;
    }
    return p->start(ChannelKind::subsystem, n);
  });
}

int ChannelRequests::cb_env(ssh_session, ssh_channel, const char* k, const char* v, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "env", SSH_ERROR, [&] {
    if (!p->larval() || !k || !v || !env_allowed(k, v)) return SSH_ERROR;
    // Bounded: a client must not grow a channel without limit before it starts.
    if (std::strlen(k) > kMaxEnvName || std::strlen(v) > kMaxEnvValue ||
        (p->env_.size() >= kMaxEnvVars && !p->env_.contains(k)))
      return SSH_ERROR;
    p->env_[k] = v;
    return SSH_OK;
  });
}

int ChannelRequests::cb_window(ssh_session, ssh_channel, int w, int h, int, int, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  return guarded(p->s_.id(), "window-change", SSH_ERROR, [&] {
    if (!p->pty_ || w <= 0 || h <= 0) return SSH_ERROR;
    p->pty_->cols = w;
    p->pty_->rows = h;
    p->handler_.window_changed(w, h);
    return SSH_OK;
  });
}

int ChannelRequests::cb_data(ssh_session, ssh_channel, void*, uint32_t len, int is_stderr, void* self) {
  // Extended data from a client has no meaning on any channel the bastion
  // serves (OpenSSH's sshd drops it too). Nothing reads it, and libssh
  // reopens the window as the channel's plain input is read: left in its
  // buffer it would grow without bound. Taken here and dropped.
  if (is_stderr) return static_cast<int>(len);
  auto* p = static_cast<ChannelRequests*>(self);
  ++p->arrivals_;
  // `len` is all that libssh buffers for the channel's plain input.
  if (p->overran_ || len > kMaxBufferedInput) {
    p->overran_ = true;
    return static_cast<int>(len);  // dropped: the channel is being ended
  }
  return 0;  // consumed nothing: the bytes stay in libssh's buffer
}

void ChannelRequests::cb_close(ssh_session, ssh_channel, void* self) {
  static_cast<ChannelRequests*>(self)->close_received_ = true;
}

void ChannelRequests::cb_signal(ssh_session, ssh_channel, const char* sig, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  guarded(p->s_.id(), "signal", 0, [&] {
    if (sig) p->handler_.signal(sig);
    return 0;
  });
}

void ChannelRequests::cb_agent(ssh_session, ssh_channel, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  guarded(p->s_.id(), "auth-agent-req", 0, [&] {
    log_warn("agent forwarding refused", {{"session", p->s_.id()}});
    p->handler_.notice("bastion: agent forwarding is not available through the bastion");
    return 0;
  });
}

void ChannelRequests::cb_x11(ssh_session, ssh_channel, int, const char*, const char*, uint32_t, void* self) {
  auto* p = static_cast<ChannelRequests*>(self);
  guarded(p->s_.id(), "x11-req", 0, [&] {
    log_warn("X11 forwarding refused", {{"session", p->s_.id()}});
    p->handler_.notice("bastion: X11 forwarding is not available through the bastion");
    return 0;
  });
}

int ChannelRequests::start(ChannelKind kind, const std::string& text) {
  if (!larval()) return SSH_ERROR;
  kind_ = kind;
  text_ = text;
  if (const auto& forced = s_.identity().force_command) {
    // The certificate's force-command replaces whatever the client asked for.
    kind_ = ChannelKind::exec;
    text_ = *forced;
  }
  started_ = true;
  return SSH_OK;
}

}  // namespace bastion
