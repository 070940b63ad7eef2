// Verifies an SSH signature blob over data with a public key blob (OpenSSL 3).
// Accepts ssh-ed25519, ecdsa-sha2-nistp256/384/521, and RSA with rsa-sha2-256
// or rsa-sha2-512 only: SHA-1 "ssh-rsa" signatures are refused, as OpenSSH does.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

constexpr int kMinRsaBits = 2048;

bool verify_ssh_signature(std::string_view key_blob, std::string_view signature_blob,
                          std::string_view data, std::string& error);

}  // namespace bastion
