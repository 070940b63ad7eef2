// The sessions open now, for `bastionctl status` and the sessions gauge.
// A Session holds a Registration for its lifetime (RAII: listed from its
// construction, gone with its destructor, whatever path ends it).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace bastion {

struct LiveSession {
  std::string id;
  std::string identity;  // the certificate's key ID
  std::string target;    // as the user asked for it
  std::string kind;      // the target's kind, or the bastion's own ("approvals", "access", "audit"), or "unknown"
  std::string source_address;
  int64_t started_at = 0;  // unix seconds
};

class LiveSessions {
 public:
  class Registration {
   public:
    Registration(LiveSessions& all, LiveSession s);
    ~Registration();
    // The session now runs on another target (the picker's choice).
    void retarget(std::string target, std::string kind);
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    LiveSessions& all_;
    std::string id_;
  };

  std::vector<LiveSession> list() const;  // oldest first
  // Open sessions per kind, every one of `kinds` present (0 included).
  std::vector<std::pair<std::string, uint64_t>> count_by_kind(const std::vector<std::string>& kinds) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, LiveSession> by_id_;
};

}  // namespace bastion
