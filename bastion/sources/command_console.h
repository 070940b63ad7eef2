// The command source of a channel that carries many commands (the SQL,
// kubectl and approvals consoles; next, a shell's lines): it turns the
// channel's input into lines and hands each to an interpreter, one at a
// time, when the interpreter is ready for it. With a pty the bastion is the
// far end of the user's terminal: it edits with the LineEditor, shows the
// prompt, and translates newlines for the terminal. Without a pty the input
// is a script: one line per '\n', the last one at end of input. It knows
// nothing of what a line means (SQL, kubectl, a shell), nor of SSH.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/output_writer.h"
#include "sources/line_editor.h"

namespace bastion {

// What a console's lines do: supplied by each target that has a console.
class ConsoleInterpreter {
 public:
  virtual ~ConsoleInterpreter() = default;
  // A whole line, without its newline (console: as typed, already in history).
  virtual void on_line(const std::string& line) = 0;
  // Input ended: Ctrl-D on an empty line, or the end of a script once every
  // line was handled. A script's end is told again at each step until the
  // interpreter is finished (what it queued runs first).
  virtual void on_end_of_input() = 0;
  // Ctrl-C abandoned the line being edited.
  virtual void on_interrupt() {}
  // A script line grew past the console's max_line: it is dropped.
  virtual void on_line_too_long() {}
  // The prompt to show before the next line is edited.
  virtual std::string prompt() = 0;
  // While busy (a command runs or waits for approval), lines wait unread.
  virtual bool busy() const = 0;
  virtual bool finished() const = 0;
};

class CommandConsole {
 public:
  enum class Input {
    none,    // an exec line: the channel's input is not command lines
    editor,  // a pty: edited lines, with prompt and echo
    script,  // no pty: lines as they come
  };
  // max_line: how long a script line may grow (0: no limit; a console
  // reading a client's script must set one, or one endless line fills memory).
  CommandConsole(ConsoleInterpreter& interpreter, Input input, bool pty, std::size_t max_line = 0)
      : interpreter_(interpreter), input_(input), pty_(pty), max_line_(max_line) {}

  Input input() const { return input_; }
  bool pty() const { return pty_; }

  // Input from the client, handled at the next step().
  void write_input(std::string_view data) { raw_.append(data); }
  void send_eof() { eof_ = true; }
  bool input_ended() const { return eof_; }
  // Bytes not yet read by the console; with a script's unfinished line.
  std::size_t unread() const { return raw_.size(); }
  std::size_t buffered() const { return raw_.size() + partial_.size(); }
  // Drops unread input when it holds a Ctrl-C (a held command is withdrawn).
  bool take_interrupt();
  // A script's unread input, for a command that reads it as its own data
  // (COPY FROM STDIN): what it leaves there is read as lines again.
  std::string& script_input();

  // Hands lines to the interpreter while it is ready for them; shows the
  // prompt once it waits for the user.
  void step();

  // Text the bastion writes (messages, results): on a pty, newlines become
  // CR LF and stderr shares the terminal. Held until flush().
  void emit(Stream s, std::string text);
  // News for the user that is not the answer to a line (a console's
  // asynchronous notice): on a pty it is printed above the line being
  // edited, which is redrawn as it was; without a pty it goes to stderr.
  void notify(const std::string& text);
  // Output that is already what the terminal should get (a child on a pty).
  void emit_raw(Stream s, std::string data);
  // What emit and emit_raw produced since reset_produced().
  std::size_t produced() const { return produced_; }
  void reset_produced() { produced_ = 0; }

  // Output goes to `out` while attached (during an executor's pump).
  void attach(OutputWriter* out) { out_ = out; }
  void flush();

 private:
  void step_editor();
  void step_script();
  // The interpreter takes a line now.
  bool ready() const { return !interpreter_.finished() && !interpreter_.busy(); }
  void show_prompt();

  ConsoleInterpreter& interpreter_;
  Input input_;
  bool pty_;
  std::size_t max_line_;
  LineEditor editor_;
  std::string raw_;      // input not yet read
  std::string partial_;  // script: a line without its newline yet
  bool eof_ = false;
  bool prompt_shown_ = false;
  OutputWriter* out_ = nullptr;
  std::vector<std::pair<Stream, std::string>> pending_;
  std::size_t produced_ = 0;
};

}  // namespace bastion
