// Column origins a wire connection has already looked up, per relation, so
// a statement run again (pgbench, an ORM's hot query) does not cost a
// catalog round trip for every RowDescription.
//
// What a cached entry can get wrong, and why that is acceptable: a table's
// oid and a column's number never change and are not reused while the
// relation exists (a dropped column keeps its number; a re-created table
// gets a new oid, a new column a new number, and both miss the cache). Only
// names can change (RENAME), and then the cache still names the data by
// what it was called when this connection first saw it: a masked column
// renamed away stays masked until the entry expires. Entries expire after
// `ttl`, and the connection drops them all after any statement of its own
// that may change the catalog.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "targets/postgres/column_masker.h"

namespace bastion::pgwire {

// (table oid, column number) -> origin.
using ColumnKey = std::pair<uint32_t, int16_t>;
using OriginMap = std::map<ColumnKey, ColumnOrigin>;

class OriginCache {
 public:
  using Clock = std::chrono::steady_clock;
  // Every column of `oids` the catalog shows, into `out`; false on failure.
  using Fetch = std::function<bool(const std::vector<uint32_t>& oids, OriginMap& out)>;
  static constexpr std::size_t kMaxRelations = 4096;

  explicit OriginCache(Clock::duration ttl) : ttl_(ttl) {}

  // The origins of `wanted` (and of every other column of their relations)
  // into `out`: fresh entries from the cache, the rest with one fetch. A
  // relation cached without a wanted column is fetched again (the column
  // is new). False when the fetch failed; the caller then masks everything.
  bool resolve(const std::vector<ColumnKey>& wanted, const Fetch& fetch, OriginMap& out,
               Clock::time_point now = Clock::now());
  void clear() { relations_.clear(); }
  std::size_t relations() const { return relations_.size(); }
  uint64_t fetches() const { return fetches_; }

 private:
  struct Relation {
    Clock::time_point fetched;
    std::map<int16_t, ColumnOrigin> columns;
  };
  std::map<uint32_t, Relation> relations_;
  Clock::duration ttl_;
  uint64_t fetches_ = 0;
};

}  // namespace bastion::pgwire
