// What a client asks of a session channel (RFC 4254 section 6), taken from
// libssh's callbacks: pty, env and the one request that starts the channel
// (exec, shell, subsystem) while it is larval; window changes and signals
// afterwards go to the channel. Nothing here adds or removes ssh_event
// descriptors: the channel starts from the session loop, not from here.
#pragma once
#include <map>
#include <optional>
#include <string>

#include <libssh/callbacks.h>

#include "targets/target.h"

namespace bastion {

class Session;

class ChannelRequests {
 public:
  // Where the requests that follow the start go.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void window_changed(int cols, int rows) = 0;
    virtual void signal(const std::string& name) = 0;
    virtual void notice(const std::string& text) = 0;
    virtual bool larval() const = 0;  // not started, nor ended: it still takes pty, env and a start
  };

  ChannelRequests(Session& s, ssh_channel ch, Handler& handler);
  // The client may still send requests (window-change, signal) on a channel
  // libssh keeps until its CLOSE is acknowledged: they must not reach us.
  ~ChannelRequests();
  ChannelRequests(const ChannelRequests&) = delete;
  ChannelRequests& operator=(const ChannelRequests&) = delete;

  // A direct-tcpip channel: started without channel requests.
  void open_tunnel(const std::string& destination);
  // The client asked to start (exec, shell, subsystem) or the tunnel opened.
  bool start_requested() const { return started_; }

  // Client data packets seen so far (the data callback counts them; the
  // bytes stay in libssh's buffer). Any libssh call may process one: another
  // channel's read polls the whole session.
  uint64_t arrivals() const { return arrivals_; }
  // The client's input in libssh's buffer passed kMaxBufferedInput: more
  // than any client that keeps to its window can have sent (the session
  // reads that buffer whole). libssh accepts data past the window, and
  // reopens the window on every extended-data packet whatever the plain
  // buffer holds, so only this bound stops such a client. From then on its
  // input is dropped as it arrives, and the channel is ended.
  static constexpr uint32_t kMaxBufferedInput = 4u << 20;
  bool overran() const { return overran_; }
  // The client sent CLOSE. libssh reports the channel closed only once its
  // buffer of the client's input is read (a delayed close): until then the
  // channel looks open, and a target that stopped reading never lets it.
  bool close_received() const { return close_received_; }

  const std::optional<PtyRequest>& pty() const { return pty_; }
  bool pty_refused() const { return pty_refused_; }  // the certificate lacks permit-pty
  const std::map<std::string, std::string>& env() const { return env_; }
  ChannelKind kind() const { return kind_; }
  const char* kind_name() const { return channel_kind_name(kind_); }
  const std::string& text() const { return text_; }

 private:
  static int cb_pty(ssh_session, ssh_channel, const char* term, int w, int h, int, int, void* self);
  static int cb_shell(ssh_session, ssh_channel, void* self);
  static int cb_exec(ssh_session, ssh_channel, const char* cmd, void* self);
  static int cb_subsystem(ssh_session, ssh_channel, const char* name, void* self);
  static int cb_env(ssh_session, ssh_channel, const char* k, const char* v, void* self);
  static int cb_window(ssh_session, ssh_channel, int w, int h, int, int, void* self);
  static int cb_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* self);
  static void cb_signal(ssh_session, ssh_channel, const char* sig, void* self);
  static void cb_close(ssh_session, ssh_channel, void* self);
  static void cb_agent(ssh_session, ssh_channel, void* self);
  static void cb_x11(ssh_session, ssh_channel, int, const char*, const char*, uint32_t, void* self);

  int start(ChannelKind kind, const std::string& text);
  bool larval() const { return !started_ && handler_.larval(); }

  Session& s_;
  ssh_channel ch_;
  Handler& handler_;
  ssh_channel_callbacks_struct cb_{};
  bool started_ = false;
  uint64_t arrivals_ = 0;
  bool overran_ = false;
  bool close_received_ = false;
  std::optional<PtyRequest> pty_;
  bool pty_refused_ = false;
  std::map<std::string, std::string> env_;
  ChannelKind kind_ = ChannelKind::exec;
  std::string text_;
};

}  // namespace bastion
