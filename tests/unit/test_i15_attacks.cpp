// Issue 15 attack review: terminal queries the recording filter lets through
// to the auditor's terminal (`recording cat` / `recording play`). Each one
// below is answered by xterm (ctlseqs), so the answer would be typed into
// the auditor's shell.
#include <catch2/catch.hpp>

#include "recorder/terminal_query_filter.h"

using recorder::TerminalQueryFilter;

namespace {

// The answer for `in` whole; the same when cut at any point.
std::string filter_whole(std::string_view in) {
  std::string whole;
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    TerminalQueryFilter f;
    std::string out;
    f.feed(in.substr(0, cut), out);
    f.feed(in.substr(cut), out);
    f.finish(out);
    if (cut == 0) whole = out;
    INFO("cut at " << cut);
    REQUIRE(out == whole);
  }
  return whole;
}

}  // namespace

TEST_CASE("i15 attack: XTGETXRES (DCS + Q) is a query", "[query_filter][i15_attack]") {
  // xterm answers DCS 1 + R <name>=<value> ST.
  CHECK(filter_whole("a\x1bP+Q666f6e74\x1b\\b") == "ab");
  CHECK(filter_whole("a\xc2\x90+Q666f6e74\xc2\x9c" "b") == "ab");
}

TEST_CASE("i15 attack: XTQALLOWED / XTQDISALLOWED (OSC 60, OSC 61) are queries", "[query_filter][i15_attack]") {
  // xterm answers OSC 60 ; <list> ST.
  CHECK(filter_whole("a\x1b]60\x07" "b") == "ab");
  CHECK(filter_whole("a\x1b]61\x1b\\b") == "ab");
}

TEST_CASE("i15 attack: XTREPORTCOLORS (CSI # R) and XTREPORTSGR (CSI # |) are queries", "[query_filter][i15_attack]") {
  // xterm answers CSI Pm # Q, and an SGR report.
  CHECK(filter_whole("a\x1b[#R" "b") == "ab");
  CHECK(filter_whole("a\x1b[1;1;1;10#|" "b") == "ab");
}

TEST_CASE("i15 attack: look-alikes of the new queries still pass", "[query_filter][i15_attack]") {
  for (const char* k : {"\x1bP+p\x1b\\", "\x1b]600;x\x07", "\x1b]6;1\x07", "\x1b[#P", "\x1b[#Q"}) {
    INFO("kept " << std::string(k));
    CHECK(filter_whole(k) == k);
  }
}

// --- recording cat --raw at the size cap ----------------------------------

#include <sstream>

#include "recorder/asciicast_reader.h"
#include "recorder/asciicast_writer.h"
#include "memory_line_sink.h"

namespace {

using testutil::MemorySink;

}  // namespace

TEST_CASE("i15 attack: --raw never shows replacement characters the target did not send", "[asciicast][i15_attack]") {
  // Output that is not UTF-8 is written as an "o" event with U+FFFD and a
  // "b" event with the exact bytes. When the size cap falls between the two
  // lines, the "o" line stays alone: `recording cat --raw` then prints
  // EF BF BD where the target sent FF, silently (claim 4: exact bytes).
  const std::string sent(200, '\xff');
  int bad_caps = 0, first_bad = 0;
  for (uint64_t cap = 400; cap < 2000; cap += 7) {
    std::string text;
    recorder::AsciicastWriter w(std::make_unique<MemorySink>(text), recorder::AsciicastHeader{}, cap,
                                [] { return 0.0; });
    w.output(sent);
    w.finish();
    std::istringstream in(text);
    std::string err;
    const auto cast = recorder::read_asciicast(in, err);
    INFO("cap " << cap << ": " << err << "\n" << text);
    REQUIRE(cast);
    const auto raw = recorder::asciicast_raw_output(*cast, err);
    // Exact bytes (a prefix, the cap cut the rest), or an error: never others.
    if (raw && sent.compare(0, raw->size(), *raw) != 0) {
      if (!bad_caps++) first_bad = static_cast<int>(cap);
    }
  }
  INFO("first cap with altered bytes: " << first_bad);
  CHECK(bad_caps == 0);
}
