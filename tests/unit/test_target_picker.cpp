// The target picker as a state machine: keys in, screen out.
#include <catch2/catch.hpp>

#include "sources/target_picker.h"

using namespace bastion;

namespace {
const std::string kHome = "\x1b[H\x1b[2J";
const std::string kTitle = "bastion: pick a target (type to filter, arrows move, Enter connects, Esc quits)\r\n";
}  // namespace

TEST_CASE("picker: sorted list, arrows move, Enter chooses", "[picker]") {
  TargetPicker p({"web1", "db1", "web2"});
  CHECK(p.screen() == kHome + kTitle + "filter: \r\n\r\n> db1\r\n  web1\r\n  web2\r\n");
  p.feed("\x1b[B");
  CHECK(p.screen() == kHome + kTitle + "filter: \r\n\r\n  db1\r\n> web1\r\n  web2\r\n");
  p.feed("\x1b[B\x1b[B\x1b[B");  // stops at the last
  CHECK(p.selected() == 2);
  p.feed("\x1bOA");  // application-mode cursor keys too
  CHECK(p.selected() == 1);
  CHECK_FALSE(p.done());
  p.feed("\r");
  REQUIRE(p.chosen());
  CHECK(*p.chosen() == "web1");
  CHECK(p.screen() == kHome);
  p.feed("\x1b[A\r");  // done: nothing changes
  CHECK(*p.chosen() == "web1");
}

TEST_CASE("picker: typing filters case-insensitively, backspace and Ctrl-U edit", "[picker]") {
  TargetPicker p({"web1", "db1", "web2"});
  p.feed("WEB");
  CHECK(p.matches() == std::vector<std::string>{"web1", "web2"});
  CHECK(p.screen() == kHome + kTitle + "filter: WEB\r\n\r\n> web1\r\n  web2\r\n");
  p.feed("3");
  CHECK(p.screen() == kHome + kTitle + "filter: WEB3\r\n\r\n  (no target matches)\r\n");
  p.feed("\r");  // nothing to choose
  CHECK_FALSE(p.done());
  p.feed("\x7f" "2");
  CHECK(p.matches() == std::vector<std::string>{"web2"});
  p.feed("\x15");
  CHECK(p.filter().empty());
  CHECK(p.matches().size() == 3);
  p.feed("q");  // q only quits on an empty filter...
  CHECK(p.quit());
  TargetPicker t({"aqua"});
  t.feed("aq\r");  // ...otherwise it is typed
  CHECK(*t.chosen() == "aqua");
}

TEST_CASE("picker: Ctrl-C or Ctrl-D or a lone Esc quits", "[picker]") {
  for (const std::string k : {"\x03", "\x04", "\x1b", "\x1bx"}) {
    TargetPicker p({"web1"});
    p.feed(k);
    CHECK(p.quit());
    CHECK_FALSE(p.chosen());
    CHECK(p.screen() == kHome);
  }
}

TEST_CASE("picker: a short terminal scrolls with the selection", "[picker]") {
  TargetPicker p({"a", "b", "c", "d", "e"}, 6);  // 3 header rows, 2 list rows
  p.feed("\x1b[B\x1b[B\x1b[B");
  CHECK(p.screen() == kHome + kTitle + "filter: \r\n\r\n  c\r\n> d\r\n");
  p.resize(24);
  CHECK(p.screen() == kHome + kTitle + "filter: \r\n\r\n  a\r\n  b\r\n  c\r\n> d\r\n  e\r\n");
  // Unknown sequences (F1, Home) and controls are ignored.
  p.feed("\x1b[11~\x1b[H\t\x01");
  CHECK(p.selected() == 3);
  CHECK(p.filter().empty());
}
