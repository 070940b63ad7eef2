// The command source of a shell channel without a pty (`ssh -T host`,
// `cmd | ssh host bash`): the channel's input is a script the target's shell
// reads line by line. Lines are gathered into units the shell runs whole (a
// multi-line loop, a quote or here-doc spanning lines, a trailing `\`), each
// unit is decided through the CommandGate (kind "shell_line") and only an
// allowed unit is sent on, after the previous one was taken by the target.
// A denied unit stops the script: the shell gets EOF and the channel exits
// 126, because later lines may depend on the refused one (a `cd`). It knows
// nothing of SSH: the target is a ScriptTarget.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "filters/output_writer.h"
#include "policy/command_gate.h"
#include "sources/command_console.h"
#include "sources/held_command.h"

namespace bastion {

constexpr int kScriptExitDenied = 126;
// The longest line, and the longest unit of joined lines, decided.
constexpr std::size_t kScriptMaxLine = 64 * 1024;

// The shell's standard input at the target, under its flow control.
class ScriptTarget {
 public:
  virtual ~ScriptTarget() = default;
  virtual std::size_t input_capacity() = 0;  // bytes it takes now
  virtual bool write_input(std::string_view data) = 0;  // never more than input_capacity()
  virtual void send_eof() = 0;
};

class ShellScriptInterpreter : public ConsoleInterpreter {
 public:
  ShellScriptInterpreter(CommandGate& gate, ScriptTarget& target);
  ~ShellScriptInterpreter() override;
  ShellScriptInterpreter(const ShellScriptInterpreter&) = delete;
  ShellScriptInterpreter& operator=(const ShellScriptInterpreter&) = delete;

  // The client's side: how much input it takes now (bounded, so a long
  // stream waits in the SSH window, not here), the input, and its end.
  std::size_t input_capacity() const;
  void write_input(std::string_view data);
  void send_eof();

  // Polls a held unit, sends allowed text on as the target's window allows,
  // then decides the lines that wait. The bastion's messages go to `out`.
  void step(OutputWriter& out);
  // A unit was refused (or input was too long): the channel's exit status is 126.
  bool stopped() const { return stopped_; }
  bool holding() const { return held_.has_value(); }
  // The mask patterns of every allowed unit so far. The shell gives no sign
  // of where a unit's output ends (the next unit is decided as soon as the
  // target took this one), so they apply to the rest of the channel.
  const std::vector<MaskRule>& masks() const { return masks_; }
  // The channel ends (the shell exited with `status`, or the channel closed):
  // the last allowed unit's audit row ends; a held review is withdrawn.
  void end(std::optional<int> status);

 private:
  // ConsoleInterpreter
  void on_line(const std::string& line) override;
  void on_end_of_input() override;
  void on_line_too_long() override;
  std::string prompt() override { return {}; }
  bool busy() const override { return held_.has_value() || !outgoing_.empty(); }
  bool finished() const override { return stopped_ || eof_due_; }

  void submit_unit();
  void decided(const GateResult& g, std::string text);
  void refuse_too_long(const std::string& what);  // "line" or "command"
  void refuse_rest(const std::string& message);
  void end_previous(std::optional<int> status);
  void forward();

  CommandGate& gate_;
  ScriptTarget& target_;
  CommandConsole console_;
  std::string unit_;        // lines gathered until the shell would run them
  std::size_t unit_lines_ = 0;
  double scan_time_ = 0;          // seconds shell_text_complete took for this unit
  std::size_t checked_size_ = 0;  // the unit's size when it was last asked about
  struct Held {
    HeldCommand review;
    std::string text;
  };
  std::optional<Held> held_;
  std::string outgoing_;    // allowed text the target's window has not taken yet
  int64_t running_id_ = 0;  // the last allowed unit's audit row
  std::vector<MaskRule> masks_;
  bool stopped_ = false;
  bool eof_due_ = false;    // the script ended: EOF goes out once outgoing_ is sent
  bool eof_sent_ = false;
  bool ended_ = false;
};

}  // namespace bastion
