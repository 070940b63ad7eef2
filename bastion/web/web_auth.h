// Who may read the auditors' web page: one-time login tokens minted by
// `ssh audit@bastion login` (an SSH session thread) and the browser sessions
// they turn into (HTTP threads). Both live in memory only, bounded, and are
// keyed by the SHA-256 of the secret, so a lookup's timing says nothing about
// the secret and a memory dump holds no usable cookie.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace bastion {

struct WebSession {
  std::string identity;    // the certificate's key ID
  int64_t expires_at = 0;  // unix seconds
};

class WebAuth {
 public:
  static constexpr int64_t kTokenTtl = 60;          // seconds a login URL works
  static constexpr std::size_t kMaxTokens = 64;     // unused login URLs held at once
  static constexpr std::size_t kMaxSessions = 256;  // browser sessions held at once

  // `session_ttl`: web_session_ttl (seconds). `base_url`: where the running
  // listener is ("https://HOST:PORT"), which login links name.
  WebAuth(int64_t session_ttl, std::string base_url) : session_ttl_(session_ttl), base_url_(std::move(base_url)) {}

  const std::string& base_url() const { return base_url_; }

  // A single-use token for `identity`, whose certificate is valid until
  // `cert_expires_at`: 256 random bits as 64 hex digits. Empty when the
  // certificate expires within the token's life or there is no randomness.
  // Past kMaxTokens the oldest unused token is dropped.
  std::string issue_token(const std::string& identity, int64_t cert_expires_at, int64_t now);

  // Redeems a token once: the new session's cookie value (64 hex digits) and
  // what it is. nullopt for an unknown, used or expired token. The session
  // ends at min(now + web_session_ttl, the certificate's expiry). Past
  // kMaxSessions the session that ends first is dropped.
  struct Login {
    std::string cookie;
    WebSession session;
  };
  std::optional<Login> redeem(const std::string& token, int64_t now);

  // The live session of a cookie value; expired ones are forgotten.
  std::optional<WebSession> session(const std::string& cookie, int64_t now);
  // Ends it; false when there was none.
  bool logout(const std::string& cookie);

  std::size_t tokens() const;
  std::size_t sessions() const;

 private:
  struct Pending {
    std::string identity;
    int64_t cert_expires_at = 0;
    int64_t expires_at = 0;
    uint64_t order = 0;
  };
  void sweep(int64_t now);  // under mu_

  const int64_t session_ttl_;
  const std::string base_url_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> tokens_;       // SHA-256(token) -> pending login
  std::map<std::string, WebSession> sessions_;  // SHA-256(cookie) -> session
  uint64_t order_ = 0;
};

// 32 random bytes as 64 lower-case hex digits; empty without randomness.
std::string random_hex256();

}  // namespace bastion
