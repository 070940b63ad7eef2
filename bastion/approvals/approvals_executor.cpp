#include "approvals/approvals_executor.h"

#include "common/display_escape.h"
#include "common/time_util.h"
#include "policy/shell_words.h"

namespace bastion {
namespace {

CommandConsole::Input console_input(const ExecRequest& req) {
  if (req.kind == ChannelKind::exec && req.text.find_first_not_of(" \t") != std::string::npos) return CommandConsole::Input::none;
  return req.pty ? CommandConsole::Input::editor : CommandConsole::Input::script;
}

}  // namespace

ApprovalsExecutor::ApprovalsExecutor(std::string which, const ExecRequest& req,
                                     std::unique_ptr<ApprovalCommands> commands)
    : which_(std::move(which)), commands_(std::move(commands)),
      console_(*this, console_input(req), req.pty.has_value(), kMaxLine) {
  if (console_.input() == CommandConsole::Input::none) command_ = req.text;
  // An approver at the console hears of requests that arrive while it is
  // open (those already pending are what `list` shows).
  if (which_ == "approvals" && console_.input() == CommandConsole::Input::editor && commands_->may_approve_something()) {
    announce_ = true;
    commands_->arrivals(announced_after_, unix_now());
    next_arrival_poll_ = monotonic_seconds() + kArrivalPollSeconds;
  }
}

void ApprovalsExecutor::announce_arrivals() {
  if (!announce_ || monotonic_seconds() < next_arrival_poll_) return;
  next_arrival_poll_ = monotonic_seconds() + kArrivalPollSeconds;
  for (const auto& line : commands_->arrivals(announced_after_, unix_now())) console_.notify(line);
}

bool ApprovalsExecutor::write_input(std::string_view data) {
  if (console_.input() != CommandConsole::Input::none) console_.write_input(data);
  return true;
}

void ApprovalsExecutor::run_line(const std::string& line) {
  const ShellParse sp = parse_shell(line);
  std::string o, e;
  int rc;
  if (!sp.error.empty() || sp.parts.size() > 1) {
    e = "cannot read this command line" + (sp.error.empty() ? std::string() : ": " + display_escape(sp.error)) + "\n";
    rc = 2;
  } else {
    rc = commands_->run(which_, sp.parts.empty() ? std::vector<std::string>{} : sp.parts[0].argv, o, e);
  }
  console_.emit(Stream::out, o);
  console_.emit(Stream::err, e);
  exit_.status = rc;
}

void ApprovalsExecutor::on_line(const std::string& line) {
  const auto b = line.find_first_not_of(" \t");
  if (console_.input() == CommandConsole::Input::script) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) run_line(line);
    return;
  }
  if (b != std::string::npos && (line.substr(b) == "exit" || line.substr(b) == "quit")) {
    finished_ = true;
    exit_.status = 0;
    return;
  }
  if (b != std::string::npos) run_line(line);
}

void ApprovalsExecutor::on_line_too_long() {
  console_.emit(Stream::err, "bastion: line too long for the bastion (64 KiB)\n");
  finished_ = true;
  exit_.status = 2;
}

void ApprovalsExecutor::on_end_of_input() {
  finished_ = true;
  // A console ends well; a script ends with its last command's status.
  if (console_.input() == CommandConsole::Input::editor) exit_.status = 0;
}

bool ApprovalsExecutor::pump_output(OutputWriter& out, std::size_t) {
  if (finished_) return false;
  console_.attach(&out);
  if (console_.input() == CommandConsole::Input::none) {
    run_line(command_);
    finished_ = true;
  } else {
    console_.step();
    announce_arrivals();
  }
  console_.flush();
  console_.attach(nullptr);
  return !finished_;
}

}  // namespace bastion
