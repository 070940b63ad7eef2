// One command running on a remote host target: an upstream SSH channel.
#pragma once
#include <libssh/callbacks.h>

#include "common/ssh_handles.h"
#include "targets/target.h"

namespace bastion {

class SshExecutor : public Executor {
 public:
  // Takes an open channel and registers the exit callbacks at once: requests
  // go out only after this, so an exit-status that arrives while libssh waits
  // for the exec reply is never missed.
  explicit SshExecutor(SshChannel ch);
  ssh_channel channel() const { return ch_.get(); }
  ~SshExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override;
  void send_signal(const std::string& name) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  // Everything here moves on packets (data, window adjusts, exit, close),
  // which wake the session's poll: no timer.
  std::optional<int> wants_wakeup_ms() const override { return std::nullopt; }
  // Output libssh may hold for this channel (both streams) before the
  // command is ended. libssh 0.10 reopens the window on every packet of one
  // stream while the other's buffer is full (an extended-data packet reopens
  // it whatever the plain buffer holds), so a command interleaving stdout
  // and stderr faster than its client reads is not held back by the window
  // alone. A command that keeps to one stream stays under 2 MB.
  static constexpr uint32_t kMaxBuffered = 8u << 20;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  static void on_exit_status(ssh_session, ssh_channel, int status, void* self);
  static void on_exit_signal(ssh_session, ssh_channel, const char* sig, int core, const char* msg,
                             const char* lang, void* self);
  static int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* self);
  SshChannel ch_;
  ssh_channel_callbacks_struct cb_{};
  ExitInfo exit_;
  bool eof_sent_ = false;
  // What libssh buffers per stream (stdout, stderr), as its data callback
  // last said; a whole read empties it.
  uint32_t buffered_[2] = {0, 0};
};

}  // namespace bastion
