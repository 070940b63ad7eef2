// Fuzzes the analyzer that bounds how long a mask pattern's match can be (the
// masking filter holds back that much output): it must never crash, and for a
// pattern RE2 accepts and the analyzer calls bounded, RE2 must never match
// more bytes than the bound, nor a match end depend on the next byte unless
// the analyzer says so. And the masking filter, fed the subject in pieces,
// must give what masking the whole subject gives.
// Input: pattern, a NUL byte, then a subject (no NUL: the pattern is the subject).
#include <cstdint>
#include <string>
#include <string_view>

#include <re2/re2.h>

#include "filters/masking_filter.h"
#include "filters/regex_max_length.h"

namespace {

void check(const RE2& re, const bastion::RegexLength& len, const std::string& subject) {
  re2::StringPiece m;
  for (std::size_t start = 0; start <= subject.size(); ++start) {
    if (!re.Match(subject, start, subject.size(), RE2::ANCHOR_START, &m, 1)) continue;
    if (m.size() > len.max_bytes) __builtin_trap();
    if (len.reads_past_end) continue;
    // Without $ \b \B \z the match is the same when the text stops right after it.
    const std::string cut = subject.substr(0, start + m.size());
    re2::StringPiece again;
    if (!re.Match(cut, start, cut.size(), RE2::ANCHOR_START, &again, 1) || again.size() != m.size())
      __builtin_trap();
  }
}

// The subject in pieces of 1 to 13 bytes, then the end of the stream.
void check_streaming(const std::string& pattern, const std::string& subject) {
  const std::vector<bastion::MaskRule> rules{{pattern, "<\\1>"}};
  bastion::MaskingFilter whole(rules), pieces(rules);
  std::string expected = subject;
  whole.mask(expected);
  std::string got;
  unsigned step = static_cast<unsigned>(pattern.size());
  for (std::size_t at = 0; at < subject.size();) {
    step = step * 1103515245u + 12345u;
    std::string piece = subject.substr(at, 1 + (step >> 16) % 13);
    at += piece.size();
    pieces.filter(bastion::Stream::out, piece);
    got += piece;
    if (pieces.held(bastion::Stream::out) > pieces.max_held()) __builtin_trap();
  }
  std::string tail;
  pieces.flush(bastion::Stream::out, tail);
  if (got + tail != expected) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string pattern(in.substr(0, nul));
  const std::string subject(nul == std::string_view::npos ? in : in.substr(nul + 1));
  const bastion::RegexLength len = bastion::regex_max_length(pattern);
  if (pattern.size() > 512 || subject.size() > 1024) return 0;  // keep each run cheap
  RE2::Options o;  // as the masking filter compiles patterns
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);
  const RE2 first(pattern, o);
  if (!first.ok()) return 0;
  check_streaming(pattern, subject);  // any pattern: the subject is shorter than the cap
  if (!len.bounded) return 0;
  o.set_longest_match(true);
  const RE2 longest(pattern, o);
  for (const std::string& s : {subject, subject + subject, pattern}) {
    check(first, len, s);
    if (longest.ok()) check(longest, len, s);
  }
  return 0;
}
