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

// At `limit` entries for `identity`, its oldest goes: the others' are untouched.
template <typename Map, typename IdentityOf>
void make_room_for(Map& m, const std::string& identity, std::size_t limit, IdentityOf identity_of) {
  for (;;) {
    auto oldest = m.end();
    std::size_t n = 0;
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (identity_of(it->second) != identity) continue;
      ++n;
      if (oldest == m.end() || it->second.order < oldest->second.order) oldest = it;
    }
    if (n < limit) return;
    m.erase(oldest);
  }
}

}  // namespace

std::string random_hex256() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  std::string out = hex_encode(b, sizeof b);
  OPENSSL_cleanse(b, sizeof b);
  return out;
}

int64_t certificate_end(const SshCertificate& cert) {
  return static_cast<int64_t>(std::min<uint64_t>(cert.valid_before, INT64_MAX));
}

bool has_source_address(const SshCertificate& cert) {
  return std::any_of(cert.critical_options.begin(), cert.critical_options.end(),
                     [](const auto& o) { return o.first == "source-address"; });
}

void WebAuth::sweep(int64_t now) {
  std::erase_if(tokens_, [now](const auto& kv) { return kv.second.expires_at <= now; });
  std::erase_if(sessions_, [now](const auto& kv) { return kv.second.session.expires_at <= now; });
}

std::string WebAuth::issue_token(std::shared_ptr<const SshCertificate> cert, const std::string& ssh_peer,
                                 int64_t now) {
  if (!cert || cert->key_id.empty() || certificate_end(*cert) <= now + kTokenTtl) return {};
  std::string token = random_hex256();
  const std::string key = digest(token);
  if (token.empty() || key.empty()) return {};
  std::lock_guard<std::mutex> g(mu_);
  sweep(now);
  make_room_for(tokens_, cert->key_id, kMaxTokensPerIdentity, [](const Pending& p) { return p.cert->key_id; });
  if (tokens_.size() >= kMaxTokens) return {};
  tokens_[key] = Pending{std::move(cert), ssh_peer, now + kTokenTtl, ++order_};
  return token;
}

std::optional<WebAuth::Login> WebAuth::redeem(const std::string& token, int64_t now, const std::string& peer,
                                              const Check& check, std::string& why) {
  why = "unknown, used or expired link";
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
  const int64_t ends = std::min(now + session_ttl_, certificate_end(*p.cert));
  if (ends <= now) return std::nullopt;
  WebSession s{p.cert->key_id, ends, p.cert, p.ssh_peer, has_source_address(*p.cert) ? peer : std::string()};
  if (why = check ? check(s) : std::string(); !why.empty()) return std::nullopt;
  make_room_for(sessions_, s.identity, kMaxSessionsPerIdentity, [](const Live& l) { return l.session.identity; });
  if (sessions_.size() >= kMaxSessions) return why = "too many web sessions", std::nullopt;
  sessions_[cookie_key] = Live{s, ++order_};
  return Login{std::move(cookie), std::move(s)};
}

std::optional<WebSession> WebAuth::session(const std::string& cookie, int64_t now, const std::string& peer,
                                           const Check& check, std::string& why) {
  why.clear();
  if (!well_formed(cookie)) return std::nullopt;
  const std::string key = digest(cookie);
  std::lock_guard<std::mutex> g(mu_);
  sweep(now);
  const auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  const WebSession& s = it->second.session;
  if (!s.bound_address.empty() && peer != s.bound_address)
    why = "the certificate has source-address: this session answers only " + s.bound_address;
  else if (check)
    why = check(s);
  if (!why.empty()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return s;
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
