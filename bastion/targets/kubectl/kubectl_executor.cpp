#include "targets/kubectl/kubectl_executor.h"

#include "targets/kubectl/kube_request_gate.h"

#include "common/display_escape.h"
#include "common/strings.h"

#include <signal.h>
#include <sys/wait.h>

#include <cmath>

#include "common/time_util.h"
#include "targets/kubectl/kube_request.h"
#include "targets/kubectl/kubectl_line.h"
#include "targets/kubectl/kubectl_facts.h"
#include "targets/kubectl/kubectl_settings.h"
#include "targets/kubectl/kubectl_spawn.h"

namespace bastion {
namespace {

constexpr std::size_t kInputChunk = 64 * 1024;
constexpr std::size_t kMaxLine = 64 * 1024;

int signal_number(const std::string& name) {
  if (name == "INT") return SIGINT;
  if (name == "TERM") return SIGTERM;
  if (name == "KILL") return SIGKILL;
  if (name == "HUP") return SIGHUP;
  if (name == "QUIT") return SIGQUIT;
  return 0;
}

}  // namespace

KubectlExecutor::KubectlExecutor(const TargetConfig& t, const ExecRequest& req, CommandGate& gate, std::string home,
                                 Watch watch, KubeDecisionQueue* kube)
    : target_(t), gate_(gate), home_(std::move(home)), watch_(std::move(watch)), kube_(kube),
      mode_(req.kind == ChannelKind::exec && !trim(req.text).empty() ? Mode::command
            : req.pty                                      ? Mode::console
                                                           : Mode::script),
      pty_(req.pty.has_value()),
      console_(*this,
               mode_ == Mode::command   ? CommandConsole::Input::none
               : mode_ == Mode::console ? CommandConsole::Input::editor
                                        : CommandConsole::Input::script,
               pty_, kMaxLine) {
  if (req.pty) cols_ = req.pty->cols, rows_ = req.pty->rows;
  run_as_ = req.sandbox_uid;
  if (mode_ == Mode::command) exec_line_ = req.text;  // run at the first pump, when output has somewhere to go
}

KubectlExecutor::~KubectlExecutor() { close(); }

std::string KubectlExecutor::prompt() {
  return target_.name + " (" + kubectl_settings(target_).namespace_name + ")> ";
}

void KubectlExecutor::watch_all(bool on) {
  if (!child_ || !watch_) return;
  for (int fd : child_->output_fds()) watch_(fd, on);
}

void KubectlExecutor::set_output_wanted(bool wanted) {
  const bool want = wanted && child_ && child_->output_open();
  if (want == watching_) return;
  watch_all(want);
  watching_ = want;
}

void KubectlExecutor::run_line(const std::string& line) {
  const KubectlLine kl = parse_kubectl_line(line, kubectl_settings(target_).namespace_name);
  CommandRequest req = gate_.request("kubectl", line);
  if (!kl.invocation.verb.empty()) req.facts = std::make_shared<KubectlCommandFacts>(kl.facts);
  GateResult g = kl.refusal.empty() ? gate_.submit(req) : gate_.refuse(req, kl.refusal);
  console_.flush();
  if (g.review_id) {  // held for a human decision: kubectl does not run meanwhile
    held_ = Held{HeldCommand(gate_, g), kl.invocation, line};
    return;
  }
  execute(g, kl.invocation, line, false);
}

void KubectlExecutor::poll_held() {
  const std::optional<GateResult> res = held_->review.poll();
  if (!res) return;
  Held h = std::move(*held_);
  held_.reset();
  execute(*res, h.invocation, h.line, res->decision.allowed());
}

void KubectlExecutor::execute(const GateResult& g, const KubectlInvocation& inv, const std::string& line,
                              bool approved) {
  if (!g.decision.allowed()) {
    CommandOutcome o;
    o.status = kKubectlExitDenied;
    o.error = "denied";
    gate_.command_ended(g.command_id, o);
    emit(Stream::err, "bastion: denied: " + display_escape(g.refusal) + "\n");
    if (mode_ == Mode::command) finish(kKubectlExitDenied);
    else if (mode_ == Mode::script) exit_.status = kKubectlExitDenied;
    return;
  }
  command_id_ = g.command_id;
  running_line_ = line;
  running_approved_ = approved;
  started_ = monotonic_seconds();
  if (!start_child(inv)) {
    CommandOutcome o;
    o.status = 255;
    o.error = "kubectl could not be started";
    gate_.command_ended(command_id_, o);
    command_id_ = 0;
    if (mode_ != Mode::console) finish(255);
  }
}

bool KubectlExecutor::start_child(const KubectlInvocation& inv) {
  std::string error;
  child_ = spawn_kubectl(kubectl_settings(target_), inv, KubectlRun{.home = home_, .pty = pty_, .cols = cols_, .rows = rows_,
                                                          .run_as = run_as_},
                         error);
  if (!child_) {
    emit(Stream::err, "bastion: cannot run kubectl: " + error + "\n");
    return false;
  }
  // A console line or a script line has no stdin of its own.
  if (mode_ != Mode::command && !pty_) child_->close_stdin();
  if (mode_ == Mode::command && input_eof_ && pending_stdin_.empty()) child_->close_stdin();
  return true;
}

void KubectlExecutor::child_finished(int st) {
  watch_all(false);
  watching_ = false;
  child_.reset();
  CommandOutcome o;
  if (WIFEXITED(st)) o.status = WEXITSTATUS(st);
  else if (WIFSIGNALED(st)) o.status = 128 + WTERMSIG(st);
  o.duration_us = static_cast<int64_t>(std::llround((monotonic_seconds() - started_) * 1e6));
  console_.flush();
  gate_.command_ended(command_id_, o);
  command_id_ = 0;
  if (mode_ == Mode::command) {
    if (WIFSIGNALED(st)) {
      static const std::map<int, std::string> names = {{SIGTERM, "TERM"}, {SIGKILL, "KILL"}, {SIGINT, "INT"},
                                                       {SIGHUP, "HUP"}, {SIGQUIT, "QUIT"}, {SIGSEGV, "SEGV"}};
      const auto it = names.find(WTERMSIG(st));
      if (it != names.end()) exit_.signal = it->second;
      else exit_.status = 128 + WTERMSIG(st);
      finished_ = true;
    } else {
      finish(o.status.value_or(0));
    }
  } else if (mode_ == Mode::script && o.status.value_or(0) != 0) {
    exit_.status = o.status;
  }
}

void KubectlExecutor::finish(int status) {
  if (finished_) return;
  finished_ = true;
  exit_.status = status;
}

std::size_t KubectlExecutor::input_capacity() {
  if (finished_) return 0;
  if (to_child()) return pending_stdin_.size() < kInputChunk ? kInputChunk : 0;
  if (child_) return 0;  // a script waits for the running line
  return console_.unread() < kMaxLine ? kInputChunk : 0;
}

bool KubectlExecutor::write_input(std::string_view data) {
  if (finished_) return true;
  if (to_child()) pending_stdin_.append(data);  // held until the child takes it
  else console_.write_input(data);
  return true;
}

void KubectlExecutor::send_eof() {
  input_eof_ = true;
  console_.send_eof();
  if (child_ && mode_ == Mode::command && pending_stdin_.empty()) child_->close_stdin();
}

void KubectlExecutor::window_change(int cols, int rows) {
  cols_ = cols, rows_ = rows;
  if (child_) child_->resize(cols, rows);
}

void KubectlExecutor::send_signal(const std::string& name) {
  if (child_ && signal_number(name)) child_->signal(signal_number(name));
}

void KubectlExecutor::on_line_too_long() {
  emit(Stream::err, "bastion: line too long for the bastion (64 KiB)\n");
  finish(kKubectlExitDenied);
}

void KubectlExecutor::on_line(const std::string& text) {
  const std::string line = trim(text);
  if (mode_ == Mode::script) {
    if (!line.empty() && line[0] != '#') run_line(line);
    return;
  }
  if (line == "exit" || line == "quit" || line == "\\q") return finish(0);
  if (!line.empty()) run_line(line);
}

void KubectlExecutor::serve_kube() {
  if (kube_) serve_kube_requests(*kube_, gate_, child_ ? running_line_ : std::string(), child_ && running_approved_);
}

bool KubectlExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  serve_kube();
  console_.attach(&out);
  console_.reset_produced();
  if (held_) {
    // Ctrl-C typed while held withdraws the request (console or pty exec).
    const bool in_stdin = pending_stdin_.find('\x03') != std::string::npos;
    if (console_.take_interrupt() || in_stdin) {
      pending_stdin_.clear();
      held_->review.cancel();
    }
    poll_held();
    if (held_) {
      console_.flush();
      console_.attach(nullptr);
      return true;
    }
  }
  if (mode_ == Mode::command && !exec_line_.empty() && !finished_ && !child_ && command_id_ == 0 && !held_) {
    const std::string line = std::move(exec_line_);
    exec_line_.clear();
    run_line(line);
  }
  if (child_ && !pending_stdin_.empty()) {
    const long n = child_->write(pending_stdin_);
    if (n > 0) pending_stdin_.erase(0, static_cast<std::size_t>(n));
    else if (n < 0) pending_stdin_.clear();
    if (pending_stdin_.empty() && input_eof_ && mode_ == Mode::command) child_->close_stdin();
  }
  if (child_) {
    for (int fd : child_->output_fds()) {
      std::string data;
      // Which stream first: read() forgets the fd once it reaches EOF.
      const Stream s = child_->is_stderr(fd) ? Stream::err : Stream::out;
      const std::size_t produced = console_.produced();
      const bool open = child_->read(fd, data, budget > produced ? budget - produced : 0);
      console_.emit_raw(s, std::move(data));  // a pty already translated newlines
      if (!open && watch_) watch_(fd, false);
    }
    if (!child_->output_open()) {
      int st = 0;
      if (child_->reap(st)) child_finished(st);
    }
  }
  if (!child_) console_.step();
  console_.flush();
  console_.attach(nullptr);
  return !(finished_ && !child_);
}

void KubectlExecutor::close() {
  if (closed_) return;
  closed_ = true;
  if (held_) {
    held_->review.withdraw();
    held_.reset();
  }
  if (child_) {
    watch_all(false);
    child_->stop();  // logs -f, get -w: end with the channel
    child_.reset();
    if (command_id_ > 0) {
      CommandOutcome o;
      o.status = 255;
      o.error = "channel closed";
      gate_.command_ended(command_id_, o);
      command_id_ = 0;
    }
  }
}

}  // namespace bastion
