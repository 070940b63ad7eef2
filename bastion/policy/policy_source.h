// A policy file as loaded and validated: its text and hash, and the text of
// every module it imports, snapshotted together so a session always runs one
// consistent version even while files change on disk.
#pragma once
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace bastion {

struct PolicyLimits {
  std::size_t memory = 16u << 20;
  std::chrono::milliseconds time{50};
};

struct PolicySource {
  std::string path;   // main file (a stored policy: its version label)
  std::string dir;    // modules come from here only (a stored policy: none, its snapshot)
  // Empty for a file; "store:NAME@3" for a version from the policy store
  // (policy/policy_store.h), which is also its path: decisions name it.
  std::string version;
  std::string text;
  std::string hash;   // sha256 hex of the main file
  std::map<std::string, std::string> modules;  // name -> text
  PolicyLimits limits;
};

// Reads `path` and compiles it (running its top level once in a fresh
// sandbox, which also snapshots its imports). Null + "FILE:LINE: message" on error.
std::shared_ptr<const PolicySource> load_policy_source(const std::string& path, const PolicyLimits& limits,
                                                       std::string& error);

}  // namespace bastion
