#include "recorder/newline_translator.h"

#include <cstring>

namespace recorder {

std::optional<OutputNewlines> newlines_from_header(std::string_view value) {
  if (value == kNewlinesCrlf) return OutputNewlines::crlf;
  return std::nullopt;
}

std::string lf_to_crlf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 16 + 2);
  // Whole runs between newlines at once (memchr): this is on the output
  // path of every channel without a pty.
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p < end) {
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!nl) {
      out.append(p, static_cast<std::size_t>(end - p));
      break;
    }
    out.append(p, static_cast<std::size_t>(nl - p));
    out += "\r\n";
    p = nl + 1;
  }
  return out;
}

void CrlfUndo::feed(std::string_view bytes, std::string& out) {
  for (const char c : bytes) {
    if (c == '\n') {
      // The '\r' just before it was added by lf_to_crlf: drop it.
      if (!cr_held_ && ok()) bare_lf_at_ = offset_;
      cr_held_ = false;
      out += '\n';
    } else {
      if (cr_held_) out += '\r';
      cr_held_ = c == '\r';
      if (!cr_held_) out += c;
    }
    ++offset_;
  }
}

void CrlfUndo::finish(std::string& out) {
  if (cr_held_) out += '\r';
  cr_held_ = false;
}

}  // namespace recorder
