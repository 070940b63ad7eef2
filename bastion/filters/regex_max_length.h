// The longest text, in bytes, that an RE2 pattern can match. The masking
// filter holds back only this much of the output to catch a match split
// across reads, however long the line.
//
// A small reading of RE2's syntax (re2/parse.cc, UTF-8 mode, Perl flags), not
// a regex engine: literals, escapes, classes, groups, flags, alternation and
// repetition. The answer is an upper bound that is never too small for a
// pattern RE2 accepts; anything the analyzer does not understand, and any
// repetition without an upper bound, makes the pattern "unbounded".
#pragma once
#include <cstddef>
#include <string_view>

namespace bastion {

struct RegexLength {
  bool bounded = false;      // false: * + {n,} or syntax not understood
  std::size_t max_bytes = 0; // when bounded: no match is longer than this
  // $ \z \b \B: whether a match ends where it ends can depend on the byte
  // after it, so a streaming matcher must see one byte past a match.
  bool reads_past_end = false;
};

RegexLength regex_max_length(std::string_view pattern);

}  // namespace bastion
