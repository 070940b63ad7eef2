#include "common/json_ascii.h"

namespace bastion {

bool append_ascii_json_string(std::string& out, std::string_view t, JsonDel del) {
  static constexpr char hex[] = "0123456789abcdef";
  const unsigned char first_escaped_high = del == JsonDel::raw ? 0x80 : 0x7f;
  out += '"';
  std::size_t i = 0;
  while (i < t.size()) {
    // Runs of plain bytes are copied whole.
    std::size_t run = i;
    while (run < t.size()) {
      const auto c = static_cast<unsigned char>(t[run]);
      if (c < 0x20 || c >= first_escaped_high || c == '"' || c == '\\') break;
      ++run;
    }
    out.append(t.data() + i, run - i);
    if (run == t.size()) break;
    const auto c = static_cast<unsigned char>(t[run]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x80) return false;
        out += "\\u00";  // other control bytes, and DEL when escaped
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    i = run + 1;
  }
  out += '"';
  return true;
}

}  // namespace bastion
