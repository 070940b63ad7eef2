// Differential harness for VtermFeedCompactor, shared by the unit tests and
// the fuzz target: one libvterm fed everything, one fed what the compactor
// passes on, compared cell by cell (characters, width, attributes), by
// cursor and by pen.
#pragma once
#include <vterm.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sources/vterm_feed_compactor.h"

namespace vterm_diff {

struct VTermFree {
  void operator()(VTerm* vt) const { vterm_free(vt); }
};

// A VTerm as the pty screen model sets it up: UTF-8, alternate screen on, reset.
class Term {
 public:
  Term(int rows, int cols) : vt_(vterm_new(rows, cols)) {
    vterm_set_utf8(vt_.get(), 1);
    screen_ = vterm_obtain_screen(vt_.get());
    vterm_screen_enable_altscreen(screen_, 1);
    vterm_screen_reset(screen_, 1);
  }
  void write(std::string_view bytes) { vterm_input_write(vt_.get(), bytes.data(), bytes.size()); }
  void resize(int rows, int cols) { vterm_set_size(vt_.get(), rows, cols); }
  VTerm* get() const { return vt_.get(); }
  std::string dump() const;

 private:
  std::unique_ptr<VTerm, VTermFree> vt_;
  VTermScreen* screen_ = nullptr;
};

inline std::string color(const VTermColor& c) {
  std::ostringstream s;
  s << int(c.type) << ':';
  if (VTERM_COLOR_IS_RGB(&c)) s << int(c.rgb.red) << ',' << int(c.rgb.green) << ',' << int(c.rgb.blue);
  else if (VTERM_COLOR_IS_INDEXED(&c)) s << int(c.indexed.idx);
  return s.str();
}

// Everything libvterm keeps per cell besides the characters.
inline std::string attrs(const VTermScreenCell& c) {
  std::ostringstream s;
  s << c.attrs.bold << c.attrs.underline << c.attrs.italic << c.attrs.blink << c.attrs.reverse << c.attrs.strike
    << c.attrs.font << c.attrs.dwl << c.attrs.dhl << ' ' << color(c.fg) << ' ' << color(c.bg);
  return s.str();
}

// Every cell's characters, width and attributes, the cursor and the pen, as
// text for a diff.
inline std::string dump(VTerm* vt) {
  VTermScreen* screen = vterm_obtain_screen(vt);
  int rows = 0, cols = 0;
  vterm_get_size(vt, &rows, &cols);
  std::ostringstream s;
  for (int r = 0; r < rows; ++r) {
    s << r << ':';
    for (int c = 0; c < cols; ++c) {
      VTermScreenCell cell{};
      vterm_screen_get_cell(screen, VTermPos{r, c}, &cell);
      s << ' ';
      // The second cell of a wide character is -1; libvterm leaves whatever
      // the buffer held before in the rest of it, so only the -1 counts.
      const int n = cell.chars[0] == 0xFFFFFFFFu ? 1 : VTERM_MAX_CHARS_PER_CELL;
      for (int i = 0; i < n && cell.chars[i]; ++i) s << (i ? "+" : "") << std::hex << cell.chars[i];
      s << std::dec << '/' << int(cell.width) << '/' << attrs(cell);
    }
    s << '\n';
  }
  VTermPos pos{};
  vterm_state_get_cursorpos(vterm_obtain_state(vt), &pos);
  s << "cursor " << pos.row << ',' << pos.col << '\n';
  s << "pen";
  for (int a = VTERM_ATTR_BOLD; a < VTERM_N_ATTRS; ++a) {
    VTermValue v{};
    vterm_state_get_penattr(vterm_obtain_state(vt), static_cast<VTermAttr>(a), &v);
    if (a == VTERM_ATTR_FOREGROUND || a == VTERM_ATTR_BACKGROUND) s << ' ' << color(v.color);
    else s << ' ' << v.number;
  }
  s << '\n';
  return s.str();
}

inline std::string Term::dump() const { return vterm_diff::dump(vt_.get()); }

struct Outcome {
  bool same = true;
  std::string where;     // the first difference
  std::uint64_t skipped = 0;
  std::uint64_t input = 0;
};

// Feeds `chunks` to a reference VTerm and, through a compactor, to another.
// Compares after the last chunk, and at each index in `checkpoints` (after a
// flush). The reference goes through a second compactor with a line open:
// nothing cut, the same defusing (a stream that crashes libvterm 0.1.4 fed
// raw is fine then). `raw_reference`: feed the reference the chunks as they
// are (for well-formed streams whose chunks end on character boundaries,
// where the defusing changes nothing).
inline Outcome run(int rows, int cols, const std::vector<std::string>& chunks,
                   const std::vector<std::size_t>& checkpoints = {}, bool raw_reference = false) {
  Term ref(rows, cols), fast(rows, cols);
  bastion::VtermFeedCompactor compactor(rows, cols), sanitizer(rows, cols);
  const bastion::VtermFeedCompactor::Sink to_fast = [&](std::string_view b) { fast.write(b); };
  const bastion::VtermFeedCompactor::Sink to_ref = [&](std::string_view b) { ref.write(b); };
  sanitizer.set_line_open(true, to_ref);
  Outcome o;
  auto compare = [&](const std::string& when) {
    compactor.flush(to_fast);
    const std::string a = ref.dump(), b = fast.dump();
    if (a != b && o.same) {
      o.same = false;
      std::size_t i = 0;
      while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
      const std::size_t line = a.rfind('\n', i) == std::string::npos ? 0 : a.rfind('\n', i) + 1;
      o.where = when + "\nreference: " + a.substr(line, a.find('\n', i) - line) +
                "\ncompacted: " + b.substr(line, b.find('\n', i) - line) + "\n" + a.substr(a.rfind("cursor")) +
                b.substr(b.rfind("cursor"));
    }
  };
  std::size_t next = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (raw_reference) ref.write(chunks[i]);
    else sanitizer.push(chunks[i], to_ref);
    compactor.push(chunks[i], to_fast);
    o.input += chunks[i].size();
    while (next < checkpoints.size() && checkpoints[next] < i) ++next;
    if (next < checkpoints.size() && checkpoints[next] == i) compare("after chunk " + std::to_string(i));
  }
  compare("at the end");
  o.skipped = compactor.skipped_bytes();
  return o;
}

}  // namespace vterm_diff
