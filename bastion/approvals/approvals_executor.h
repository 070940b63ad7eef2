// The reserved targets (approvals@, access@) as a channel: one command from
// the exec line, or a console (pty) / script (stdin lines). Nothing reaches
// any target: the commands act on approval requests only.
#pragma once
#include <memory>
#include <string>

#include "approvals/approval_commands.h"
#include "sources/line_editor.h"
#include "targets/target.h"

namespace bastion {

class ApprovalsExecutor : public Executor {
 public:
  ApprovalsExecutor(std::string which, const ExecRequest& req, std::unique_ptr<ApprovalCommands> commands);

  std::size_t input_capacity() override { return finished_ ? 0 : 64 * 1024; }
  bool write_input(std::string_view data) override;
  void send_eof() override { eof_ = true; }
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputPipeline& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override {}

 private:
  void run_line(const std::string& line, OutputPipeline& out);
  void emit(OutputPipeline& out, Stream s, std::string text);

  std::string which_;
  std::unique_ptr<ApprovalCommands> commands_;
  bool pty_;
  bool console_;
  std::string command_;  // exec line, run at the first pump
  LineEditor editor_;
  std::string in_;
  bool eof_ = false;
  bool prompt_shown_ = false;
  bool finished_ = false;
  ExitInfo exit_;
};

}  // namespace bastion
