#include "targets/postgres/message_redaction.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxLogged = 512;

// SQLSTATE classes of errors PostgreSQL raises with fixed message templates
// (00/01/02 are notices, warnings and no-data: RAISE's levels).
bool server_written(std::string_view s) {
  if (s.size() != 5) return false;
  static constexpr std::string_view kClasses[] = {"03", "08", "09", "0A", "0B", "0F", "0L", "0P",
                                                 "0Z", "20", "21", "22", "23", "24", "25", "26", "27", "28", "2B",
                                                 "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "40", "42", "44",
                                                 "53", "54", "55", "57", "58", "72", "F0", "HV", "XX"};
  for (auto c : kClasses)
    if (s.substr(0, 2) == c) return true;
  return false;
}

}  // namespace

std::string redact_server_message(std::string_view sqlstate, std::string_view message, std::string_view context) {
  if (!context.empty() || !server_written(sqlstate)) return {};
  std::string out;
  char close = 0;  // the quote or bracket being skipped
  int depth = 0;
  for (char c : message.substr(0, 4 * kMaxLogged)) {
    if (close) {
      if (c == '(' && close == ')') ++depth;
      if (c == close && (close != ')' || depth-- == 0)) {
        out += close;
        close = 0;
        depth = 0;
      }
      continue;
    }
    if (c == '\n' || c == '\r') break;  // the primary line only
    out += c;
    if (c == '"' || c == '\'') close = c, out += "…";
    else if (c == '(') close = ')', out += "…";
  }
  if (close) out += "…";  // cut inside a value: nothing of it shows
  if (out.size() > kMaxLogged) out = out.substr(0, kMaxLogged) + "…";
  return out;
}

}  // namespace bastion
