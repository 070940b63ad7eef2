#include "web/web_auth.h"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/openssl_handles.h"

namespace bastion {
namespace {

std::string digest(const std::string& secret) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  unsigned int len = 0;
  if (EVP_Digest(secret.data(), secret.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(md), len);
}

// Only what random_hex256 makes is ever looked up.
bool well_formed(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string random_hex256() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  std::string out = hex_encode(b, sizeof b);
  OPENSSL_cleanse(b, sizeof b);
  return out;
}

void WebAuth::sweep(int64_t now) {
  std::erase_if(tokens_, [now](const auto& kv) { return kv.second.expires_at <= now; });
  std::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires_at <= now; });
}

std::string WebAuth::issue_token(const std::string& identity, int64_t cert_expires_at, int64_t now) {
  if (identity.empty() || cert_expires_at <= now + kTokenTtl) return {};
  std::string token = random_hex256();
  const std::string key = digest(token);
  if (token.empty() || key.empty()) return {};
  std::lock_guard<std::mutex> g(mu_);
  sweep(now);
  while (tokens_.size() >= kMaxTokens) {
    const auto oldest = std::min_element(tokens_.begin(), tokens_.end(),
                                         [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
    tokens_.erase(oldest);
  }
  tokens_[key] = Pending{identity, cert_expires_at, now + kTokenTtl, ++order_};
  return token;
}

std::optional<WebAuth::Login> WebAuth::redeem(const std::string& token, int64_t now) {
  if (!well_formed(token)) return std::nullopt;
  const std::string key = digest(token);
  std::string cookie = random_hex256();
  const std::string cookie_key = digest(cookie);
  if (key.empty() || cookie.empty() || cookie_key.empty()) return std::nullopt;
  std::lock_guard<std::mutex> g(mu_);
  sweep(now);
  const auto it = tokens_.find(key);
  if (it == tokens_.end()) return std::nullopt;
  const Pending p = it->second;
  tokens_.erase(it);  // used, whatever follows
  const int64_t ends = std::min(now + session_ttl_, p.cert_expires_at);
  if (ends <= now) return std::nullopt;
  while (sessions_.size() >= kMaxSessions) {
    const auto first = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.expires_at < b.second.expires_at;
    });
    sessions_.erase(first);
  }
  WebSession s{p.identity, ends};
  sessions_[cookie_key] = s;
  return Login{std::move(cookie), s};
}

std::optional<WebSession> WebAuth::session(const std::string& cookie, int64_t now) {
  if (!well_formed(cookie)) return std::nullopt;
  const std::string key = digest(cookie);
  std::lock_guard<std::mutex> g(mu_);
  sweep(now);
  const auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

bool WebAuth::logout(const std::string& cookie) {
  if (!well_formed(cookie)) return false;
  const std::string key = digest(cookie);
  std::lock_guard<std::mutex> g(mu_);
  return sessions_.erase(key) > 0;
}

std::size_t WebAuth::tokens() const {
  std::lock_guard<std::mutex> g(mu_);
  return tokens_.size();
}

std::size_t WebAuth::sessions() const {
  std::lock_guard<std::mutex> g(mu_);
  return sessions_.size();
}

}  // namespace bastion
