// Attack (issue 14, attack 2): target output that corrupts libvterm 0.1.4's
// memory through the screen model of a pty shell. Each case was found with
// libvterm rebuilt under AddressSanitizer (fuzz_screen_model); here each is
// checked by what the corruption does to the screen in the stock library.
#include <catch2/catch.hpp>

#include "sources/screen_model.h"

using namespace bastion;

namespace {
const std::string kFFFD = "\xef\xbf\xbd";
}

TEST_CASE("hostile output: a UTF-8 lead cut by a control cannot overflow libvterm's code point array",
          "[screen_model][attack]") {
  // libvterm keeps the cut character pending across the LF and the write
  // end; the next write that starts with a high byte then decodes one code
  // point more than it has bytes, into uint32_t codepoints[len] on the
  // stack (ASan: dynamic-stack-buffer-overflow in decode_utf8). The extra
  // U+FFFD on screen is that out-of-bounds code point: 5 bytes, 6 glyphs.
  // In front of the model's own guard, VtermFeedCompactor drops a lead cut
  // by a control and turns a UTF-8 C1 control into a visible U+00BF.
  ScreenModel m(80, 24);
  m.feed("\xe4\n");
  m.feed("\xe4" "abcd");
  CHECK(m.text(0, 0, m.content_end(0)).empty());
  CHECK(m.text(1, 0, m.content_end(1)) == kFFFD + "abcd");
  ScreenModel n(80, 24);
  n.feed("\xe4\r\n\xe4" "abcd\xc2\x80");
  CHECK(n.text(1, 0, n.content_end(1)) == kFFFD + "abcd\xc2\xbf");
}

TEST_CASE("hostile output: a cursor saved before the screen shrank is restored onto the screen",
          "[screen_model][attack]") {
  // ESC 7 at row 20, the user shrinks the window to 5 rows, ESC 8: libvterm
  // 0.1.4 restores row 20 as it was and indexes its 5-row line arrays with
  // it (ASan: heap-buffer-overflow in on_text / on_csi / set_lineinfo).
  ScreenModel m(80, 24);
  m.feed("\x1b[20;1H\x1b" "7\x1b[H");
  REQUIRE(m.resize(80, 5));
  m.feed("\x1b" "8AAAA");
  CHECK(m.cursor() == ScreenPos{4, 4});
  CHECK(m.text(4, 0, m.content_end(4)) == "AAAA");
}

TEST_CASE("hostile output: a double-width line at a restored off-screen cursor does not crash",
          "[screen_model][attack]") {
  // The same with DECDWL: libvterm writes lineinfo[23] of a 1-row screen
  // (a heap write); the stock build dies with SIGSEGV, and bastiond with it.
  ScreenModel m(80, 24);
  m.feed("\x1b[24;1H\x1b" "7\x1b[H");
  REQUIRE(m.resize(80, 1));
  m.feed("\x1b" "8\x1b#6\x1b#3\x1b#4");
  m.feed("ok");
  CHECK(m.cursor().row == 0);
  CHECK(m.text(0, 0, 2) == "ok");
}

TEST_CASE("hostile output: a scroll region below a shrunk screen does not crash libvterm",
          "[screen_model][attack]") {
  // DECSTBM 20..24, the window shrinks to 5 rows: libvterm 0.1.4 clamps the
  // region's bottom but not its top, and the next LF scrolls a region of
  // negative height: memmove with a negative size (SIGABRT/SIGSEGV in the
  // stock build; apt's progress bar and tmux set scroll regions).
  for (const std::string screen : {"", "\x1b[?1049h"}) {  // the primary and the alternate screen
    ScreenModel m(80, 24);
    m.feed(screen + "\x1b[20;24r\x1b[24;1H");
    REQUIRE(m.resize(80, 5));
    m.feed("\n\n\nabc\n");
    CHECK(m.cursor().row == 4);
    CHECK(m.text(3, 0, 3) == "abc");
  }
}

TEST_CASE("hostile output: on the primary screen the model scrolls as the line editor assumes",
          "[screen_model][attack]") {
  // A region at the top, the cursor on the last row below it: a terminal
  // does not scroll there, so readline's wrap (" \r") lands on the same
  // row and the end of a typed line is drawn over its start. The model
  // keeps no scroll region, margins, autowrap off or insert mode on the
  // primary screen, and no character set but ASCII/UTF-8.
  ScreenModel m(10, 4);
  m.feed("\x1b[1;2r\x1b[4;1H$ 12345678 \rabc");
  CHECK(m.text(2, 0, 10) == "$ 12345678");
  CHECK(m.text(3, 0, 3) == "abc");
  ScreenModel n(10, 4);
  n.feed("\x1b[?7l$ 12345678 \rabc");
  CHECK(n.text(0, 0, 10) == "$ 12345678");
  ScreenModel k(10, 4);
  k.feed("\x1b(0\x1b)0\x0e$ su\x0f su\x1b[4hxy\x1b[1Dz");
  CHECK(k.text(0, 0, k.content_end(0)) == "$ su suxz");
}
