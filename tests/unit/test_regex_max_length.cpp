#include <catch2/catch.hpp>

#include <re2/re2.h>

#include "filters/regex_max_length.h"

using namespace bastion;

namespace {

struct Case {
  const char* pattern;
  std::size_t max;  // longest match in bytes
  bool past_end;    // looks at the byte after a match
};

}  // namespace

TEST_CASE("regex_max_length: exact bounds for bounded patterns", "[mask][regex]") {
  const Case cases[] = {
      {"AKIA[0-9A-Z]{16}", 20, false},
      {"abc", 3, false},
      {"é€😀", 2 + 3 + 4, false},
      {"a|bcd|ef", 3, false},
      {"(?:ab){3}", 6, false},
      {"(ab){2,5}", 10, false},
      {"(?P<name>ab)c?", 3, false},
      {"a{0}b", 1, false},
      {"a??b{2,3}?", 4, false},
      {"(a|bc)(d|ef)?", 4, false},
      {".", 4, false},
      {"(?s).{10}", 40, false},
      {"\\C{3}", 3, false},
      {"[a-z]", 1, false},
      {"[^a]", 4, false},
      {"[]a-]x", 2, false},
      {"[[:alpha:]]{5}", 5, false},
      {"[[:^alpha:]]", 4, false},
      {"[é-ë]", 2, false},
      {"[\\x{10000}-\\x{10FFF}]", 4, false},
      {"\\d{4}\\w\\s", 6, false},
      {"\\D|\\S|\\W", 4, false},
      {"\\pN\\p{Greek}\\PL\\p{^Han}", 16, false},
      {"\\x41\\xe9\\x{20AC}\\x{1F600}", 1 + 2 + 3 + 4, false},
      {"\\101\\0777\\n\\t\\.", 6, false},  // A, \077 then 7, newline, tab, .
      {"\\Qa.b*\\E", 4, false},
      {"\\Q€", 3, false},
      {"a{01}", 5, false},            // not a repetition: literal "a{01}"
      {"a{1,2", 5, false},            // likewise
      {"x{100000000000}", 15, false}, // too big to be a count: literal
      {"^abc$", 3, true},
      {"\\bfoo\\B", 3, true},
      {"\\Afoo\\z", 3, true},
      {"(?m)^a$", 1, true},
      {"(?:)|^*", 0, false},
      {"(?i)k", 3, false},   // KELVIN SIGN
      {"(?i)s", 2, false},   // LATIN SMALL LETTER LONG S
      {"(?i)ab", 2, false},
      {"(?i)[a-j]", 1, false},
      {"(?i)[a-z]", 3, false},
      {"(?i:k)k", 4, false},
      {"(?i)\\w", 3, false},
      {"(?i)é", 3, false},
      {"(?i)(?-i)k", 1, false},
      {"(a(?i)k)k", 1 + 3 + 1, false},  // the flag ends with its group
      {"\\b(?:\\d[ -]?){13,16}\\b", 32, true},
  };
  for (const auto& c : cases) {
    INFO(c.pattern);
    REQUIRE(RE2(c.pattern, RE2::Quiet).ok());
    const RegexLength len = regex_max_length(c.pattern);
    CHECK(len.bounded);
    CHECK(len.max_bytes == c.max);
    CHECK(len.reads_past_end == c.past_end);
  }
}

TEST_CASE("regex_max_length: repetition without a bound, and what it cannot read", "[mask][regex]") {
  for (const char* p : {"a*", "a+", "a{3,}", "(?i)bearer [A-Za-z0-9._~+/-]{16,}=*", "-----BEGIN [A-Z ]*PRIVATE KEY-----",
                        "(?i)((?:password|passwd|secret|token)\\s*[=:]\\s*)\\S+", "(ab|c+)d"}) {
    INFO(p);
    REQUIRE(RE2(p, RE2::Quiet).ok());
    CHECK_FALSE(regex_max_length(p).bounded);
  }
  // Repeating something that matches only the empty string stays empty.
  CHECK(regex_max_length("\\b+").bounded);
  CHECK(regex_max_length("(?:^)*").max_bytes == 0);
  for (const char* p : {"(", "a)", "[a", "\\", "*a", "\\e", "(?x)a", "(?P<n", "\xff", "a|*", "[z-a]"}) {
    INFO(p);
    const RegexLength len = regex_max_length(p);
    CHECK_FALSE(len.bounded);
    CHECK(len.reads_past_end);
  }
}

TEST_CASE("regex_max_length: the bound holds for what RE2 matches", "[mask][regex]") {
  RE2::Options longest;
  longest.set_longest_match(true);
  longest.set_log_errors(false);
  const std::pair<const char*, std::string> cases[] = {
      {"(?i)k{3}", "\xE2\x84\xAA\xE2\x84\xAA\xE2\x84\xAA"},  // three KELVIN SIGNs: 9 bytes
      {"(?i)[r-t]{2}", "\xC5\xBF\xC5\xBF"},                  // two LONG Ss
      {"(?i)\\x{e5}", "\xE2\x84\xAB"},                       // ANGSTROM SIGN
      {"[^a]{2}", "😀😀"},
      {"(?m)^\\w{2,3}$", "abc"},
  };
  for (const auto& [pattern, subject] : cases) {
    INFO(pattern);
    RE2 re(pattern, longest);
    re2::StringPiece m;
    REQUIRE(re.Match(subject, 0, subject.size(), RE2::ANCHOR_BOTH, &m, 1));
    CHECK(m.size() == regex_max_length(pattern).max_bytes);
  }
}
