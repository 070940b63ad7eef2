// The command source of a pty shell (`ssh -t web1@bastion`, or an exec
// with a pty): every line the user submits is read off a model of the
// terminal screen (what the shell echoed and edited: history, Tab,
// Ctrl-R, paste) and decided through the CommandGate before the key that
// submits it reaches the target. Every other key goes on at once, so echo
// latency does not change. It knows the screen model, the gate and the
// shell parser; nothing of SSH: its owner moves the bytes.
//
// Keys it acts on: Enter (CR, LF, Ctrl-O) and Ctrl-D on a non-empty line
// are held with everything typed after them until the line is decided;
// Ctrl-C drops a held line and withdraws a review. A denied line is cleared
// at the target (Ctrl-E Ctrl-U), the reason is shown to the user, the
// prompt row is repainted from the model, and keys typed after its Enter
// are dropped. Several lines pasted at once are all decided first.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/command_gate.h"
#include "sources/held_command.h"
#include "sources/screen_model.h"
#include "sources/shell_line_facts.h"

namespace bastion {

class ShellLineTracker {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  static constexpr std::size_t kQueueMax = 64 * 1024;  // keys held behind an undecided line
  static constexpr std::size_t kLineMax = 16 * 1024;   // longest line it reads off the screen

  // cols x rows must pass ScreenModel::size_ok (the owner refuses larger).
  ShellLineTracker(CommandGate& gate, int cols, int rows, Clock clock);
  ~ShellLineTracker();
  ShellLineTracker(const ShellLineTracker&) = delete;
  ShellLineTracker& operator=(const ShellLineTracker&) = delete;

  // The user's keys.
  void client_input(std::string_view data);
  // Target output, before the output filters (decisions read the real
  // text). Returns whether the client gets it now: yes, except the redraw
  // of a denied line being cleared.
  bool target_output(std::string_view data);
  // Whether the next key starts a line: its owner then feeds all output
  // received so far first, so the boundary is where the prompt ends.
  bool at_line_start() const { return phase_ == Phase::idle && !line_.started; }
  void resize(int cols, int rows);
  // Decides a line whose echo has settled, polls a review, finishes a clear.
  void step();

  // Bytes for the target, at most `max` now.
  std::string take_to_target(std::size_t max);
  // The bastion's messages and repaints for the client (after the output).
  std::string take_to_client();
  bool has_pending_target() const { return !to_target_.empty(); }
  // Room for more keys: 0 while the held queue is full (flow control pushes back).
  std::size_t input_room() const;
  // Whether a held line waits: input EOF then waits too.
  bool holding() const { return phase_ != Phase::idle; }
  // How soon step() must run again while a decision waits (nullopt: no need).
  std::optional<int> wants_wakeup_ms() const;
  // The channel ends: finishes the open audit row and withdraws a review.
  void end();

  const ScreenModel& model() const { return model_; }

 private:
  enum class Phase { idle, pending, review, clearing };
  struct Line {
    bool started = false;
    ScreenPos boundary;
    uint64_t scroll = 0;
    std::string prompt;
    std::size_t keys = 0, printable = 0;
    bool stale = false;   // started before the echo of the last Enter came back
    // The line as the keys alone make it, while they are only printable
    // characters, BS/DEL, Ctrl-U and Ctrl-W (cooked-mode and readline
    // editing agree on those): a screen that shows something else was
    // drawn by someone else (a background job repainting the line).
    std::string shadow;
    bool shadow_ok = true;
  };
  struct Region {
    std::string text;
    bool prompt_known = true;
    std::string error;  // cannot be read safely
  };

  void consume(std::string_view data);
  void forward_key(char b, bool printable);
  void shadow_key(unsigned char c);
  void forward(char b);
  void start_line();
  void track_paste_mode(std::string_view data);
  bool settled(double now) const;
  double settle_timeout() const;
  void decide();
  void release_held(std::size_t queued_bytes);
  void deny(const std::string& message);
  void finish_clear();
  void ctrl_c();
  void poll_review();
  void check_altscreen();
  Region read_region() const;
  bool prompt_back() const;
  ShellLine facts_base() const;
  GateResult submit(const std::string& text, ShellLine facts);
  void end_open_row();
  void end_refused(int64_t row);
  void set_running(const std::string& text, int64_t row);

  CommandGate& gate_;
  Clock clock_;
  ScreenModel model_;
  bool size_refused_ = false;
  Phase phase_ = Phase::idle;
  Line line_;
  std::string to_target_, to_client_, queue_;
  char held_ = 0;
  double held_at_ = 0;
  // Input escape state: bracketed paste passes Enter through as text.
  int esc_ = 0;  // 0 none, 1 after ESC, 2 in CSI
  std::string csi_;
  bool in_paste_ = false;
  // Whether the shell turned bracketed paste on (its output: ESC[?2004h).
  bool paste_mode_ = false;
  int out_esc_ = 0;
  std::string out_params_;
  // Settling: echo of every forwarded key reached the model.
  double last_output_ = 0, rtt_start_ = 0;
  bool output_after_forward_ = true, awaiting_echo_ = false;
  double rtt_ = 0.005;  // echo round trip (EWMA); the first timeout is the 50 ms floor
  // Continuation (PS2): the fragments sent so far.
  std::string fragments_;
  // The last allowed line while it runs.
  bool running_ = false;
  std::string running_text_, running_program_, running_prompt_;
  int64_t open_row_ = 0;
  std::string login_prompt_;
  bool was_alt_ = false, alt_entered_ = false, fullscreen_free_ = false;
  bool fullscreen_asked_ = false, fullscreen_allowed_ = false;
  // A review, or a denial being cleared.
  std::optional<HeldCommand> review_;
  std::string review_text_;
  std::string clear_message_;
  bool dirty_ = false;  // a clear left text: the next Enter is decided even with no key typed
  double clear_started_ = 0;
};

}  // namespace bastion
