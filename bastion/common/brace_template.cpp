#include "common/brace_template.h"

#include <algorithm>

namespace bastion {
namespace {

// Walks `tmpl`: literal text to `text`, each placeholder's name to `name`
// (which returns false for a name it does not know). The error, or "".
template <typename Text, typename Name>
std::string walk(std::string_view tmpl, Text text, Name name) {
  for (std::size_t i = 0; i < tmpl.size();) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      text(tmpl.substr(i, 1));
      i += 2;
      continue;
    }
    if (c == '}') return "a lone } at character " + std::to_string(i + 1) + " (write }} for a brace)";
    if (c != '{') {
      const std::size_t next = tmpl.find_first_of("{}", i);
      text(tmpl.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i));
      i = next == std::string_view::npos ? tmpl.size() : next;
      continue;
    }
    const std::size_t close = tmpl.find('}', i + 1);
    if (close == std::string_view::npos) return "an unclosed { at character " + std::to_string(i + 1);
    const std::string_view n = tmpl.substr(i + 1, close - i - 1);
    if (!name(n)) return "unknown placeholder {" + std::string(n) + "}";
    i = close + 1;
  }
  return "";
}

}  // namespace

std::string brace_template_error(std::string_view tmpl, const std::vector<std::string_view>& names) {
  std::string e = walk(tmpl, [](std::string_view) {},
                       [&](std::string_view n) { return std::find(names.begin(), names.end(), n) != names.end(); });
  if (e.starts_with("unknown placeholder")) {
    e += " (known:";
    for (const auto n : names) e += " {" + std::string(n) + "}";
    e += ")";
  }
  return e;
}

std::string brace_template_expand(std::string_view tmpl, const std::function<std::string(std::string_view)>& value) {
  std::string out;
  walk(tmpl, [&](std::string_view t) { out += t; },
       [&](std::string_view n) {
         out += value(n);
         return true;
       });
  return out;
}

}  // namespace bastion
