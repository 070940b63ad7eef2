// A small terminal line editor for the bastion's own consoles (SQL, and the
// kubectl console later): the bastion is the far end of the user's pty, so
// it echoes and redraws itself. Emacs keys as in readline: arrows, Home/End,
// Backspace/Delete, Ctrl-A/E/B/F/K/U/W/L, history with Up/Down; Ctrl-C
// abandons the line, Ctrl-D on an empty line ends input. Pure: bytes in,
// terminal output and events out, so it is tested without a terminal.
#pragma once
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

class LineEditor {
 public:
  struct Event {
    enum class Kind { line, interrupt, eof } kind;
    std::string text;  // the line, for Kind::line
  };

  explicit LineEditor(std::size_t max_line = 64 * 1024, std::size_t max_history = 500)
      : max_line_(max_line), max_history_(max_history) {}

  // Starts a new line: appends the prompt to `out`.
  void begin(std::string prompt, std::string& out);
  // Feeds user keystrokes. Terminal output (echo, redraws) is appended to
  // `out`. Stops after the first event, so the caller can change the prompt
  // before the rest is edited; returns how many bytes were consumed.
  std::size_t feed(std::string_view in, std::string& out, std::vector<Event>& events);
  // A line printed while the user edits (news that arrived meanwhile): the
  // edited line is cleared, `text` printed on its own line(s), then the
  // prompt and what was typed are redrawn with the cursor where it was.
  void print_above(std::string_view text, std::string& out);
  void add_history(const std::string& line);
  const std::deque<std::string>& history() const { return history_; }
  const std::string& line() const { return buf_; }

 private:
  void redraw(std::string& out);
  void insert(std::string_view s, std::string& out);
  void set_line(const std::string& s, std::string& out);
  std::size_t prev_char(std::size_t pos) const;
  std::size_t next_char(std::size_t pos) const;
  // Returns false if the escape sequence in esc_ is not complete yet.
  bool handle_escape(std::string& out);

  std::size_t max_line_, max_history_;
  std::string prompt_;
  std::string buf_;
  std::size_t cursor_ = 0;  // byte offset, always at a character boundary
  std::string esc_;         // partial escape sequence
  std::deque<std::string> history_;
  std::size_t hist_pos_ = 0;  // == history_.size() when editing the new line
  std::string saved_;         // the new line while browsing history
  bool after_cr_ = false;     // a LF right after CR is the same Enter
};

// Display columns of UTF-8 text (East Asian wide = 2, combining = 0).
std::size_t display_width(std::string_view s);

}  // namespace bastion
