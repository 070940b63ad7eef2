#include "sources/command_console.h"

#include "sources/terminal_text.h"

namespace bastion {

bool CommandConsole::take_interrupt() {
  if (raw_.find('\x03') == std::string::npos) return false;
  raw_.clear();
  return true;
}

std::string& CommandConsole::script_input() {
  partial_ += raw_;
  raw_.clear();
  return partial_;
}

void CommandConsole::step() {
  if (input_ == Input::editor) step_editor();
  else if (input_ == Input::script) step_script();
}

void CommandConsole::step_editor() {
  while (ready() && !raw_.empty()) {
    show_prompt();
    std::string echo;
    std::vector<LineEditor::Event> events;
    // One event at most: the next line is edited under the prompt that follows it.
    const std::size_t used = editor_.feed(raw_, echo, events);
    raw_.erase(0, used);
    if (!echo.empty()) pending_.emplace_back(Stream::out, std::move(echo));
    for (const auto& ev : events) {
      prompt_shown_ = false;
      if (ev.kind == LineEditor::Event::Kind::eof) {
        interpreter_.on_end_of_input();
      } else if (ev.kind == LineEditor::Event::Kind::interrupt) {
        interpreter_.on_interrupt();
      } else {
        editor_.add_history(ev.text);
        interpreter_.on_line(ev.text);
      }
    }
    if (used == 0) break;  // an incomplete UTF-8 sequence or escape: wait for the rest
  }
  if (ready()) show_prompt();
}

void CommandConsole::step_script() {
  partial_ += raw_;
  raw_.clear();
  std::size_t start = 0;
  while (ready()) {
    const auto nl = partial_.find('\n', start);
    if (nl == std::string::npos) break;
    const std::string line = partial_.substr(start, nl - start);
    start = nl + 1;
    interpreter_.on_line(line);
  }
  partial_.erase(0, start);
  // Only the unfinished last line counts: whole lines may wait here while
  // the interpreter is busy (their number is bounded by input_capacity).
  const std::size_t last_nl = partial_.rfind('\n');
  const std::size_t tail = last_nl == std::string::npos ? partial_.size() : partial_.size() - last_nl - 1;
  if (max_line_ && tail > max_line_ && !interpreter_.finished()) {
    partial_.clear();
    return interpreter_.on_line_too_long();
  }
  if (!eof_ || !ready() || partial_.find('\n') != std::string::npos) return;
  if (!partial_.empty()) {  // the last line may lack its newline
    const std::string line = std::move(partial_);
    partial_.clear();
    interpreter_.on_line(line);
  }
  if (ready()) interpreter_.on_end_of_input();
}

void CommandConsole::show_prompt() {
  if (prompt_shown_ || input_ != Input::editor) return;
  std::string out;
  editor_.begin(interpreter_.prompt(), out);
  pending_.emplace_back(Stream::out, std::move(out));
  prompt_shown_ = true;
}

void CommandConsole::emit(Stream s, std::string text) {
  if (text.empty()) return;
  if (pty_) {
    text = crlf(text);  // stderr shares the terminal
    s = Stream::out;
  }
  produced_ += text.size();
  if (!pending_.empty() && pending_.back().first == s) pending_.back().second += text;
  else pending_.emplace_back(s, std::move(text));
}

void CommandConsole::notify(const std::string& text) {
  if (text.empty()) return;
  if (input_ != Input::editor || !prompt_shown_) return emit(Stream::err, text + "\n");
  std::string out;
  editor_.print_above(text, out);
  produced_ += out.size();
  pending_.emplace_back(Stream::out, std::move(out));
}

void CommandConsole::emit_raw(Stream s, std::string data) {
  if (data.empty()) return;
  produced_ += data.size();
  pending_.emplace_back(s, std::move(data));
}

void CommandConsole::flush() {
  if (!out_) return;
  for (auto& [s, text] : pending_) out_->write(s, std::move(text));
  pending_.clear();
}

}  // namespace bastion
