// Text for a user's pty: the bastion is the far end of it, so it does the
// tty's newline translation (LF -> CR LF) itself.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

inline std::string crlf(std::string_view text) {
  std::string t;
  t.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    if (c == '\n') t += '\r';
    t += c;
  }
  return t;
}

}  // namespace bastion
