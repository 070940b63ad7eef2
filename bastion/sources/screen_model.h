// What the user's terminal shows, as the target drew it: a libvterm screen
// fed with the target's output on a pty channel. The shell line tracker
// reads the line a user submits off it (what the shell echoed and edited),
// never off the keystrokes. libvterm 0.1.4 (Debian 12) has no soft-wrap flag,
// so wrapped rows are found by a heuristic (wraps()).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sources/vterm_feed_compactor.h"

struct VTerm;
struct VTermScreen;
struct VTermState;

namespace bastion {

struct ScreenPos {
  int row = 0, col = 0;
  bool operator==(const ScreenPos&) const = default;
};

class ScreenModel {
 public:
  // Larger terminals are refused (memory per channel, and a model that
  // wraps differently from the user's terminal would misread lines).
  static constexpr int kMaxCols = 512;
  static constexpr int kMaxRows = 256;
  // libvterm 0.1.4 crashes on a wide char in a 1-column screen (found by
  // fuzz_screen_model), and a double-width line halves a row: narrower
  // terminals are refused too.
  static constexpr int kMinCols = 4;
  static bool size_ok(int cols, int rows) {
    return cols >= kMinCols && rows > 0 && cols <= kMaxCols && rows <= kMaxRows;
  }

  ScreenModel(int cols, int rows);  // callers check size_ok() first; out-of-range sizes are clamped
  ~ScreenModel();
  ScreenModel(const ScreenModel&) = delete;
  ScreenModel& operator=(const ScreenModel&) = delete;

  // The one place target output enters the model. Long plain runs are cut
  // to what can still be seen (VtermFeedCompactor) unless a line is open;
  // what is held back is applied before any read.
  void feed(std::string_view bytes);
  // While a line is being typed nothing is cut: every scrolled row counts.
  void set_line_open(bool open);
  // Bytes of output libvterm never had to parse (the fast path).
  uint64_t skipped_bytes() const { return compactor_.skipped_bytes(); }
  // False (and unchanged) when the size is refused.
  bool resize(int cols, int rows);

  int cols() const { return cols_; }
  int rows() const { return rows_; }
  ScreenPos cursor() const;
  // Exact without applying held output: a switch is never plain text, so
  // the compactor hands it (and everything before it) to libvterm at once.
  bool in_altscreen() const { return altscreen_; }
  // Rows pushed off the top of the primary screen since the start: a
  // position recorded earlier is now `scrolled() - then` rows higher.
  uint64_t scrolled() const { return sync(), scrolled_; }

  // The cell is blank (never written, or erased).
  bool erased(int row, int col) const;
  // Whether row r continues on row r+1 (0.1.4 heuristic: its last cell is
  // written and row r+1 has text in column 0).
  bool wraps(int row) const;
  // Text of row r from column `from` up to (not including) `to`, as UTF-8:
  // wide-char tails skipped, erased cells inside the range read as spaces.
  std::string text(int row, int from, int to) const;
  // One past the last written cell of row r (0 when the row is blank).
  int content_end(int row) const;
  // Whether any cell holds U+FFFD (bytes that were not UTF-8).
  bool has_replacement(int row, int from, int to) const;

 private:
  friend struct ScreenModelCallbacks;  // libvterm's callbacks set the two fields below

  // Output is applied lazily: reads first apply what the compactor holds.
  // Logically const (the bytes were received already); hence mutable.
  void sync() const;
  void write_guarded(std::string_view bytes) const;
  VtermFeedCompactor::Sink sink() const;
  mutable VtermFeedCompactor compactor_;

  // Where feed() is in an escape sequence (see feed()).
  enum class CsiState { none, esc, params, csi_intermediate };
  static constexpr int kMaxCsiSeparators = 12;
  mutable CsiState csi_ = CsiState::none;
  mutable int csi_separators_ = 0;
  mutable bool csi_leading_ = false;  // no argument byte yet: '<' '=' '>' '?' are a leader
  mutable bool scs_ = false;          // ESC ( ) * +: the next final byte names a character set
  // A UTF-8 character not yet given to libvterm, and how many bytes it lacks.
  mutable std::string utf8_;
  mutable int utf8_need_ = 0;

  void clamp_restored_cursor() const;

  VTerm* vt_ = nullptr;
  VTermScreen* screen_ = nullptr;
  VTermState* state_ = nullptr;
  int cols_, rows_;
  mutable bool altscreen_ = false;
  mutable uint64_t scrolled_ = 0;
};

}  // namespace bastion
