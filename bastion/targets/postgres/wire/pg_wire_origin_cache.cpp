#include "targets/postgres/wire/pg_wire_origin_cache.h"

#include <set>

namespace bastion::pgwire {

bool OriginCache::resolve(const std::vector<ColumnKey>& wanted, const Fetch& fetch, OriginMap& out,
                          Clock::time_point now) {
  std::set<uint32_t> oids, stale;
  for (const auto& [oid, column] : wanted) {
    oids.insert(oid);
    const auto it = relations_.find(oid);
    if (it == relations_.end() || now - it->second.fetched >= ttl_ || !it->second.columns.count(column))
      stale.insert(oid);
  }
  if (!stale.empty()) {
    if (!fetch) return false;
    // Bounded: a client walking the whole catalog starts the cache over.
    if (relations_.size() + stale.size() > kMaxRelations) relations_.clear(), stale = oids;
    OriginMap fetched;
    ++fetches_;
    if (!fetch(std::vector<uint32_t>(stale.begin(), stale.end()), fetched)) return false;
    // A relation the catalog does not show is cached empty: its columns
    // have no origin (masked whole) until it expires.
    for (uint32_t oid : stale) relations_[oid] = Relation{now, {}};
    for (auto& [key, origin] : fetched)
      if (stale.count(key.first)) relations_[key.first].columns[key.second] = std::move(origin);
  }
  for (uint32_t oid : oids)
    for (const auto& [attnum, origin] : relations_[oid].columns) out[{oid, attnum}] = origin;
  return true;
}

}  // namespace bastion::pgwire
