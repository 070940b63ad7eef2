// The wire proxy's cache of column origins: a repeated result costs no
// catalog round trip, and everything that could make a cached name wrong
// (expiry, a new column, a clear after DDL) asks the catalog again.
#include <catch2/catch.hpp>

#include "targets/postgres/wire/pg_wire_origin_cache.h"

using namespace bastion::pgwire;
using namespace std::chrono_literals;

namespace {

// A catalog of relation oid -> column names (attnum = index + 1).
struct FakeCatalog {
  std::map<uint32_t, std::vector<std::string>> rels;
  std::vector<std::vector<uint32_t>> asked;
  bool fail = false;
  OriginCache::Fetch fetch() {
    return [this](const std::vector<uint32_t>& oids, OriginMap& out) {
      asked.push_back(oids);
      if (fail) return false;
      for (uint32_t oid : oids) {
        const auto it = rels.find(oid);
        if (it == rels.end()) continue;
        for (std::size_t i = 0; i < it->second.size(); ++i)
          out[{oid, static_cast<int16_t>(i + 1)}] = bastion::ColumnOrigin{false, "t" + std::to_string(oid), it->second[i]};
      }
      return true;
    };
  }
};

}  // namespace

TEST_CASE("origin cache: a repeated result is answered without the catalog until it expires") {
  FakeCatalog cat;
  cat.rels[100] = {"id", "email"};
  OriginCache cache(5s);
  const auto t0 = OriginCache::Clock::time_point{} + 1000s;
  OriginMap out;
  REQUIRE(cache.resolve({{100, 1}, {100, 2}}, cat.fetch(), out, t0));
  CHECK(out.at({100, 2}).column == "email");
  CHECK(cat.asked == std::vector<std::vector<uint32_t>>{{100}});
  cat.rels[100] = {"id", "renamed"};
  OriginMap again;
  REQUIRE(cache.resolve({{100, 2}}, cat.fetch(), again, t0 + 4s));
  CHECK(again.at({100, 2}).column == "email");  // the name as first seen
  CHECK(cat.asked.size() == 1);
  OriginMap later;
  REQUIRE(cache.resolve({{100, 2}}, cat.fetch(), later, t0 + 5s));
  CHECK(later.at({100, 2}).column == "renamed");
  CHECK(cat.asked.size() == 2);
}

TEST_CASE("origin cache: a column the cached relation lacks is fetched again") {
  FakeCatalog cat;
  cat.rels[7] = {"a"};
  OriginCache cache(60s);
  const auto t0 = OriginCache::Clock::time_point{} + 1s;
  OriginMap out;
  REQUIRE(cache.resolve({{7, 1}}, cat.fetch(), out, t0));
  cat.rels[7] = {"a", "ssn"};  // ALTER TABLE ADD COLUMN elsewhere
  OriginMap out2;
  REQUIRE(cache.resolve({{7, 1}, {7, 2}}, cat.fetch(), out2, t0 + 1s));
  CHECK(out2.at({7, 2}).column == "ssn");
  CHECK(cat.asked.size() == 2);
}

TEST_CASE("origin cache: only stale relations are fetched, in one query") {
  FakeCatalog cat;
  cat.rels[1] = {"x"};
  cat.rels[2] = {"y"};
  cat.rels[3] = {"z"};
  OriginCache cache(60s);
  const auto t0 = OriginCache::Clock::time_point{} + 1s;
  OriginMap out;
  REQUIRE(cache.resolve({{1, 1}}, cat.fetch(), out, t0));
  REQUIRE(cache.resolve({{1, 1}, {2, 1}, {3, 1}, {3, 1}}, cat.fetch(), out, t0));
  CHECK(cat.asked.back() == std::vector<uint32_t>{2, 3});
  CHECK(out.size() == 3);
}

TEST_CASE("origin cache: failure, unknown relations and clear() fail closed") {
  FakeCatalog cat;
  OriginCache cache(60s);
  const auto t0 = OriginCache::Clock::time_point{} + 1s;
  OriginMap out;
  SECTION("a failed fetch is false and caches nothing") {
    cat.fail = true;
    cat.rels[5] = {"email"};
    CHECK_FALSE(cache.resolve({{5, 1}}, cat.fetch(), out, t0));
    CHECK(cache.relations() == 0);
    CHECK_FALSE(cache.resolve({{5, 1}}, OriginCache::Fetch(), out, t0));  // no catalog at all
  }
  SECTION("a relation the catalog does not show has no origins (masked whole by the caller)") {
    REQUIRE(cache.resolve({{9, 1}}, cat.fetch(), out, t0));
    CHECK(out.empty());
    // The empty entry lacks column 1, so the next result asks again.
    cat.rels[9] = {"now_there"};
    REQUIRE(cache.resolve({{9, 1}}, cat.fetch(), out, t0));
    CHECK(out.at({9, 1}).column == "now_there");
  }
  SECTION("clear() makes the next result ask the catalog") {
    cat.rels[5] = {"email"};
    REQUIRE(cache.resolve({{5, 1}}, cat.fetch(), out, t0));
    cache.clear();
    REQUIRE(cache.resolve({{5, 1}}, cat.fetch(), out, t0));
    CHECK(cat.asked.size() == 2);
  }
  SECTION("no table columns: nothing to ask") {
    REQUIRE(cache.resolve({}, OriginCache::Fetch(), out, t0));
    CHECK(cat.asked.empty());
  }
}

TEST_CASE("origin cache: bounded; past the bound it starts over and still answers every wanted column") {
  FakeCatalog cat;
  OriginCache cache(600s);
  const auto t0 = OriginCache::Clock::time_point{} + 1s;
  for (uint32_t oid = 1; oid <= OriginCache::kMaxRelations + 10; ++oid) cat.rels[oid] = {"c"};
  OriginMap out;
  for (uint32_t oid = 1; oid <= OriginCache::kMaxRelations; ++oid) REQUIRE(cache.resolve({{oid, 1}}, cat.fetch(), out, t0));
  CHECK(cache.relations() == OriginCache::kMaxRelations);
  OriginMap last;
  REQUIRE(cache.resolve({{1, 1}, {OriginCache::kMaxRelations + 1, 1}}, cat.fetch(), last, t0));
  CHECK(cache.relations() == 2);
  CHECK(last.size() == 2);
}
