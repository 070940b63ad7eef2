#include "sources/screen_model.h"

#include <vterm.h>

#include <algorithm>

#include "common/strings.h"

namespace bastion {

struct ScreenModelCallbacks {
  static int settermprop(VTermProp prop, VTermValue* val, void* user) {
    if (prop == VTERM_PROP_ALTSCREEN) static_cast<ScreenModel*>(user)->altscreen_ = val->boolean != 0;
    return 1;  // accepted: libvterm has already switched buffers
  }
  static int sb_pushline(int, const VTermScreenCell*, void* user) {
    ++static_cast<ScreenModel*>(user)->scrolled_;
    return 1;
  }
};

namespace {

const VTermScreenCallbacks kCallbacks = {
    .damage = nullptr,
    .moverect = nullptr,
    .movecursor = nullptr,
    .settermprop = &ScreenModelCallbacks::settermprop,
    .bell = nullptr,
    .resize = nullptr,
    .sb_pushline = &ScreenModelCallbacks::sb_pushline,
    .sb_popline = nullptr,
};

void append_cell_char(std::string& out, uint32_t c) {
  if (c < 0x110000) append_utf8(out, c);
  else out += "\xEF\xBF\xBD";  // not a code point: U+FFFD
}

}  // namespace

ScreenModel::ScreenModel(int cols, int rows)
    : compactor_(std::clamp(rows, 1, kMaxRows), std::clamp(cols, kMinCols, kMaxCols)),
      cols_(std::clamp(cols, kMinCols, kMaxCols)),
      rows_(std::clamp(rows, 1, kMaxRows)) {
  vt_ = vterm_new(rows_, cols_);
  vterm_set_utf8(vt_, 1);
  screen_ = vterm_obtain_screen(vt_);
  state_ = vterm_obtain_state(vt_);
  vterm_screen_set_callbacks(screen_, &kCallbacks, this);
  vterm_screen_enable_altscreen(screen_, 1);
  vterm_screen_reset(screen_, 1);
}

ScreenModel::~ScreenModel() { vterm_free(vt_); }

VtermFeedCompactor::Sink ScreenModel::sink() const {
  return [this](std::string_view b) { write_guarded(b); };
}

void ScreenModel::feed(std::string_view bytes) { compactor_.push(bytes, sink()); }

void ScreenModel::set_line_open(bool open) { compactor_.set_line_open(open, sink()); }

void ScreenModel::sync() const {
  if (compactor_.held_bytes() > 0) compactor_.flush(sink());
}

void ScreenModel::write_guarded(std::string_view bytes) const {
  // Second line of defence behind VtermFeedCompactor's own defusing.
  // libvterm 0.1.4 has bugs that target output reaches (each found by
  // fuzz_screen_model); feed() keeps the bytes that trigger them away:
  //  - it keeps 16 CSI arguments and writes past them (ESC[ and 16 ';' or
  //    ':'): before separator kMaxCsiSeparators+1 a CAN goes in, which ends
  //    the sequence in libvterm;
  //  - REP (CSI b) with no character before it loops forever: its final
  //    byte becomes a CAN (the repeat is not modelled);
  //  - erasing a row that holds a C1 control sent as UTF-8 (C2 80..C2 9F)
  //    crashes: those two bytes are dropped (terminals show nothing);
  //  - its UTF-8 decoder keeps a partial character across controls and
  //    writes: the next write that starts with a high byte then decodes more
  //    code points than it has bytes, one past its on-stack array. A
  //    character is given to libvterm only whole; one cut by any other byte
  //    goes in as U+FFFD (what a terminal shows), and one cut by the end of
  //    a chunk waits for the next chunk.
  // The escape states follow libvterm 0.1.4's parser, as observed.
  std::size_t from = 0;
  auto pass = [&](std::size_t upto) {
    if (upto > from) vterm_input_write(vt_, bytes.data() + from, upto - from);
  };
  auto high_byte = [&] {  // what a character does to the escape state
    if (csi_ == CsiState::params || csi_ == CsiState::csi_intermediate) csi_ = CsiState::none;
  };
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (utf8_need_ > 0) {
      if (c >= 0x80 && c <= 0xbf) {
        utf8_ += static_cast<char>(c);
        from = i + 1;
        if (--utf8_need_ > 0) continue;
        const auto second = static_cast<unsigned char>(utf8_[1]);
        // A dropped C1 pair never reaches libvterm, so it cannot end the
        // CSI libvterm is still in: the separator count must go on.
        if (!(utf8_.size() == 2 && static_cast<unsigned char>(utf8_[0]) == 0xc2 && second <= 0x9f)) {
          vterm_input_write(vt_, utf8_.data(), utf8_.size());
          high_byte();
        }
        utf8_.clear();
        continue;
      }
      vterm_input_write(vt_, "\xef\xbf\xbd", 3);
      utf8_.clear();
      utf8_need_ = 0;
      high_byte();
    }
    if (c >= 0xc0 && c <= 0xfd) {
      pass(i);
      utf8_ = static_cast<char>(c);
      utf8_need_ = c < 0xe0 ? 1 : c < 0xf0 ? 2 : c < 0xf8 ? 3 : c < 0xfc ? 4 : 5;
      from = i + 1;
      continue;
    }
    if (c >= 0x80) {  // a stray continuation byte, FE, FF: U+FFFD, decoder left idle
      high_byte();
      continue;
    }
    if (c == 0x00 || c == 0x7f) continue;  // ignored everywhere
    if (c == 0x18 || c == 0x1a) {
      csi_ = CsiState::none;
    } else if (c == 0x1b) {
      csi_ = CsiState::esc;
      scs_ = false;
    } else if (c < 0x20) {
      // A C0 control runs without ending an escape or a CSI.
    } else if (csi_ == CsiState::esc) {
      // In 0.1.4 intermediates leave the escape open, and '[' after them
      // still starts a CSI (ESC ( [ 1 C moves the cursor).
      if (c == '[') csi_ = CsiState::params, csi_separators_ = 0, csi_leading_ = true;
      else if (c >= 0x30 && c <= 0x7e) csi_ = CsiState::none;
      if (c >= 0x28 && c <= 0x2b) {
        scs_ = true;
      } else if (scs_ && csi_ == CsiState::none) {
        // A character set (ESC ( 0: a-z drawn as line-drawing glyphs) would
        // make the screen show other text than the shell holds: the model
        // keeps ASCII.
        pass(i);
        vterm_input_write(vt_, "B", 1);
        from = i + 1;
      } else if (c == '8') {
        pass(i + 1), from = i + 1, clamp_restored_cursor();  // DECRC
      }
      if (csi_ != CsiState::esc) scs_ = false;
    } else if (csi_ == CsiState::params) {
      if (c >= 0x3c && c <= 0x3f && csi_leading_) {
        // a private-mode leader ('?')
      } else if ((c >= '0' && c <= '9') || c == ';' || c == ':') {
        csi_leading_ = false;
        if ((c == ';' || c == ':') && ++csi_separators_ > kMaxCsiSeparators) {
          pass(i);
          vterm_input_write(vt_, "\x18", 1);
          from = i;
          csi_ = CsiState::none;
        }
      } else if (c >= 0x20 && c <= 0x2f) {
        csi_ = CsiState::csi_intermediate;
      } else {
        if (c == 'b') {  // REP
          pass(i);
          vterm_input_write(vt_, "\x18", 1);
          from = i + 1;
        }
        csi_ = CsiState::none;  // a final byte, or an invalid CSI
        if ((c == 'r' || c == 's') && !altscreen_) {
          // A scroll region or side margins on the primary screen: a line
          // feed on the last row below the region does not scroll, and
          // readline's wrap lands on the same row (the end of a line covers
          // its start). The shell's line editor assumes the whole screen
          // scrolls: the model keeps it so (the cursor stays where DECSTBM
          // put it).
          pass(i + 1);
          from = i + 1;
          VTermPos p;
          vterm_state_get_cursorpos(state_, &p);
          const std::string reset = "\x1b[r\x1b[?69l\x1b[" + std::to_string(std::clamp(p.row, 0, rows_ - 1) + 1) +
                                    ";" + std::to_string(std::clamp(p.col, 0, cols_ - 1) + 1) + "H";
          vterm_input_write(vt_, reset.data(), reset.size());
        }
        if (c == 'l' || c == 'h') {
          pass(i + 1);
          from = i + 1;
          // The screen the shell's line editor assumes: autowrap on, insert
          // mode off (without autowrap readline's wrap is a CR on the same
          // row, and the end of a line covers its start).
          vterm_input_write(vt_, "\x1b[?7h\x1b[4l", 9);
          if (c == 'l') clamp_restored_cursor();  // ?1048l, ?1049l
        }
      }
    } else if (csi_ == CsiState::csi_intermediate) {
      if (c >= 0x30) csi_ = CsiState::none;
    }
  }
  pass(bytes.size());
}

void ScreenModel::clamp_restored_cursor() const {
  // libvterm 0.1.4 restores a cursor saved before the screen shrank as it
  // was: the next glyph is then written past its row arrays. A terminal
  // clamps it to the screen; so does the model.
  VTermPos p;
  vterm_state_get_cursorpos(state_, &p);
  if (p.row >= 0 && p.row < rows_ && p.col >= 0 && p.col < cols_) return;
  const std::string cup = "\x1b[" + std::to_string(std::clamp(p.row, 0, rows_ - 1) + 1) + ";" +
                          std::to_string(std::clamp(p.col, 0, cols_ - 1) + 1) + "H";
  vterm_input_write(vt_, cup.data(), cup.size());
}

bool ScreenModel::resize(int cols, int rows) {
  if (!size_ok(cols, rows)) return false;
  compactor_.resize(rows, cols, sink());
  // libvterm 0.1.4 keeps the rows below the cursor when the primary screen
  // shrinks and pushes rows above it out, past the cursor itself: an erase
  // then writes through a null pointer (fuzz_screen_model). Rows below the
  // cursor are cleared first, as a terminal drops them.
  const ScreenPos cur = cursor();
  if (!altscreen_ && rows < rows_ && cur.row < rows_ - rows) {
    const std::string clear = "\x1b[" + std::to_string(cur.row + 2) + ";1H\x1b[J\x1b[" +
                              std::to_string(cur.row + 1) + ";" + std::to_string(cur.col + 1) + "H";
    vterm_input_write(vt_, clear.data(), clear.size());
  }
  const bool fewer_rows = rows < rows_;
  cols_ = cols;
  rows_ = rows;
  vterm_set_size(vt_, rows, cols);
  if (fewer_rows) {
    // It also clamps a scroll region's bottom but not its top: the next
    // line feed would scroll a region of negative height (memmove with a
    // negative size). The region is reset, as xterm does on a resize;
    // DECSTBM homes the cursor, so it is put back.
    VTermPos p;
    vterm_state_get_cursorpos(state_, &p);
    const std::string reset = "\x1b[r\x1b[" + std::to_string(std::clamp(p.row, 0, rows_ - 1) + 1) + ";" +
                              std::to_string(std::clamp(p.col, 0, cols_ - 1) + 1) + "H";
    vterm_input_write(vt_, reset.data(), reset.size());
  }
  return true;
}

ScreenPos ScreenModel::cursor() const {
  sync();
  VTermPos p;
  vterm_state_get_cursorpos(state_, &p);
  return {std::clamp(p.row, 0, rows_ - 1), std::clamp(p.col, 0, cols_ - 1)};
}

bool ScreenModel::erased(int row, int col) const {
  sync();
  VTermScreenCell c;
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_) return true;
  if (!vterm_screen_get_cell(screen_, VTermPos{row, col}, &c)) return true;
  return c.chars[0] == 0;
}

bool ScreenModel::wraps(int row) const {
  if (row < 0 || row + 1 >= rows_) return false;
  return !erased(row, cols_ - 1) && !erased(row + 1, 0);
}

int ScreenModel::content_end(int row) const {
  for (int c = cols_ - 1; c >= 0; --c)
    if (!erased(row, c)) {
      // A wide char's tail cell reads as erased in some states: include it.
      VTermScreenCell cell;
      vterm_screen_get_cell(screen_, VTermPos{row, c}, &cell);
      return std::min(cols_, c + std::max(1, static_cast<int>(cell.width)));
    }
  return 0;
}

std::string ScreenModel::text(int row, int from, int to) const {
  sync();
  std::string out;
  if (row < 0 || row >= rows_) return out;
  from = std::clamp(from, 0, cols_);
  to = std::clamp(to, from, cols_);
  for (int c = from; c < to; ++c) {
    VTermScreenCell cell;
    if (!vterm_screen_get_cell(screen_, VTermPos{row, c}, &cell)) continue;
    if (cell.chars[0] == static_cast<uint32_t>(-1)) continue;  // the tail of a wide char
    if (cell.chars[0] == 0) {
      out += ' ';
      continue;
    }
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; ++i) append_cell_char(out, cell.chars[i]);
    if (cell.width > 1) c += cell.width - 1;
  }
  return out;
}

bool ScreenModel::has_replacement(int row, int from, int to) const {
  sync();
  for (int c = std::max(0, from); c < std::min(to, cols_); ++c) {
    VTermScreenCell cell;
    if (vterm_screen_get_cell(screen_, VTermPos{row, c}, &cell) && cell.chars[0] == 0xFFFD) return true;
  }
  return false;
}

}  // namespace bastion
