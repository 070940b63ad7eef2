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

TEST_CASE("strings: clip_untrusted bounds what a client sends, noting the full length", "[strings]") {
  CHECK(clip_untrusted("") == "");
  CHECK(clip_untrusted("alice") == "alice");
  const std::string exact(kMaxUntrustedBytes, 'u');
  CHECK(clip_untrusted(exact) == exact);  // at the bound: unchanged, no note
  CHECK(clip_untrusted(exact + "u") == exact + "\xe2\x80\xa6(257 bytes)");
  const std::string huge = "big" + std::string(200000, 'u');
  const std::string clipped = clip_untrusted(huge);
  CHECK(clipped == huge.substr(0, 256) + "\xe2\x80\xa6(200003 bytes)");
  CHECK(clip_untrusted("abcdef", 3) == "abc\xe2\x80\xa6(6 bytes)");
}

TEST_CASE("strings: clip_untrusted never splits a UTF-8 character", "[strings]") {
  // "é" is 2 bytes, "€" 3, "😀" 4: a cut inside one backs up to its start.
  CHECK(clip_untrusted("a\xc3\xa9z", 2) == "a\xe2\x80\xa6(4 bytes)");
  CHECK(clip_untrusted("a\xc3\xa9z", 3) == "a\xc3\xa9\xe2\x80\xa6(4 bytes)");
  CHECK(clip_untrusted("\xe2\x82\xac\xe2\x82\xac", 4) == "\xe2\x82\xac\xe2\x80\xa6(6 bytes)");
  CHECK(clip_untrusted("x\xf0\x9f\x98\x80y", 4) == "x\xe2\x80\xa6(6 bytes)");
  CHECK(clip_untrusted("x\xf0\x9f\x98\x80y", 5) == "x\xf0\x9f\x98\x80\xe2\x80\xa6(6 bytes)");
  // Not UTF-8 (continuation bytes only): cut at most 3 bytes early, never
  // reaching back further.
  CHECK(clip_untrusted(std::string(10, '\x80'), 6) == std::string(3, '\x80') + "\xe2\x80\xa6(10 bytes)");
}
