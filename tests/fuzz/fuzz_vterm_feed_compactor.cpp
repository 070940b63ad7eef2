// Fuzzes VtermFeedCompactor against libvterm itself. For any output stream,
// terminal size (including sizes too small to compact) and chunking:
//   * feeding what the compactor passes on gives the same screen (every
//     cell's characters, width, attributes; the cursor; the pen) as feeding
//     the same stream through a compactor that never compacts (a line open),
//     at the end and after a flush in the middle;
//   * libvterm's cursor stays on the screen after every write (U+0080-U+009F
//     would put it at column -1);
//   * no CSI with more than 16 parameters, or one of more than 18 digits,
//     reaches libvterm (counted by a separate scanner here), and it neither
//     crashes nor hangs (REP). Built against libvterm compiled with ASan
//     (by hand, from its source) the same target finds memory errors too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../unit/vterm_screen_diff.h"

namespace {

[[noreturn]] void fail() { __builtin_trap(); }

// Counts CSI parameters in what libvterm is given, write by write; CSI
// parsing in libvterm does not depend on where writes split.
class CsiArgCounter {
 public:
  void scan(std::string_view bytes) {
    for (const char ch : bytes) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0x00 || c == 0x7f) continue;  // ignored everywhere
      if (c == 0x18 || c == 0x1a) {
        state_ = State::normal;
        continue;
      }
      if (c == 0x1b) {
        state_ = state_ == State::string ? State::esc_in_string : State::esc;
        continue;
      }
      if (c < 0x20) {
        if (c == 0x07 && state_ == State::string) state_ = State::normal;
        continue;  // other C0 controls run without ending a sequence
      }
      switch (state_) {
        case State::normal:
        case State::string:
          break;
        case State::esc_in_string:
          if (c == '\\') {
            state_ = State::normal;
            break;
          }
          state_ = State::esc;
          [[fallthrough]];
        case State::esc:
          if (c == '[') state_ = State::csi_leader, separators_ = 0, digits_ = 0;
          else if (c == 'P' || c == ']') state_ = State::string;
          else if (c >= 0x30 && c < 0x7f) state_ = State::normal;
          break;
        case State::csi_leader:
          if (c >= 0x3c && c <= 0x3f) break;
          state_ = State::csi_args;
          [[fallthrough]];
        case State::csi_args:
          if (c >= '0' && c <= '9') {
            if (++digits_ > 18) fail();  // would overflow libvterm's long
            break;
          }
          if (c == ';' || c == ':') {
            if (++separators_ >= 16) fail();
            digits_ = 0;
            break;
          }
          state_ = State::csi_intermed;
          [[fallthrough]];
        case State::csi_intermed:
          if (c >= 0x20 && c <= 0x2f) break;
          state_ = State::normal;  // final byte, or an invalid CSI
          break;
      }
    }
  }

 private:
  enum class State { normal, esc, csi_leader, csi_args, csi_intermed, string, esc_in_string };
  State state_ = State::normal;
  int separators_ = 0;
  int digits_ = 0;
};

void cursor_on_screen(VTerm* vt) {
  int rows = 0, cols = 0;
  vterm_get_size(vt, &rows, &cols);
  VTermPos pos{};
  vterm_state_get_cursorpos(vterm_obtain_state(vt), &pos);
  if (pos.row < 0 || pos.row >= rows || pos.col < 0 || pos.col >= cols) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const int rows = 1 + data[0] % 12;
  // libvterm 0.1.4 writes a wide character past a 1-column row, whatever it
  // is fed; the screen model refuses such sizes (see the compactor header).
  const int cols = 4 + data[1] % 37;
  std::uint32_t seed = data[2];
  const std::string_view stream(reinterpret_cast<const char*>(data + 3), size - 3);

  std::vector<std::string> chunks;
  for (std::size_t i = 0; i < stream.size();) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = 1 + (seed >> 16) % 300;
    chunks.emplace_back(stream.substr(i, n));
    i += n;
  }

  vterm_diff::Term ref(rows, cols), fast(rows, cols);
  CsiArgCounter counter;
  const bastion::VtermFeedCompactor::Sink to_ref = [&](std::string_view b) {
    counter.scan(b);
    ref.write(b);
    cursor_on_screen(ref.get());
  };
  const bastion::VtermFeedCompactor::Sink to_fast = [&](std::string_view b) {
    fast.write(b);
    cursor_on_screen(fast.get());
  };
  bastion::VtermFeedCompactor reference(rows, cols), compactor(rows, cols);
  reference.set_line_open(true, to_ref);

  auto same = [&] {
    compactor.flush(to_fast);
    if (ref.dump() != fast.dump()) fail();
  };
  const std::size_t middle = chunks.size() / 2;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    reference.push(chunks[i], to_ref);
    compactor.push(chunks[i], to_fast);
    if (i == middle && (seed & 1)) same();
  }
  same();
  return 0;
}
