#include "config/s3_store_names.h"

namespace bastion {
namespace {

bool word_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

}  // namespace

std::optional<std::string> s3_prefix_problem(std::string_view prefix) {
  if (prefix.empty()) return std::nullopt;
  if (prefix.size() > 256) return "at most 256 characters";
  if (prefix.back() != '/') return "must end with \"/\"";
  std::string_view rest = prefix;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view word = rest.substr(0, slash);
    if (word.empty()) return "empty path segment (\"//\" or a leading \"/\")";
    if (word == "." || word == "..") return "\".\" and \"..\" segments are not allowed";
    for (char c : word)
      if (!word_char(c)) return "only letters, digits, \".\", \"_\", \"-\" and \"/\" are allowed";
    rest.remove_prefix(slash + 1);
  }
  return std::nullopt;
}

std::optional<std::string> s3_bucket_problem(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return "expected 3 to 63 characters";
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return "only lowercase letters, digits, \".\" and \"-\" are allowed";
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return "must start and end with a letter or digit";
  return std::nullopt;
}

std::optional<std::string> s3_endpoint_problem(std::string_view e) {
  std::string_view rest;
  if (e.starts_with("https://")) rest = e.substr(8);
  else if (e.starts_with("http://")) rest = e.substr(7);
  else return "expected \"http://HOST[:PORT]\" or \"https://HOST[:PORT]\"";
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty()) return "no host";
  for (char c : rest)
    if (!(word_char(c) || c == ':' || c == '[' || c == ']'))
      return "expected only a host and a port (no path, user or query)";
  return std::nullopt;
}

}  // namespace bastion
