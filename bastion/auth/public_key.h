// OpenSSH public keys as "type base64 [comment]" lines and their blobs.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

struct PublicKey {
  std::string type;     // e.g. "ssh-ed25519"
  std::string blob;     // wire encoding, starts with string(type)
  std::string comment;
};

// Parses one authorized_keys-style line (no options). nullopt + error on failure.
std::optional<PublicKey> parse_public_key_line(std::string_view line, std::string& error);

// Reads every non-comment line of a file. On failure `error` names file:line.
bool load_public_keys(const std::string& path, std::vector<PublicKey>& out, std::string& error);

// "SHA256:<unpadded base64>" like ssh-keygen -l.
std::string sha256_fingerprint(std::string_view blob);

}  // namespace bastion
