// The certificate bastiond mints for one onward connection to an SSH target
// that trusts the bastion's CA instead of a standing key: a fresh key,
// valid for minutes, naming who it acts for (user, session, target), with
// only what a shell needs (permit-pty; no agent, port or X11 forwarding:
// the bastion never asks the target for them), usable only from the
// bastion's own end of that one TCP connection (source-address).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ca/cert_issuer.h"

namespace bastion {

struct MintParams {
  std::string identity;    // the user's certificate key ID
  std::string session_id;
  std::string target;
  std::vector<std::string> principals;
  int64_t now = 0;         // unix seconds
  int64_t ttl = 300;       // seconds
  uint64_t serial = 0;
  // The bastion's local address of the onward connection ("127.0.0.1",
  // "2001:db8::1"): the certificate's source-address, so a copy that leaks
  // is refused from anywhere else. Empty: no option (the caller refuses).
  std::string source_address;
};

// Valid from a minute back: the target's clock may run behind ours.
constexpr int64_t kMintClockSkew = 60;

// One field of the key ID, percent-encoded where it could be misread:
// '%', ':' and '=' (the key ID's own separators) and every byte outside
// printable ASCII (controls, space, DEL, UTF-8), so an identity such as
// "x:target=db1" cannot pass for another target in the target's sshd log.
std::string key_id_field(const std::string& value);

// "bastion:alice:session=20261130T...:target=web1", each field key_id_field.
std::string minted_key_id(const std::string& identity, const std::string& session_id, const std::string& target);

CertRequest minted_cert_request(const PublicKey& subject, const MintParams& p);

}  // namespace bastion
