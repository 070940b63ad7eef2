// Credentials bastiond holds in files: read once (at config load), refused
// when anyone but their owner could read them, and kept in memory only.
#pragma once
#include <string.h>

#include <string>

namespace bastion {

// Reads the secret at `path`, or creates it (32 random bytes, mode 0600).
bool load_or_create_secret(const std::string& path, std::string& secret, std::string& error);

// Reads a held credential file (private key, certificate, password, or
// another kind's file). Refused when it is not a regular file or its mode has any
// group or other bit. `error` names the path and the mode, never the content.
bool read_secret_file(const std::string& path, std::string& secret, std::string& error);

// A held credential's bytes, wiped when the config holding them is freed.
struct HeldSecret {
  std::string bytes;

  HeldSecret() = default;
  HeldSecret(const HeldSecret&) = default;
  HeldSecret& operator=(const HeldSecret&) = default;
  HeldSecret(HeldSecret&&) = default;
  HeldSecret& operator=(HeldSecret&&) = default;
  ~HeldSecret() { explicit_bzero(bytes.data(), bytes.size()); }
  bool empty() const { return bytes.empty(); }
};

}  // namespace bastion
