// One command running on a remote host target: an upstream SSH channel.
#pragma once
#include <libssh/callbacks.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/ssh_handles.h"
#include "targets/ssh/upstream_hold.h"
#include "targets/target.h"

namespace bastion {

class SshExecutor : public Executor {
 public:
  // Takes an open channel and registers the exit callbacks at once: requests
  // go out only after this, so an exit-status that arrives while libssh waits
  // for the exec reply is never missed. `hold`: the connection's (may be null).
  SshExecutor(SshChannel ch, std::shared_ptr<UpstreamHold> hold);
  ssh_channel channel() const { return ch_.get(); }
  ~SshExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override;
  void send_signal(const std::string& name) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  // Asked on every pass (the wrappers pass it on): the hold is brought up to
  // date here, as the data callback cannot change the event it runs under.
  void set_output_wanted(bool) override { sync_hold(); }
  bool changed_since_pump() const override;
  // Everything here moves on packets (data, window adjusts, exit, close),
  // which wake the session's poll: no timer.
  std::optional<int> wants_wakeup_ms() const override { return std::nullopt; }
  // Output buffered for this channel (both streams) past which the bastion
  // stops reading the connection (UpstreamHold). A command writing one
  // stream keeps under about 1.9 MB (a window and a half), as libssh's
  // window holds it back; only interleaved stdout and stderr get past that.
  static constexpr uint64_t kHoldAt = 4u << 20;
  // Past this the command is ended: on a connection carrying several
  // channels (which is not held), or what a channel opened on a held one
  // lets in (opening it reads the socket).
  static constexpr uint64_t kMaxBuffered = 16u << 20;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  static void on_exit_status(ssh_session, ssh_channel, int status, void* self);
  static void on_exit_signal(ssh_session, ssh_channel, const char* sig, int core, const char* msg,
                             const char* lang, void* self);
  static int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* self);
  static void on_close(ssh_session, ssh_channel, void* self);
  static void on_eof(ssh_session, ssh_channel, void* self);
  void note_pumped();  // what pump_output saw: changed_since_pump() compares
  uint64_t buffered() const { return static_cast<uint64_t>(buffered_[0]) + buffered_[1]; }
  // Holds or releases the connection for this channel. Never from a libssh
  // callback: it changes the event the session is polling.
  void sync_hold();
  SshChannel ch_;
  std::shared_ptr<UpstreamHold> hold_;
  ssh_channel_callbacks_struct cb_{};
  ExitInfo exit_;
  bool eof_sent_ = false;
  // What libssh buffers per stream (stdout, stderr), as its data callback
  // last said (`len` is the stream's whole buffer); reads take from it. So
  // pump_output reads exactly what is buffered (its reads never poll the socket).
  uint32_t buffered_[2] = {0, 0};
  // Callbacks run (data, EOF, exit, close) and whether the connection was up,
  // now and when pump_output last looked.
  uint64_t events_ = 0, events_seen_ = 0;
  bool connected_seen_ = true;
  // While held, the connection is not written (libssh would queue without
  // bound): the client's last window size and signal wait for the release.
  std::optional<std::pair<int, int>> held_window_;
  std::string held_signal_;
};

}  // namespace bastion
