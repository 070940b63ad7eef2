#include "admission/penalty_box.h"

#include <algorithm>

namespace bastion {

void PenaltyBox::expire(double now) {
  std::erase_if(until_, [now](const auto& e) { return e.second.until <= now; });
}

void PenaltyBox::add(const std::string& source, int seconds, const PerSourcePenalties& cfg, double now) {
  if (!cfg.enabled || seconds <= 0) return;
  auto it = until_.find(source);
  if (it == until_.end()) {
    if (until_.size() >= kMaxSources) expire(now);
    if (until_.size() >= kMaxSources) return;
    it = until_.emplace(source, Entry{}).first;
  }
  Entry& e = it->second;
  const double base = std::max(e.until, now);
  e.until = std::min(base + seconds, now + cfg.max);
  if (e.until - now >= cfg.min) e.active = true;
}

bool PenaltyBox::refused(const std::string& source, const PerSourcePenalties& cfg, double now) {
  if (!cfg.enabled) return false;
  const auto it = until_.find(source);
  if (it == until_.end()) return false;
  if (it->second.until <= now) {
    until_.erase(it);
    return false;
  }
  return it->second.active;
}

}  // namespace bastion
