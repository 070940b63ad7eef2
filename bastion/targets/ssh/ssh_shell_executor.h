// A pty channel on a remote host (a shell, or an exec with a pty): the
// SshExecutor's bytes pass through a ShellLineTracker, so each line the
// user submits is decided before its Enter reaches the target. Output is
// read into the tracker's screen model before the output filters (the
// decision reads what the shell really shows), then forwarded.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "sources/shell_line_tracker.h"
#include "targets/target.h"

namespace bastion {

class SshShellExecutor : public Executor {
 public:
  SshShellExecutor(std::unique_ptr<Executor> inner, CommandGate& gate, const PtyRequest& pty);
  ~SshShellExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override;
  void send_signal(const std::string& name) override { inner_->send_signal(name); }
  void set_output_wanted(bool w) override { inner_->set_output_wanted(w); }
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return inner_->exit_info(); }
  bool changed_since_pump() const override { return inner_->changed_since_pump(); }
  void close() override;
  std::optional<int> wants_wakeup_ms() const override;

 private:
  void flush_to_target();
  void write_own_words(OutputWriter& out);  // the tracker's messages to the user
  void drain_into_model();

  std::unique_ptr<Executor> inner_;
  ShellLineTracker tracker_;
  // Output read early (so a line's boundary sees all output before its
  // first key), already in the model, for the next pump_output.
  std::vector<std::pair<Stream, std::string>> early_;
  bool eof_pending_ = false;
  bool closed_ = false;
};

}  // namespace bastion
