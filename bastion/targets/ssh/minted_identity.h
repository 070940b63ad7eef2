// A per-connection identity for a target whose credential has `ca`: a fresh
// Ed25519 key (in memory only) with a certificate from the bastion's CA,
// recorded in the audit store before it is used (fail closed: no record,
// no certificate).
#pragma once
#include <string>

#include "common/ssh_handles.h"
#include "config/config.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/target_kind.h"

namespace bastion {

struct MintedCertInfo {
  uint64_t serial = 0;
  std::string key_id;
  std::string principals;  // comma-separated
  std::string source_address;  // the certificate's source-address: the bastion's end of `onward`
};

// `onward` is the connected (host key verified) session the certificate is
// for: its local address becomes the certificate's source-address.
// `key` gets the private key with the certificate copied in. `error` is fit
// for the user (no paths, no key material).
bool mint_identity(const TargetConfig& t, const SshCredential& c, const ConnectContext& ctx, ssh_session onward,
                   SshKey& key, MintedCertInfo& info, std::string& error);

}  // namespace bastion
