// Per-source penalties (see config/per_source_penalties.h): who is being
// refused at accept, and until when. Pure bookkeeping on a clock the caller
// passes in, so it is tested without sockets; the caller locks.
#pragma once
#include <cstddef>
#include <map>
#include <string>

#include "config/per_source_penalties.h"

namespace bastion {

class PenaltyBox {
 public:
  // Bounded: past this many sources, expired entries are dropped and, if
  // that is not enough, new sources are not recorded (a spoofed-source flood
  // must not grow memory; per-source and total startup limits still apply).
  static constexpr std::size_t kMaxSources = 65536;

  // Adds `seconds` to the source's outstanding penalty (capped at cfg.max).
  void add(const std::string& source, int seconds, const PerSourcePenalties& cfg, double now);
  // True while the source is refused: its penalty reached cfg.min and has
  // not run out yet.
  bool refused(const std::string& source, const PerSourcePenalties& cfg, double now);
  std::size_t size() const { return until_.size(); }

 private:
  struct Entry {
    double until = 0;     // when the outstanding penalty runs out
    bool active = false;  // reached min: refused until `until`
  };
  void expire(double now);
  std::map<std::string, Entry> until_;
};

}  // namespace bastion
