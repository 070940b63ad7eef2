#include "metrics/live_sessions.h"

#include <algorithm>

namespace bastion {

LiveSessions::Registration::Registration(LiveSessions& all, LiveSession s) : all_(all), id_(s.id) {
  std::lock_guard<std::mutex> g(all_.mu_);
  all_.by_id_[id_] = std::move(s);
}

LiveSessions::Registration::~Registration() {
  std::lock_guard<std::mutex> g(all_.mu_);
  all_.by_id_.erase(id_);
}

void LiveSessions::Registration::retarget(std::string target, std::string kind) {
  std::lock_guard<std::mutex> g(all_.mu_);
  if (const auto it = all_.by_id_.find(id_); it != all_.by_id_.end()) {
    it->second.target = std::move(target);
    it->second.kind = std::move(kind);
  }
}

std::vector<LiveSession> LiveSessions::list() const {
  std::vector<LiveSession> out;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [id, s] : by_id_) out.push_back(s);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.started_at < b.started_at; });
  return out;
}

std::vector<std::pair<std::string, uint64_t>> LiveSessions::count_by_kind(const std::vector<std::string>& kinds) const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& k : kinds) out.emplace_back(k, 0);
  out.emplace_back("other", 0);
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& entry : by_id_) {
    const std::string& kind = entry.second.kind;
    auto it = std::find_if(out.begin(), out.end() - 1, [&kind](const auto& p) { return p.first == kind; });
    ++it->second;  // out.end() - 1 is "other"
  }
  return out;
}

}  // namespace bastion
