// An ssh target's settings and held credential, as its config reads them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ca/ca_key.h"
#include "common/secret_file.h"
#include "config/config.h"

namespace bastion {

struct SshSettings : TargetSettings {
  std::string host;
  int port = 22;
  std::string known_hosts;    // required: strict host key checking
  int connect_timeout = 10;   // seconds
  bool record = true;         // recording = "on" | "off"
  bool recording_off() const override { return !record; }
};

// Either a standing key (identity, optionally with its certificate), or a
// CA (`ca`) from which a fresh key and certificate are minted per connection.
struct SshCredential : HeldCredential {
  std::string user;
  std::string identity;          // private key file
  std::string certificate;       // optional: identity's certificate (-cert.pub)
  HeldSecret identity_key;       // the identity file's content
  std::string certificate_text;  // the certificate file's content
  std::string ca;                // CA private key file (minted certificates)
  int64_t ttl = 300;             // seconds a minted certificate is valid for
  std::vector<std::string> principals;  // the minted certificates' (default: user)
  std::shared_ptr<const CaKey> ca_key;  // loaded with the config (check_files)
  bool mints() const { return !ca.empty(); }
};

// Longest and shortest lifetime of a minted target certificate.
constexpr int64_t kMaxMintTtl = 3600, kMinMintTtl = 10;

}  // namespace bastion
