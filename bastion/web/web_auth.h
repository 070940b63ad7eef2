// Who may read the auditors' web page: one-time login tokens minted by
// `ssh audit@bastion login` (an SSH session thread) and the browser sessions
// they turn into (HTTP threads). Both live in memory only, bounded, and are
// keyed by the SHA-256 of the secret, so a lookup's timing says nothing about
// the secret and a memory dump holds no usable cookie.
//
// Each carries the certificate the SSH login presented, so that every
// request can be checked again against the current config (auditor
// principals, CAs, revocations) and the certificate's source-address: a web
// session is worth no more than the SSH login that minted it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "auth/ssh_certificate.h"

namespace bastion {

struct WebSession {
  std::string identity;    // the certificate's key ID
  int64_t expires_at = 0;  // unix seconds
  std::shared_ptr<const SshCertificate> certificate;  // as the SSH login presented it
  std::string ssh_peer;       // the address the SSH login came from
  std::string bound_address;  // set when the certificate has source-address: the only
                              // address this session answers (the one that redeemed it)
};

class WebAuth {
 public:
  static constexpr int64_t kTokenTtl = 60;  // seconds a login URL works
  // Per identity: a new token or session past these drops that identity's
  // oldest (one auditor cannot push the others out).
  static constexpr std::size_t kMaxTokensPerIdentity = 8;
  static constexpr std::size_t kMaxSessionsPerIdentity = 16;
  // In all: past these a new token or session is refused.
  static constexpr std::size_t kMaxTokens = 1024;
  static constexpr std::size_t kMaxSessions = 4096;

  // Empty when the session may go on; otherwise why not (the session ends).
  using Check = std::function<std::string(const WebSession&)>;

  // `session_ttl`: web_session_ttl (seconds). `base_url`: where the running
  // listener is ("https://HOST:PORT"), which login links name.
  WebAuth(int64_t session_ttl, std::string base_url) : session_ttl_(session_ttl), base_url_(std::move(base_url)) {}

  const std::string& base_url() const { return base_url_; }

  // A single-use token for the holder of `cert` (its key ID is the
  // identity), who logged in over SSH from `ssh_peer`: 256 random bits as 64
  // hex digits. Empty without a certificate, when it expires within the
  // token's life, when kMaxTokens are held, or without randomness.
  std::string issue_token(std::shared_ptr<const SshCertificate> cert, const std::string& ssh_peer, int64_t now);

  // Redeems a token once, from `peer`: the new session's cookie value (64
  // hex digits) and what it is. nullopt (and `why`) for an unknown, used or
  // expired token, or one `check` refuses. The session ends at
  // min(now + web_session_ttl, the certificate's expiry).
  struct Login {
    std::string cookie;
    WebSession session;
  };
  std::optional<Login> redeem(const std::string& token, int64_t now, const std::string& peer, const Check& check,
                              std::string& why);

  // The live session of a cookie value, asked for from `peer`; expired ones
  // are forgotten, and one `check` refuses (or asked for from another
  // address than its bound one) is ended, with `why`.
  std::optional<WebSession> session(const std::string& cookie, int64_t now, const std::string& peer,
                                    const Check& check, std::string& why);
  // Ends it; false when there was none.
  bool logout(const std::string& cookie);

  std::size_t tokens() const;
  std::size_t sessions() const;

 private:
  struct Pending {
    std::shared_ptr<const SshCertificate> cert;
    std::string ssh_peer;
    int64_t expires_at = 0;
    uint64_t order = 0;
  };
  struct Live {
    WebSession session;
    uint64_t order = 0;
  };
  void sweep(int64_t now);  // under mu_

  const int64_t session_ttl_;
  const std::string base_url_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> tokens_;  // SHA-256(token) -> pending login
  std::map<std::string, Live> sessions_;   // SHA-256(cookie) -> session
  uint64_t order_ = 0;
};

// 32 random bytes as 64 lower-case hex digits; empty without randomness.
std::string random_hex256();

// The certificate's end as unix seconds ("forever" clamped, not wrapped).
int64_t certificate_end(const SshCertificate& cert);

// True when the certificate restricts where it may be used from.
bool has_source_address(const SshCertificate& cert);

}  // namespace bastion
