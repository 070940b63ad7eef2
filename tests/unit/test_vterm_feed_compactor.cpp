// VtermFeedCompactor, differential against libvterm itself: the screen after
// feeding what the compactor passes on must equal the screen after feeding
// everything (every cell's characters and width, and the cursor).
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vterm_screen_diff.h"

using bastion::VtermFeedCompactor;
using vterm_diff::Outcome;
using vterm_diff::run;

namespace {

std::vector<std::string> split_random(const std::string& s, std::mt19937& rng, std::size_t max_chunk) {
  std::vector<std::string> out;
  std::uniform_int_distribution<std::size_t> len(1, max_chunk);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = std::min(len(rng), s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::vector<std::string> split_fixed(const std::string& s, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size(); i += n) out.push_back(s.substr(i, n));
  return out;
}

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::string log_lines(int n, std::mt19937& rng) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += "2026-11-30T07:" + std::to_string(10 + i % 50) + ":00Z INFO worker[" + std::to_string(rng() % 9000) +
         "]: processed request id=" + std::to_string(rng()) + " in " + std::to_string(rng() % 900) + "ms\r\n";
  return s;
}

std::string ls_color(int n, std::mt19937& rng) {
  static const char* const kinds[] = {"\x1b[01;34m", "\x1b[01;32m", "\x1b[01;36m", "\x1b[40;33;01m", ""};
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "\x1b[0m";
    for (int k = 0; k < 4; ++k) {
      s += kinds[rng() % 5];
      s += "name_" + std::to_string(rng() % 100000);
      s += "\x1b[0m  ";
    }
    s += "\r\n";
  }
  return s;
}

std::string wrapping_lines(int n, std::mt19937& rng, int max_len) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int len = static_cast<int>(rng() % static_cast<unsigned>(max_len + 1));
    for (int k = 0; k < len; ++k) s += static_cast<char>('a' + (k + i) % 26);
    s += "\r\n";
  }
  return s;
}

std::string cjk_lines(int n, std::mt19937& rng) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int len = static_cast<int>(rng() % 120);
    for (int k = 0; k < len; ++k) {
      switch (rng() % 6) {
        case 0: s += utf8(0x4E00 + rng() % 2000); break;        // wide
        case 1: s += utf8(0xAC00 + rng() % 500); break;         // Hangul, wide
        case 2: s += "e" + utf8(0x0301); break;                 // e + combining acute
        case 3: s += utf8(0x1F600 + rng() % 40); break;         // emoji
        case 4: s += utf8(0x00E9); break;                       // é
        default: s += static_cast<char>('A' + rng() % 26); break;
      }
    }
    s += "\r\n";
  }
  return s;
}

std::string tab_lines(int n, std::mt19937& rng) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 6; ++k) {
      s += std::string(rng() % 12, 'x');
      s += (rng() % 5 == 0) ? "\b\b" : "\t";
    }
    s += "\r\n";
  }
  return s;
}

std::string vim_redraw(int rows, int cols, int frames, std::mt19937& rng) {
  std::string s = "\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\x1b[H\x1b[2J";
  for (int f = 0; f < frames; ++f) {
    s += "\x1b[?25l\x1b[1;" + std::to_string(rows - 1) + "r";
    for (int r = 1; r < rows; ++r) {
      s += "\x1b[" + std::to_string(r) + ";1H";
      s += "\x1b[34m" + std::to_string(r + f) + "\x1b[m ";
      s += std::string(rng() % static_cast<unsigned>(cols), static_cast<char>('a' + (r + f) % 26));
      s += "\x1b[K";
    }
    s += "\x1b[r\x1b[" + std::to_string(rows) + ";1H\x1b[7m-- INSERT --\x1b[m\x1b[K";
    s += "\x1b[" + std::to_string(1 + f % (rows - 1)) + ";5H\x1b[?25h";
  }
  return s + "\x1b[?1l\x1b>\x1b[?1049l\x1b[23;0;0t";
}

void require_same(const Outcome& o) {
  INFO(o.where);
  REQUIRE(o.same);
}

// Random streams from the plain alphabet and everything that is not plain.
std::string random_stream(std::mt19937& rng, int rows, int cols, std::size_t size) {
  static const char* const specials[] = {
      "\x1b[H", "\x1b[2J", "\x1b[3;2H", "\x1b[A", "\x1b[5D", "\x1b[2;4r", "\x1b[r", "\x1b[1;99r",
      "\x1b[?7l", "\x1b[?7h", "\x1b[4h", "\x1b[4l", "\x1b[?69h", "\x1b[2;5s", "\x1b[?69l", "\x1b#6", "\x1b#5",
      "\x1b(0", "\x1b(B", "\x1b)0", "\x0e", "\x0f", "\x1bN", "\x1bO", "\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h",
      "\x1b[?47l", "\x1b" "c", "\x1b[20h", "\x1b[20l", "\x1b]0;title\x07", "\x1bP$q\x1b\\", "\x1b[3g", "\x1bH",
      "\x1b[5b", "\x1bM", "\x1b" "D", "\x1b" "E", "\x1b[2K", "\x1b[1K", "\x1b[?K", "\x1b[L", "\x1b[M", "\x1b[P",
      "\x1b[2@", "\x1b[S", "\x1b[T", "\x1b[X", "\x1b" "7", "\x1b" "8", "\x1b[s", "\x1b[u", "\x1b[?6h", "\x1b[?6l",
      "\x0b", "\x0c", "\x7f", "", "\x18", "\x1b[3", "\x1b[", "\xe4\xb8", "\xb8", "\xff",
      "\xc2\x85", "\xcc\x81", "\x1b[38;5;196m", "\x1b[0;1;4m", "\x1b[m", "\x1b[;7m", "\x1b[1\r2m", "\x1b_apc\x1b\\"};
  constexpr int kSpecials = sizeof(specials) / sizeof(specials[0]);
  std::string s;
  while (s.size() < size) {
    const unsigned pick = rng() % 100;
    if (pick < 40) {
      const int len = static_cast<int>(rng() % static_cast<unsigned>(cols * 3));
      for (int k = 0; k < len; ++k) s += static_cast<char>('a' + rng() % 26);
    } else if (pick < 62) {
      s += "\r\n";
    } else if (pick < 66) {
      s += "\n";
    } else if (pick < 69) {
      s += "\r";
    } else if (pick < 72) {
      s += "\t";
    } else if (pick < 74) {
      s += "\b";
    } else if (pick < 79) {
      s += "\x1b[" + std::to_string(rng() % 50) + "m";
    } else if (pick < 82) {
      s += utf8(0x4E00 + rng() % 100);
    } else if (pick < 84) {
      s += utf8(0x0300 + rng() % 0x70);  // combining, sometimes first after a control
    } else if (pick < 86) {
      s += std::string(static_cast<std::size_t>(cols - 1), 'w') + utf8(0x4E2D);  // wide char at the margin
    } else if (pick < 88) {
      s += std::string(static_cast<std::size_t>(cols), 'p') + "\n";  // pending wrap, then a bare LF
    } else {
      const char* sp = specials[rng() % kSpecials];
      s += *sp ? std::string(sp) : std::string("\0", 1);
      if (rng() % 4 == 0) s += "\x1b[" + std::to_string(1 + rng() % rows) + ";" + std::to_string(1 + rng() % cols) + "H";
    }
  }
  return s;
}

}  // namespace

TEST_CASE("vterm feed: well-formed output passes unchanged when nothing is cut", "[vterm_feed]") {
  // With a line open nothing is cut: the compactor only defuses, and
  // well-formed output has nothing to defuse. Chunks that end on character
  // boundaries are written as they came; a character cut by a chunk end is
  // written with the next chunk instead.
  std::mt19937 rng(21);
  const std::string s = log_lines(500, rng) + ls_color(300, rng) + cjk_lines(300, rng) + tab_lines(200, rng) +
                        wrapping_lines(200, rng, 300) + vim_redraw(24, 80, 20, rng);
  VtermFeedCompactor c(24, 80);
  std::vector<std::string> writes;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { writes.emplace_back(b); };
  c.set_line_open(true, sink);
  std::vector<std::string> aligned;  // split only before a byte that starts a character
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = std::min<std::size_t>(1 + rng() % 700, s.size() - i);
    while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
    aligned.push_back(s.substr(i, n));
    i += n;
  }
  for (const auto& chunk : aligned) c.push(chunk, sink);
  CHECK(writes == aligned);
  CHECK(c.defused_sequences() == 0);
  writes.clear();
  std::string joined;
  for (const auto& chunk : split_random(s, rng, 300)) c.push(chunk, sink);
  for (const auto& w : writes) {
    CHECK((w.empty() || (static_cast<unsigned char>(w[0]) & 0xC0) != 0x80));  // no write starts mid-character
    joined += w;
  }
  CHECK(joined == s);
  CHECK(c.defused_sequences() == 0);
}

TEST_CASE("vterm feed: a character cut off by a control is dropped", "[vterm_feed]") {
  VtermFeedCompactor c(24, 80);
  std::string fed;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fed.append(b); };
  c.set_line_open(true, sink);
  c.push("ab\xe4", sink);
  c.flush(sink);
  CHECK(fed == "ab");  // waits for the rest
  c.push("\xb8\xad!\xe4\xb8\r\n\xf0\x9f\x98", sink);
  c.push("\x1b[m\xe4z", sink);
  c.flush(sink);
  CHECK(fed == "ab\xe4\xb8\xad!\r\n\x1b[m\xe4z");  // E4 B8 and F0 9F 98 were cut off; E4 z stays (one call)
}

TEST_CASE("vterm feed: plain logs are cut down, screen and cursor unchanged", "[vterm_feed]") {
  std::mt19937 rng(1);
  for (auto [rows, cols] : {std::pair{24, 80}, std::pair{50, 200}}) {
    const std::string s = log_lines(20000, rng);
    const Outcome o = run(rows, cols, split_fixed(s, 16384), {3, 17, 40}, true);
    require_same(o);
    CHECK(o.skipped > o.input * 9 / 10);
  }
}

TEST_CASE("vterm feed: ls --color output keeps its colours and text", "[vterm_feed]") {
  std::mt19937 rng(2);
  const std::string s = ls_color(8000, rng);
  std::mt19937 split(3);
  const Outcome o = run(24, 80, split_random(s, split, 9000), {5, 30}, true);
  require_same(o);
  CHECK(o.skipped > o.input * 8 / 10);
}

TEST_CASE("vterm feed: the replayed pen draws the kept rows as the full feed does", "[vterm_feed]") {
  std::string s = "\x1b[4;41m";  // never reset below: must reach the kept rows
  for (int i = 0; i < 4000; ++i) s += "\x1b[1;3" + std::to_string(i % 8) + "mline " + std::to_string(i) + "\x1b[22m\r\n";
  s += "tail";  // drawn with the pen set by the last SGR, which is in the kept part
  vterm_diff::Term ref(24, 80), fast(24, 80);
  VtermFeedCompactor c(24, 80);
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fast.write(b); };
  for (const auto& chunk : split_fixed(s, 8192)) {
    ref.write(chunk);
    c.push(chunk, sink);
  }
  c.flush(sink);
  REQUIRE(c.skipped_bytes() > 0);
  REQUIRE(ref.dump() == fast.dump());
}

TEST_CASE("vterm feed: long lines wrap into rows; rows are counted, not newlines", "[vterm_feed]") {
  std::mt19937 rng(4);
  for (int max_len : {79, 80, 81, 160, 400, 2000}) {
    const std::string s = wrapping_lines(3000, rng, max_len);
    std::mt19937 split(static_cast<unsigned>(max_len));
    const Outcome o = run(24, 80, split_random(s, split, 20000), {2, 9});
    INFO("max_len " << max_len);
    require_same(o);
    CHECK(o.skipped > 0);
  }
  // One line far longer than the screen, then a few short ones.
  const std::string s = std::string(50000, 'L') + "\r\nshort\r\n" + std::string(30000, 'M') + "\r\nend";
  require_same(run(24, 80, split_fixed(s, 4096)));
}

TEST_CASE("vterm feed: wide characters, combining marks and emoji", "[vterm_feed]") {
  std::mt19937 rng(5);
  const std::string s = cjk_lines(4000, rng);
  std::mt19937 split(6);
  const Outcome o = run(24, 80, split_random(s, split, 7000), {1, 11, 50});
  require_same(o);
  CHECK(o.skipped > 0);
}

TEST_CASE("vterm feed: a combining mark split from its base by a chunk boundary", "[vterm_feed]") {
  // libvterm attaches a mark that starts a write to the previous glyph only if
  // the cursor did not move; a held run must not move write boundaries.
  std::string s = log_lines(3000, *std::make_unique<std::mt19937>(7));
  std::vector<std::string> chunks = split_fixed(s, 5000);
  chunks.push_back(std::string(79, 'z') + "e");
  chunks.push_back(utf8(0x0301) + "\r\n" + log_lines(400, *std::make_unique<std::mt19937>(8)));
  chunks.push_back(std::string(80, 'q'));
  chunks.push_back(utf8(0x0308) + "x");
  require_same(run(24, 80, chunks));
  require_same(run(24, 80, chunks, {0, 1, 2, 3, 4, 5, 600, 601, 602}));
}

TEST_CASE("vterm feed: a mark that starts a write, after a tab, is not plain", "[vterm_feed]") {
  // After a cut the two feeds reach the bottom row at different times, so
  // libvterm's last-glyph position differs until a glyph is drawn; a mark
  // that starts a write attaches to that glyph only if the cursor is right
  // after it (here: the X at column 7, the cursor at column 8 after TAB).
  for (int rows : {3, 24}) {
    std::string s = "\x1b[2J\x1b[H";
    for (int i = 0; i < 3000; ++i) s += "line " + std::to_string(i) + "\r\n";
    std::string tail;  // long enough to be cut in the push that holds it
    for (int i = 0; i < 1000; ++i) tail += "more " + std::to_string(i) + "\r\n";
    tail += "\r       X" + std::string(static_cast<std::size_t>(rows - 1), '\n') + "\r" +
                       std::string(static_cast<std::size_t>(rows), '\n') + "\t" + utf8(0x0301) + "Z";
    std::vector<std::string> chunks = split_fixed(s, 4000);
    chunks.push_back(tail);
    INFO("rows " << rows);
    CHECK(run(rows, 80, chunks).skipped > 0);
    require_same(run(rows, 80, chunks));
  }
}

TEST_CASE("vterm feed: a UTF-8 lead byte left pending across lines", "[vterm_feed]") {
  // libvterm keeps a decoder per charset slot: the E4 below waits in G0's
  // until the next text that starts with ASCII, far later. No cut is made
  // while any decoder waits, so the final "z" shows the same error glyph.
  std::string s = "\x1b[H" "ab\xe4\r\n";
  for (int i = 0; i < 4000; ++i) s += utf8(0x4E2D) + utf8(0x6587) + "\r\n";
  s += "z";
  require_same(run(24, 80, split_fixed(s, 5000)));
}

TEST_CASE("vterm feed: lines piling up on one row below a scroll region", "[vterm_feed]") {
  // Below the region, LF on the last row does not scroll: every line is
  // drawn over the last one, so a long early line shows through.
  std::string s = "\x1b[1;10r\x1b[24;1H" + std::string(70, 'L') + "\r\n";
  for (int i = 0; i < 4000; ++i) s += "s" + std::to_string(i % 10) + "\r\n";
  require_same(run(24, 80, split_fixed(s, 5000)));
}

TEST_CASE("vterm feed: tab stops and backspaces", "[vterm_feed]") {
  std::mt19937 rng(9);
  const std::string s = "\x1b[3g\x1b[5G\x1bH\x1b[20G\x1bH\r" + tab_lines(5000, rng);  // custom tab stops first
  const Outcome o = run(24, 80, split_fixed(s, 3000));
  require_same(o);
  CHECK(o.skipped > 0);
}

TEST_CASE("vterm feed: autowrap off, scroll regions, insert mode and cursor motion are fed whole", "[vterm_feed]") {
  std::mt19937 rng(10);
  std::string s = log_lines(2000, rng);
  s += "\x1b[?7l" + wrapping_lines(2000, rng, 300) + "\x1b[?7h";            // DECAWM off: long lines overwrite
  s += "\x1b[5;12r\x1b[12;1H" + log_lines(2000, rng) + "\x1b[r";           // a scroll region
  s += "\x1b[?69h\x1b[3;40s" + log_lines(1500, rng) + "\x1b[?69l\x1b[s";   // left/right margins
  s += "\x1b[4h" + log_lines(1500, rng) + "\x1b[4l";                        // insert mode
  s += "\x1b[10;10H\x1b[3A" + log_lines(2000, rng) + "\x1b[2J\x1b[H" + wrapping_lines(1000, rng, 200);
  s += "\x1b#6" + log_lines(1500, rng) + "\x1b" "c" + log_lines(1500, rng);  // double width, then RIS
  s += "\x1b(0" + log_lines(1000, rng) + "\x1b(B" + log_lines(1500, rng);   // DEC graphics, then ASCII
  s += "\x0e" + log_lines(500, rng) + "\x0f" + log_lines(1500, rng);        // SO/SI
  std::mt19937 split(11);
  const Outcome o = run(24, 80, split_random(s, split, 12000), {4, 20, 33, 70});
  require_same(o);
  CHECK(o.skipped > 0);
}

TEST_CASE("vterm feed: a vim-like redraw and the alternate screen", "[vterm_feed]") {
  std::mt19937 rng(12);
  std::string s = log_lines(3000, rng) + vim_redraw(24, 80, 200, rng) + log_lines(3000, rng);
  s += "\x1b[?1049h" + log_lines(3000, rng) + "\x1b[?1049l" + "$ ";
  std::mt19937 split(13);
  require_same(run(24, 80, split_random(s, split, 4000), {1, 50, 100, 200}));
}

TEST_CASE("vterm feed: bare LFs after a full row, staircase output", "[vterm_feed]") {
  std::string s;
  for (int i = 0; i < 5000; ++i) s += std::string(80, static_cast<char>('a' + i % 26)) + ((i % 3) ? "\n" : "\r\n");
  require_same(run(24, 80, split_fixed(s, 10000)));
  std::string t;
  for (int i = 0; i < 5000; ++i) t += "xy\n";
  require_same(run(24, 80, split_fixed(t, 7000)));
}

TEST_CASE("vterm feed: empty lines after the last text, then a mark for the last glyph", "[vterm_feed]") {
  // libvterm attaches a combining mark that starts a write to the last glyph
  // drawn (combine_pos) if the cursor stands right after it, even after that
  // glyph scrolled away; the kept part must have drawn that glyph too.
  std::mt19937 rng(14);
  std::string s = log_lines(2000, rng) + "X";
  for (int i = 0; i < 3000; ++i) s += "\r\n";
  std::vector<std::string> chunks = split_fixed(s, 6000);
  chunks.push_back("\x1b[24;2H");
  chunks.push_back(utf8(0x0301));
  require_same(run(24, 80, chunks));
}

TEST_CASE("vterm feed: any split point of escape sequences and UTF-8", "[vterm_feed]") {
  std::mt19937 rng(15);
  const std::string s = ls_color(600, rng) + cjk_lines(300, rng) + "\x1b[1;31mred\x1b[0m" + log_lines(300, rng);
  for (std::size_t size : {1u, 2u, 3u, 5u, 7u, 13u}) {
    INFO("chunk size " << size);
    require_same(run(8, 20, split_fixed(s, size), {100, 1000, 5000}));
  }
}

TEST_CASE("vterm feed: random streams, small terminals, random splits", "[vterm_feed]") {
  std::mt19937 rng(16);
  std::uint64_t skipped = 0;
  for (int round = 0; round < 400; ++round) {
    const int rows = 1 + static_cast<int>(rng() % 8);
    const int cols = 3 + static_cast<int>(rng() % 20);
    const std::string s = random_stream(rng, rows, cols, 2000 + rng() % 20000);
    std::vector<std::size_t> checks{rng() % 40, 40 + rng() % 40};
    const Outcome o = run(rows, cols, split_random(s, rng, 1 + rng() % 3000), checks);
    INFO("round " << round << " rows " << rows << " cols " << cols);
    require_same(o);
    skipped += o.skipped;
  }
  CHECK(skipped > 0);
}

TEST_CASE("vterm feed: resize flushes first and keeps the screen exact", "[vterm_feed]") {
  std::mt19937 rng(17);
  vterm_diff::Term ref(24, 80), fast(24, 80);
  VtermFeedCompactor c(24, 80);
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fast.write(b); };
  const std::string a = "\x1b[1;20r" + log_lines(3000, rng);  // the region survives the resize, clamped
  const std::string b = log_lines(3000, rng);
  ref.write(a);
  c.push(a, sink);
  c.resize(20, 60, sink);
  ref.resize(20, 60);
  fast.resize(20, 60);
  ref.write(b);
  c.push(b, sink);
  c.flush(sink);
  REQUIRE(ref.dump() == fast.dump());
  const std::string more = "\x1b[r" + log_lines(3000, rng);
  ref.write(more);
  c.push(more, sink);
  c.flush(sink);
  REQUIRE(ref.dump() == fast.dump());
  CHECK(c.skipped_bytes() > 0);
}

TEST_CASE("vterm feed: nothing is held or dropped while a line is open", "[vterm_feed]") {
  std::mt19937 rng(18);
  VtermFeedCompactor c(24, 80);
  std::string fed;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fed.append(b); };
  c.set_line_open(true, sink);
  const std::string s = log_lines(5000, rng);
  c.push(s, sink);
  CHECK(c.held_bytes() == 0);
  CHECK(c.skipped_bytes() == 0);
  CHECK(fed == s);
  c.set_line_open(false, sink);
  c.push(s, sink);
  CHECK(c.held_bytes() > 0);  // a long plain run waits for more, or for flush()
  c.flush(sink);
  CHECK(c.held_bytes() == 0);
  CHECK(c.skipped_bytes() > 0);
}

TEST_CASE("vterm feed: short output is held until flush, then passed unchanged", "[vterm_feed]") {
  VtermFeedCompactor c(24, 80);
  std::vector<std::string> writes;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { writes.emplace_back(b); };
  c.push("user@web1:~$ ", sink);
  c.push("l", sink);
  c.push("s", sink);
  c.flush(sink);
  // Same writes as the input: libvterm can tell write boundaries apart.
  CHECK(writes == std::vector<std::string>{"user@web1:~$ ", "l", "s"});
  c.push("\x1b[?2004h$ ", sink);  // not plain: passed at once; "$ " starts a new run
  CHECK(writes.back() == "\x1b[?2004h");
  c.flush(sink);
  CHECK(writes.back() == "$ ");
}

TEST_CASE("vterm feed: a CSI with more than 16 parameters never reaches libvterm", "[vterm_feed]") {
  // libvterm 0.1.4 stores parameters past its 16-entry array and overwrites
  // its callback pointer (a crash, or worse). The 16th separator becomes CAN
  // and the rest of the sequence is dropped; its C0 controls still run.
  std::string params;
  for (int i = 0; i < 40; ++i) params += "1;";
  const std::string evil = "ab\x1b[" + params + "\r31mcd\x1b[" + params + "\x1b[32mef";
  VtermFeedCompactor c(24, 80);
  std::string fed;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fed.append(b); };
  c.push(evil, sink);
  c.flush(sink);
  std::string fifteen;
  for (int i = 0; i < 15; ++i) fifteen += "1;";
  fifteen += "1";
  CHECK(fed == "ab\x1b[" + fifteen + "\x18\rcd\x1b[" + fifteen + "\x18\x1b[32mef");
  CHECK(c.defused_sequences() == 2);
  // Fed to libvterm: no crash, and the screen is that of the stream without
  // the over-long sequences (the CR inside the first one still ran).
  vterm_diff::Term t(24, 80), expect(24, 80);
  t.write(fed);
  expect.write("ab\rcd\x1b[32mef");
  CHECK(t.dump() == expect.dump());
  // A parameter of 19 digits would overflow libvterm's long: the same.
  fed.clear();
  c.push("\x1b[1111111111111111111mX\x1b[111111111111111111mY", sink);
  c.flush(sink);
  CHECK(fed == "\x1b[111111111111111111\x18X\x1b[111111111111111111mY");
  CHECK(c.defused_sequences() == 3);
  // Exactly 16 parameters are passed unchanged.
  fed.clear();
  c.push("\x1b[" + fifteen + "m", sink);
  c.flush(sink);
  CHECK(fed == "\x1b[" + fifteen + "m");
  // Split anywhere, a long stream with such sequences stays exact against
  // the same stream defused without compaction.
  std::mt19937 rng(19);
  std::string s;
  for (int i = 0; i < 3000; ++i) s += (i % 97 == 0) ? "\x1b[" + params + "m" : "line " + std::to_string(i) + "\r\n";
  const Outcome o = run(24, 80, split_random(s, rng, 500), {10, 100});
  require_same(o);
}

TEST_CASE("vterm feed: REP and C1 characters, which break libvterm 0.1.4, are defused", "[vterm_feed]") {
  VtermFeedCompactor c(5, 10);
  std::string fed;
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) { fed.append(b); };
  // REP after a wide glyph at the margin (libvterm writes past the row), and
  // after a lone combining mark (libvterm loops forever): CAN replaces 'b'.
  c.push("wwww\xe4\xb8\xad\r\n\x1b[5b", sink);
  c.push("ab\r\xcc\x81\x1b[5", sink);
  c.push("b!", sink);
  // U+0085 (C2 85) has width -1 in libvterm: the cursor would go to column -1.
  c.push("\xc2", sink);
  c.push("\x85X\xc2\x9f", sink);
  c.flush(sink);
  CHECK(fed == "wwww\xe4\xb8\xad\r\n\x1b[5\x18" "ab\r\xcc\x81\x1b[5\x18!\xc2\xbfX\xc2\xbf");
  CHECK(c.defused_sequences() == 4);
  vterm_diff::Term t(5, 10);
  t.write(fed);  // returns, without a crash
  CHECK(t.dump().find("cursor 1,4") != std::string::npos);
  // Other REP-like sequences (a leader) and U+00A0 pass unchanged.
  fed.clear();
  c.push("\x1b[?5b\xc2\xa0", sink);
  c.flush(sink);
  CHECK(fed == "\x1b[?5b\xc2\xa0");
}

TEST_CASE("vterm feed: chunks over 64 KiB are taken as several chunks", "[vterm_feed]") {
  std::mt19937 rng(20);
  const std::string s = log_lines(10000, rng);
  REQUIRE(s.size() > 3 * VtermFeedCompactor::kMaxChunk);
  VtermFeedCompactor c(24, 80);
  std::size_t biggest = 0;
  vterm_diff::Term ref(24, 80), fast(24, 80);
  const VtermFeedCompactor::Sink sink = [&](std::string_view b) {
    biggest = std::max(biggest, b.size());
    fast.write(b);
  };
  c.set_line_open(true, sink);
  c.push(s, sink);
  CHECK(biggest <= VtermFeedCompactor::kMaxChunk);
  for (const auto& piece : split_fixed(s, VtermFeedCompactor::kMaxChunk)) ref.write(piece);
  CHECK(ref.dump() == fast.dump());
}
