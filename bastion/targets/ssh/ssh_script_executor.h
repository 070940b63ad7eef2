// A shell channel without a pty on a remote host (`ssh -T host`, `cmd |
// ssh host bash`): the channel's input is commands for the target's shell,
// so each is decided before it is sent on (ShellScriptInterpreter), rather
// than the bytes being relayed raw. A decorator over the channel's
// SshExecutor: output is relayed untouched but for the masks of masked
// lines, which apply from that line to the channel's end; the exit status
// is 126 when a refused line stopped the script.
#pragma once
#include <memory>

#include "filters/masking_filter.h"

#include "policy/command_gate.h"
#include "sources/shell_script_interpreter.h"
#include "targets/ssh/ssh_executor.h"

namespace bastion {

// Whether a channel is a shell reading its commands from the client's
// stdin, with no pty: a `shell` request, or an exec of a bare shell (bash,
// sh, dash, zsh, ksh, busybox sh) with only options that keep it reading
// stdin (-s -i -l -e -x, --noprofile, --norc, -o NAME). Not `bash FILE`,
// `bash -c ...`, a wrapper (`env bash`) or anything the parser cannot
// resolve: those stay one exec decided when the channel starts.
bool decides_stdin_lines(const ExecRequest& req);

class SshScriptExecutor : public Executor {
 public:
  SshScriptExecutor(std::unique_ptr<SshExecutor> inner, CommandGate& gate);
  ~SshScriptExecutor() override;

  std::size_t input_capacity() override { return script_.input_capacity(); }
  bool write_input(std::string_view data) override;
  void send_eof() override { script_.send_eof(); }
  void window_change(int cols, int rows) override { inner_->window_change(cols, rows); }
  void send_signal(const std::string& name) override { inner_->send_signal(name); }
  void set_output_wanted(bool wanted) override { inner_->set_output_wanted(wanted); }
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override;
  bool changed_since_pump() const override { return inner_->changed_since_pump(); }
  void close() override;

 private:
  // The shell's stdin at the target, under the upstream channel's window.
  struct Stdin : ScriptTarget {
    explicit Stdin(SshExecutor& e) : exec(e) {}
    std::size_t input_capacity() override { return exec.input_capacity(); }
    bool write_input(std::string_view data) override { return exec.write_input(data); }
    void send_eof() override { exec.send_eof(); }
    SshExecutor& exec;
  };

  // Output through the masks the script's lines collected (null: none yet).
  bool pump_masked(OutputWriter& out, std::size_t budget);
  void release_masked(OutputWriter& out);

  std::unique_ptr<SshExecutor> inner_;
  Stdin stdin_;
  ShellScriptInterpreter script_;
  std::unique_ptr<MaskingFilter> masks_;
  std::size_t mask_rules_ = 0;
  double last_output_ = 0;
};

}  // namespace bastion
