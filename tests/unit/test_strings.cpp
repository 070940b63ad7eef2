#include <catch2/catch.hpp>

#include "common/strings.h"

using namespace bastion;
using V = std::vector<std::string>;

TEST_CASE("strings: join puts the separator between items only", "[strings]") {
  CHECK(join({}, ",").empty());
  CHECK(join({"a"}, ",") == "a");
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join({"", "a", ""}, ",") == ",a,");  // empty items keep their place
}

TEST_CASE("strings: split_commas drops empty items and trims nothing", "[strings]") {
  CHECK(split_commas("").empty());
  CHECK(split_commas(",,").empty());
  CHECK(split_commas("a") == V{"a"});
  CHECK(split_commas("a,b,,c,") == V{"a", "b", "c"});
  CHECK(split_commas(",a, b") == V{"a", " b"});
  CHECK(split_commas(join({"x", "y z"}, ",")) == V{"x", "y z"});
}

TEST_CASE("strings: trim removes spaces, tabs, CR and LF at both ends", "[strings]") {
  CHECK(trim("").empty());
  CHECK(trim(" \t\r\n").empty());
  CHECK(trim("a") == "a");
  CHECK(trim("\t a b \r\n") == "a b");
  CHECK(trim("\va\f") == "\va\f");  // other control characters stay
  CHECK(trim("x;  ") == "x;");
}
