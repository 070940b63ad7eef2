// Registry bearer tokens the bastion fetched upstream with its held
// credential (the registry's `WWW-Authenticate: Bearer realm=...` flow),
// cached per scope until shortly before they expire, and which scope each
// repository last needed (a request with a body cannot be replayed after a
// challenge, so it goes out with the token its repository's earlier
// bodyless request earned). Shared by a session's connections; never
// leaves bastiond.
#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/secret_file.h"

namespace bastion {

class HttpTokenCache {
 public:
  std::optional<std::string> token_for_repository(const std::string& repository);
  void put(const std::string& repository, const std::string& scope, const std::string& token,
           std::chrono::seconds lifetime);

 private:
  struct Entry {
    HeldSecret token;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex m_;
  std::map<std::string, Entry> by_scope_;
  std::map<std::string, std::string> scope_of_repo_;
};

// The parameters of a `Bearer k="v",k2="v2"` challenge; nullopt when the
// header is not a Bearer challenge.
std::optional<std::map<std::string, std::string>> parse_bearer_challenge(const std::string& value);

}  // namespace bastion
