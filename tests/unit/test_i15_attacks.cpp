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
