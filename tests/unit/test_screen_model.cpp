// The screen model (sources/screen_model.h) over libvterm 0.1.4: text,
// cursor, the wrap heuristic, wide chars, the alternate screen, scrolling.
#include <catch2/catch.hpp>

#include "sources/screen_model.h"

using namespace bastion;

TEST_CASE("screen model: text and cursor after a prompt and typing", "[screen_model]") {
  ScreenModel m(20, 5);
  m.feed("$ ls -l\x08\x08\x1b[K-a");
  CHECK(m.cursor() == ScreenPos{0, 7});
  CHECK(m.text(0, 0, m.content_end(0)) == "$ ls -a");
  CHECK(m.content_end(1) == 0);
  CHECK(m.erased(0, 7));
  CHECK_FALSE(m.erased(0, 1));  // a written space is not erased
}

TEST_CASE("screen model: a row that fills to the margin wraps onto the next", "[screen_model]") {
  ScreenModel m(10, 4);
  m.feed("$ 12345678abc");
  CHECK(m.cursor() == ScreenPos{1, 3});
  CHECK(m.wraps(0));
  CHECK_FALSE(m.wraps(1));
  CHECK(m.text(0, 2, m.content_end(0)) + m.text(1, 0, m.content_end(1)) == "12345678abc");
  // A row ending short of the margin, then a new line: no wrap.
  ScreenModel n(10, 4);
  n.feed("abc\r\ndef");
  CHECK_FALSE(n.wraps(0));
}

TEST_CASE("screen model: wide chars keep their head, skip the tail", "[screen_model]") {
  ScreenModel m(10, 2);
  m.feed("a\xe4\xb8\xad" "b");  // a, U+4E2D (2 cells), b
  CHECK(m.cursor() == ScreenPos{0, 4});
  CHECK(m.text(0, 0, m.content_end(0)) == "a\xe4\xb8\xad" "b");
  CHECK_FALSE(m.has_replacement(0, 0, 10));
  m.feed("\xff");
  CHECK(m.has_replacement(0, 0, 10));
}

TEST_CASE("screen model: alternate screen and scroll counter", "[screen_model]") {
  ScreenModel m(10, 3);
  CHECK_FALSE(m.in_altscreen());
  m.feed("\x1b[?1049h");
  CHECK(m.in_altscreen());
  m.feed("\x1b[?1049l");
  CHECK_FALSE(m.in_altscreen());
  CHECK(m.scrolled() == 0);
  m.feed("1\r\n2\r\n3\r\n4\r\n5");
  CHECK(m.scrolled() == 2);
  CHECK(m.text(0, 0, 1) == "3");
  CHECK(m.text(2, 0, 1) == "5");
}

TEST_CASE("screen model: size cap and resize", "[screen_model]") {
  CHECK(ScreenModel::size_ok(512, 256));
  CHECK_FALSE(ScreenModel::size_ok(513, 24));
  CHECK_FALSE(ScreenModel::size_ok(80, 257));
  CHECK_FALSE(ScreenModel::size_ok(0, 24));
  ScreenModel m(80, 24);
  CHECK_FALSE(m.resize(1000, 24));
  CHECK(m.cols() == 80);
  CHECK(m.resize(100, 30));
  CHECK(m.cols() == 100);
  CHECK(m.rows() == 30);
}
