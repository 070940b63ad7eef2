// Fuzzes redact_server_message. For any message: it never throws, stays
// bounded, and keeps one line; a value the server quotes (or bracket-wraps)
// after any text without quotes never reaches the log, whatever follows it.
#include <cstdint>
#include <string>
#include <string_view>

#include "targets/postgres/message_redaction.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }

// Without quotes, brackets, line ends, or the bytes of the "…" the
// redaction writes (a secret made of those would be found in the marks).
std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c != '"' && c != '\'' && c != '(' && c != ')' && c != '\n' && c != '\r' && u != 0xE2 && u != 0x80 && u != 0xA6)
      out += c;
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string any = bastion::redact_server_message("22P02", in, "");
  if (any.size() > 600 || any.find('\n') != std::string::npos) fail();
  if (!bastion::redact_server_message("P0001", in, "").empty() ||
      !bastion::redact_server_message("22P02", in, "PL/pgSQL function f() line 3 at RAISE").empty()) fail();  // RAISE text is never kept

  // prefix "secret" suffix, and prefix (secret) suffix.
  const std::size_t a = size / 3, b = 2 * size / 3;
  const std::string prefix = clean(in.substr(0, a)), secret = clean(in.substr(a, b - a));
  const std::string suffix(in.substr(b));
  if (secret.size() < 4 || prefix.size() > 200) return 0;
  for (const char* q : {"\"\"", "''", "()"}) {
    const std::string msg = prefix + q[0] + secret + q[1] + suffix;
    const std::string out = bastion::redact_server_message("23505", msg, "");
    if (out.find(secret) != std::string::npos && (prefix + suffix).find(secret) == std::string::npos) fail();
  }
  return 0;
}
