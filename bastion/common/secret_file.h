// A random secret kept in a file only bastiond can read, created on first
// use (e.g. the key behind keyed hashes in column masks, which must stay the
// same across restarts so masked values stay comparable).
#pragma once
#include <string>

namespace bastion {

// Reads the secret at `path`, or creates it (32 random bytes, mode 0600).
bool load_or_create_secret(const std::string& path, std::string& secret, std::string& error);

}  // namespace bastion
