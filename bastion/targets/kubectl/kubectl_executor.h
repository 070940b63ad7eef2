// The kubectl command source and executor, one per channel. An exec line is
// one invocation; with no command, a console (pty) or a script (stdin lines)
// where each line is one. Each invocation is parsed (kubectl_args), refused
// outright when it would escape the bastion, otherwise decided by the policy
// through the CommandGate, then run as a child process whose output goes
// only to the OutputPipeline.
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "policy/command_gate.h"
#include "sources/command_console.h"
#include "sources/held_command.h"
#include "targets/kubectl/child_process.h"
#include "targets/kubectl/kube_decision_queue.h"
#include "targets/kubectl/kubectl_args.h"
#include "targets/kubectl/kubectl_spawn.h"
#include "targets/target.h"

namespace bastion {

constexpr int kKubectlExitDenied = 126;

class KubectlExecutor : public Executor, private ConsoleInterpreter {
 public:
  using Watch = std::function<void(int fd, bool on)>;
  KubectlExecutor(const TargetConfig& t, const ExecRequest& req, CommandGate& gate, std::string home, Watch watch,
                  KubeDecisionQueue* kube = nullptr);
  ~KubectlExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override;
  void send_signal(const std::string& name) override;
  void set_output_wanted(bool wanted) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  enum class Mode { command, console, script };
  // ConsoleInterpreter: each line of a console or a script is one invocation.
  void on_line(const std::string& line) override;
  void on_end_of_input() override { finish(mode_ == Mode::script ? exit_.status.value_or(0) : 0); }
  void on_line_too_long() override;
  std::string prompt() override;
  bool busy() const override { return child_ || held_; }
  bool finished() const override { return finished_; }

  void emit(Stream s, std::string text) { console_.emit(s, std::move(text)); }
  void run_line(const std::string& line);
  void execute(const GateResult& g, const KubectlInvocation& inv, const std::string& line, bool approved);  // run a decided invocation (or refuse)
  void poll_held();
  bool start_child(const KubectlInvocation& inv);
  void child_finished(int wait_status);
  void finish(int status);
  void watch_all(bool on);
  void serve_kube();  // decide the API proxy's queued requests (the second layer)
  // Input is the child's stdin: an exec line's (even before the child
  // starts), or a console's while a pty child runs; else it is command lines.
  bool to_child() const { return mode_ == Mode::command || (child_ && pty_); }

  const TargetConfig& target_;
  CommandGate& gate_;
  std::string home_;
  Watch watch_;
  KubeDecisionQueue* kube_;
  Mode mode_;
  bool pty_;
  std::optional<uint32_t> run_as_;  // the session's sandbox uid (bastiond as root)
  int cols_ = 80, rows_ = 24;
  CommandConsole console_;
  std::string exec_line_;  // an exec line's invocation, run at the first pump
  bool input_eof_ = false;
  std::unique_ptr<ChildProcess> child_;
  struct Held {  // an invocation waiting for approval
    HeldCommand review;
    KubectlInvocation invocation;
    std::string line;
  };
  std::optional<Held> held_;
  int64_t command_id_ = 0;
  std::string running_line_;      // the invocation whose child runs: API requests are grouped under it
  bool running_approved_ = false;  // it ran after a human approval
  double started_ = 0;
  bool watching_ = false;
  std::string pending_stdin_;  // input waiting for the child
  bool finished_ = false;
  bool closed_ = false;
  ExitInfo exit_;
};

}  // namespace bastion
