// The reserved targets (approvals@, access@) as a channel: one command from
// the exec line, or a console (pty) / script (stdin lines). Nothing reaches
// any target: the commands act on approval requests only.
#pragma once
#include <memory>
#include <string>

#include "approvals/approval_commands.h"
#include "sources/command_console.h"
#include "targets/target.h"

namespace bastion {

class ApprovalsExecutor : public Executor, private ConsoleInterpreter {
 public:
  static constexpr std::size_t kMaxLine = 64 * 1024;

  ApprovalsExecutor(std::string which, const ExecRequest& req, std::unique_ptr<ApprovalCommands> commands);

  // Bounded like every console: unread input waits in the client's window.
  std::size_t input_capacity() override { return finished_ || console_.unread() >= kMaxLine ? 0 : kMaxLine; }
  bool write_input(std::string_view data) override;
  void send_eof() override { console_.send_eof(); }
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override {}

 private:
  // ConsoleInterpreter: each line is one command.
  void on_line(const std::string& line) override;
  void on_end_of_input() override;
  void on_line_too_long() override;
  std::string prompt() override { return which_ + "> "; }
  bool busy() const override { return false; }
  bool finished() const override { return finished_; }

  void run_line(const std::string& line);
  void announce_arrivals();  // an approver's console: new requests they may decide

  static constexpr double kArrivalPollSeconds = 1.0;

  std::string which_;
  std::unique_ptr<ApprovalCommands> commands_;
  CommandConsole console_;
  std::string command_;  // exec line, run at the first pump
  bool announce_ = false;          // approvals console on a pty
  int64_t announced_after_ = 0;    // the newest request id already seen
  double next_arrival_poll_ = 0;   // monotonic seconds
  bool finished_ = false;
  ExitInfo exit_;
};

}  // namespace bastion
