#include "filters/stream_replacer.h"

namespace bastion {

namespace {

constexpr std::size_t kNone = std::string::npos;

unsigned byte(const std::string& b, std::size_t i) { return static_cast<unsigned char>(b[i]); }

// Moves x back to the start of the UTF-8 character it falls inside (not
// before lo), so a released piece never ends inside a character.
std::size_t char_start(const std::string& b, std::size_t x, std::size_t lo) {
  if (x >= b.size() || (byte(b, x) & 0xC0) != 0x80) return x;
  for (std::size_t back = 1; back <= 3 && back <= x && x - back >= lo; ++back) {
    const unsigned c = byte(b, x - back);
    if ((c & 0xC0) == 0x80) continue;
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len > back ? x - back : x;
  }
  return x;
}

// How far RE2::GlobalReplace steps over an empty match that follows a match:
// one character, or one byte where the text is not valid UTF-8. Sets
// `truncated` when the character may continue past `end`.
std::size_t step_over(const std::string& b, std::size_t s, std::size_t end, bool& truncated) {
  truncated = false;
  const unsigned c = byte(b, s);
  const std::size_t len = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 1;
  for (std::size_t k = 1; k < len; ++k) {
    if (s + k >= end) {
      truncated = true;
      return 1;
    }
    const unsigned d = byte(b, s + k);
    if ((d & 0xC0) != 0x80) return 1;
    // Overlong forms and code points past U+10FFFF are not characters.
    if (k == 1 && ((c == 0xE0 && d < 0xA0) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F))) return 1;
  }
  return len;
}

}  // namespace

void StreamReplacer::write(std::string_view in, std::string& out) {
  buf_.append(in);
  unsearched_ += in.size();
  if (unsearched_ > search_every(p_->hold)) run(out, false);
}

void StreamReplacer::finish(std::string_view in, std::string& out) {
  buf_.append(in);
  run(out, true);
}

void StreamReplacer::run(std::string& out, bool final) {
  unsearched_ = 0;
  const RE2& re = *p_->re;
  const std::size_t end = buf_.size();
  // Matches starting before `settled` cannot change with more output.
  const std::size_t settled = final ? end + 1 : end - context_ > p_->hold ? end - p_->hold : context_;
  std::size_t pos = context_;  // first byte not yet released
  std::size_t last_end = after_match_ ? context_ : kNone;
  re2::StringPiece vec[3];
  while (pos < settled) {
    const bool found = re.Match(buf_, pos, end, RE2::UNANCHORED, vec, p_->nvec);
    const std::size_t s = found ? static_cast<std::size_t>(vec[0].data() - buf_.data()) : kNone;
    searched_ += (found ? s + vec[0].size() : end) - pos;
    if (!found || s >= settled) {  // nothing settled matches: release up to `settled`
      const std::size_t to = final ? end : char_start(buf_, settled, pos);
      out.append(buf_, pos, to - pos);
      pos = to;
      break;
    }
    out.append(buf_, pos, s - pos);
    pos = s;
    if (vec[0].empty() && s == last_end) {  // as GlobalReplace: no empty match right after a match
      if (s == end) {  // only when final
        pos = end;
        break;
      }
      bool truncated = false;
      const std::size_t n = step_over(buf_, s, end, truncated);
      if (truncated && !final) break;
      out.append(buf_, s, n);
      pos = s + n;
      continue;
    }
    re.Rewrite(&out, p_->rewrite, vec, p_->nvec);
    pos = last_end = s + vec[0].size();
  }
  if (final && pos < end) {
    out.append(buf_, pos, end - pos);
    pos = end;
  }
  // Keep the byte before the held text as context for the next search.
  after_match_ = last_end == pos;
  if (pos > 0) {
    buf_.erase(0, pos - 1);
    context_ = 1;
  }
}

}  // namespace bastion
