#include "web/web_cookie.h"

namespace bastion {

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  std::optional<std::string> found;
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    if (found) return std::nullopt;
    found = std::string(pair.substr(eq + 1));
  }
  return found;
}

}  // namespace bastion
