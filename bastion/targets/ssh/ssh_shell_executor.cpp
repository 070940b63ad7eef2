#include "targets/ssh/ssh_shell_executor.h"

#include "common/time_util.h"

namespace bastion {
namespace {

constexpr std::size_t kEarlyBudget = 256 * 1024;

// Feeds each chunk of target output to the tracker, then passes on what
// the client should see.
class TapWriter : public OutputWriter {
 public:
  TapWriter(ShellLineTracker& t, OutputWriter* out, std::vector<std::pair<Stream, std::string>>* early)
      : t_(t), out_(out), early_(early) {}
  void write(Stream s, std::string data) override {
    if (!t_.target_output(data)) return;  // withheld: the redraw of a cleared line
    if (out_) out_->write(s, std::move(data));
    else early_->emplace_back(s, std::move(data));
  }

 private:
  ShellLineTracker& t_;
  OutputWriter* out_;
  std::vector<std::pair<Stream, std::string>>* early_;
};

}  // namespace

SshShellExecutor::SshShellExecutor(std::unique_ptr<Executor> inner, CommandGate& gate, const PtyRequest& pty)
    : inner_(std::move(inner)), tracker_(gate, pty.cols, pty.rows, &monotonic_seconds) {}

SshShellExecutor::~SshShellExecutor() { close(); }

std::size_t SshShellExecutor::input_capacity() {
  if (tracker_.holding()) return tracker_.input_room();
  const std::size_t cap = inner_->input_capacity();
  return std::min(cap, tracker_.input_room());
}

void SshShellExecutor::drain_into_model() {
  TapWriter tap(tracker_, nullptr, &early_);
  inner_->pump_output(tap, kEarlyBudget);
}

bool SshShellExecutor::write_input(std::string_view data) {
  // At most one early read waits for the client: a flood of output and
  // keys cannot grow it.
  if (tracker_.at_line_start() && early_.empty()) drain_into_model();
  tracker_.client_input(data);
  flush_to_target();
  return true;
}

void SshShellExecutor::flush_to_target() {
  while (tracker_.has_pending_target()) {
    const std::size_t cap = inner_->input_capacity();
    if (cap == 0) break;
    const std::string bytes = tracker_.take_to_target(cap);
    if (!inner_->write_input(bytes)) break;
  }
  if (eof_pending_ && !tracker_.holding() && !tracker_.has_pending_target()) {
    inner_->send_eof();
    eof_pending_ = false;
  }
}

void SshShellExecutor::send_eof() {
  eof_pending_ = true;
  flush_to_target();
}

void SshShellExecutor::window_change(int cols, int rows) {
  tracker_.resize(cols, rows);
  inner_->window_change(cols, rows);
}

bool SshShellExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  for (auto& [s, data] : early_) out.write(s, std::move(data));
  early_.clear();
  // The bastion's own words go the way target output goes (filters,
  // recording). What it said in answer to the user's last keys ("approval
  // request cancelled") goes before what the target answered to the same keys
  // (the new prompt after the Ctrl-C it was sent).
  write_own_words(out);
  TapWriter tap(tracker_, &out, nullptr);
  const bool alive = inner_->pump_output(tap, budget);
  tracker_.step();
  write_own_words(out);
  flush_to_target();
  return alive;
}

void SshShellExecutor::write_own_words(OutputWriter& out) {
  std::string msg = tracker_.take_to_client();
  if (!msg.empty()) out.write(Stream::out, std::move(msg));
}

std::optional<int> SshShellExecutor::wants_wakeup_ms() const {
  // Input or an EOF held for the target's window, or output read early:
  // retried on a timer, as before. Otherwise only the tracker's own waits
  // (a line's echo settling, a review) need one; an idle shell sleeps.
  if (tracker_.has_pending_target() || eof_pending_ || !early_.empty()) return kExecutorPollMs;
  return tracker_.wants_wakeup_ms();
}

void SshShellExecutor::close() {
  if (closed_) return;
  closed_ = true;
  tracker_.end();
  inner_->close();
}

}  // namespace bastion
