// Issue 15 attack review: terminal queries the recording filter lets through
// to the auditor's terminal (`recording cat` / `recording play`). Each one
// below is answered by xterm (ctlseqs), so the answer would be typed into
// the auditor's shell.
#include <catch2/catch.hpp>

#include "recorder/terminal_query_filter.h"

using recorder::TerminalQueryFilter;

namespace {

std::string filter_whole(std::string_view in) {
  TerminalQueryFilter f;
  std::string out;
  f.feed(in, out);
  f.finish(out);
  return out;
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

TEST_CASE("i15 attack: XTREPORTCOLORS (CSI # R) is a query", "[query_filter][i15_attack]") {
  // xterm answers CSI Pm # Q.
  CHECK(filter_whole("a\x1b[#R" "b") == "ab");
}
