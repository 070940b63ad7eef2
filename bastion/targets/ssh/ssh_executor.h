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
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  static void on_exit_status(ssh_session, ssh_channel, int status, void* self);
  static void on_exit_signal(ssh_session, ssh_channel, const char* sig, int core, const char* msg,
                             const char* lang, void* self);
  SshChannel ch_;
  ssh_channel_callbacks_struct cb_{};
  ExitInfo exit_;
  bool eof_sent_ = false;
};

}  // namespace bastion
