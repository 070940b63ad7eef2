#include "targets/http/http_token_cache.h"

#include <strings.h>

namespace bastion {

std::optional<std::string> HttpTokenCache::token_for_repository(const std::string& repository) {
  std::lock_guard<std::mutex> lk(m_);
  const auto s = scope_of_repo_.find(repository);
  if (s == scope_of_repo_.end()) return std::nullopt;
  const auto e = by_scope_.find(s->second);
  if (e == by_scope_.end() || e->second.expires <= std::chrono::steady_clock::now()) return std::nullopt;
  return e->second.token.bytes;
}

void HttpTokenCache::put(const std::string& repository, const std::string& scope, const std::string& token,
                         std::chrono::seconds lifetime) {
  std::lock_guard<std::mutex> lk(m_);
  // A margin so a token is not used in its last seconds.
  const auto margin = std::min<std::chrono::seconds>(lifetime / 4, std::chrono::seconds(30));
  Entry& e = by_scope_[scope];
  e.token.bytes = token;
  e.expires = std::chrono::steady_clock::now() + lifetime - margin;
  scope_of_repo_[repository] = scope;
}

std::optional<std::map<std::string, std::string>> parse_bearer_challenge(const std::string& v) {
  if (v.size() < 7 || strncasecmp(v.c_str(), "Bearer ", 7) != 0) return std::nullopt;
  std::map<std::string, std::string> out;
  std::size_t i = 7;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == ',')) ++i;
    const auto eq = v.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = v.substr(i, eq - i);
    i = eq + 1;
    std::string val;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        val += v[i++];
      }
      ++i;
    } else {
      const auto end = v.find(',', i);
      val = v.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? v.size() : end;
    }
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[key] = val;
  }
  return out;
}

}  // namespace bastion
