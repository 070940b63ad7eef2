#include "sources/line_editor.h"

namespace bastion {
namespace {

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

uint32_t decode(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + static_cast<std::size_t>(len) > s.size()) len = 1;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
  i += static_cast<std::size_t>(len);
  return cp;
}

int cp_width(uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0xFE00 && cp <= 0xFE0F)) return 0;
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
      (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) || (cp >= 0x1F900 && cp <= 0x1F9FF) ||
      (cp >= 0x20000 && cp <= 0x3FFFD))
    return 2;
  return 1;
}

}  // namespace

std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) w += static_cast<std::size_t>(cp_width(decode(s, i)));
  return w;
}

void LineEditor::begin(std::string prompt, std::string& out) {
  prompt_ = std::move(prompt);
  buf_.clear();
  cursor_ = 0;
  hist_pos_ = history_.size();
  saved_.clear();
  out += prompt_;
}

void LineEditor::add_history(const std::string& line) {
  if (line.empty() || (!history_.empty() && history_.back() == line)) return;
  history_.push_back(line);
  while (history_.size() > max_history_) history_.pop_front();
}

std::size_t LineEditor::prev_char(std::size_t pos) const {
  if (pos == 0) return 0;
  --pos;
  while (pos > 0 && continuation(static_cast<unsigned char>(buf_[pos]))) --pos;
  return pos;
}

std::size_t LineEditor::next_char(std::size_t pos) const {
  if (pos >= buf_.size()) return buf_.size();
  ++pos;
  while (pos < buf_.size() && continuation(static_cast<unsigned char>(buf_[pos]))) ++pos;
  return pos;
}

void LineEditor::redraw(std::string& out) {
  out += "\r" + prompt_ + buf_ + "\x1b[K";
  const std::size_t back = display_width(std::string_view(buf_).substr(cursor_));
  if (back > 0) out += "\x1b[" + std::to_string(back) + "D";
}

void LineEditor::print_above(std::string_view text, std::string& out) {
  out += "\r\x1b[K";
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  out += "\r\n";
  redraw(out);
}

void LineEditor::insert(std::string_view s, std::string& out) {
  if (buf_.size() + s.size() > max_line_) {
    out += "\a";
    return;
  }
  const bool at_end = cursor_ == buf_.size();
  buf_.insert(cursor_, s);
  cursor_ += s.size();
  if (at_end) out += s;  // the common case: plain echo
  else redraw(out);
}

void LineEditor::set_line(const std::string& s, std::string& out) {
  buf_ = s;
  cursor_ = buf_.size();
  redraw(out);
}

bool LineEditor::handle_escape(std::string& out) {
  // ESC [ ... final byte, or ESC O x; anything else is dropped.
  if (esc_.size() < 2) return false;
  if (esc_[1] != '[' && esc_[1] != 'O') {
    esc_.clear();
    return true;
  }
  if (esc_.size() < 3) return false;
  const char fin = esc_.back();
  if (esc_[1] == '[' && !(fin >= 0x40 && fin <= 0x7E)) {
    if (esc_.size() > 16) esc_.clear();  // runaway sequence
    return esc_.empty();
  }
  const std::string seq = esc_.substr(2);
  esc_.clear();
  if (seq == "A") {  // up
    if (hist_pos_ == 0) return out += "\a", true;
    if (hist_pos_ == history_.size()) saved_ = buf_;
    set_line(history_[--hist_pos_], out);
  } else if (seq == "B") {  // down
    if (hist_pos_ >= history_.size()) return out += "\a", true;
    ++hist_pos_;
    set_line(hist_pos_ == history_.size() ? saved_ : history_[hist_pos_], out);
  } else if (seq == "C") {
    if (cursor_ < buf_.size()) cursor_ = next_char(cursor_), redraw(out);
  } else if (seq == "D") {
    if (cursor_ > 0) cursor_ = prev_char(cursor_), redraw(out);
  } else if (seq == "H" || seq == "1~" || seq == "7~") {
    cursor_ = 0, redraw(out);
  } else if (seq == "F" || seq == "4~" || seq == "8~") {
    cursor_ = buf_.size(), redraw(out);
  } else if (seq == "3~") {  // Delete
    if (cursor_ < buf_.size()) buf_.erase(cursor_, next_char(cursor_) - cursor_), redraw(out);
  }
  // Other keys (F1.., Insert, PgUp/PgDn, bracketed paste markers) do nothing.
  return true;
}

std::size_t LineEditor::feed(std::string_view in, std::string& out, std::vector<Event>& events) {
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (!esc_.empty()) {
      esc_ += static_cast<char>(c);
      ++i;
      handle_escape(out);
      continue;
    }
    ++i;
    if (c != '\r' && c != '\n') after_cr_ = false;
    switch (c) {
      case '\r':
      case '\n': {
        const bool lf_after_cr = c == '\n' && after_cr_;
        after_cr_ = c == '\r';
        if (lf_after_cr) break;  // CR LF: one Enter
        out += "\r\n";
        events.push_back({Event::Kind::line, buf_});
        buf_.clear();
        cursor_ = 0;
        return i;
      }
      case 0x03:  // Ctrl-C
        out += "^C\r\n";
        buf_.clear();
        cursor_ = 0;
        events.push_back({Event::Kind::interrupt, {}});
        return i;
      case 0x04:  // Ctrl-D
        if (buf_.empty()) {
          events.push_back({Event::Kind::eof, {}});
          return i;
        }
        if (cursor_ < buf_.size()) buf_.erase(cursor_, next_char(cursor_) - cursor_), redraw(out);
        break;
      case 0x7F:
      case 0x08:  // Backspace
        if (cursor_ > 0) {
          const std::size_t p = prev_char(cursor_);
          buf_.erase(p, cursor_ - p);
          cursor_ = p;
          redraw(out);
        }
        break;
      case 0x01: cursor_ = 0, redraw(out); break;               // Ctrl-A
      case 0x05: cursor_ = buf_.size(), redraw(out); break;     // Ctrl-E
      case 0x02: if (cursor_ > 0) cursor_ = prev_char(cursor_), redraw(out); break;  // Ctrl-B
      case 0x06: if (cursor_ < buf_.size()) cursor_ = next_char(cursor_), redraw(out); break;  // Ctrl-F
      case 0x0B: buf_.erase(cursor_), redraw(out); break;       // Ctrl-K
      case 0x15: buf_.erase(0, cursor_), cursor_ = 0, redraw(out); break;  // Ctrl-U
      case 0x17: {  // Ctrl-W: the word before the cursor
        std::size_t p = cursor_;
        while (p > 0 && buf_[p - 1] == ' ') --p;
        while (p > 0 && buf_[p - 1] != ' ') --p;
        buf_.erase(p, cursor_ - p);
        cursor_ = p;
        redraw(out);
        break;
      }
      case 0x0C: out += "\x1b[H\x1b[2J", redraw(out); break;  // Ctrl-L
      case 0x1B: esc_ = "\x1b"; break;
      case '\t': insert("    ", out); break;
      default:
        if (c < 0x20) break;  // other control keys do nothing
        // A UTF-8 sequence is inserted whole (it may be split across reads:
        // the caller keeps unconsumed bytes).
        if (c >= 0x80) {
          const std::size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
          if (i - 1 + len > in.size()) return i - 1;
          insert(in.substr(i - 1, len), out);
          i += len - 1;
        } else {
          insert(in.substr(i - 1, 1), out);
        }
    }
  }
  return i;
}

}  // namespace bastion
