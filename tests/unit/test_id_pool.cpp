#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "common/id_pool.h"

using namespace bastion;

TEST_CASE("an id pool hands out distinct ids and takes them back", "[id_pool]") {
  IdPool pool(100, 3);
  std::vector<uint32_t> got;
  for (int i = 0; i < 3; ++i) got.push_back(*pool.acquire());
  CHECK(got == std::vector<uint32_t>{100, 101, 102});
  CHECK_FALSE(pool.acquire());  // all taken: nothing, never a shared id
  pool.release(101);
  CHECK(*pool.acquire() == 101);
  {
    IdPool p2(7, 2);
    IdLease a(p2, *p2.acquire());
    CHECK(p2.in_use() == 1);
  }
}

TEST_CASE("a released id is not handed out again at once", "[id_pool]") {
  IdPool pool(0, 4);
  const uint32_t a = *pool.acquire();
  pool.release(a);
  CHECK(*pool.acquire() != a);
}

TEST_CASE("concurrent holders never share an id", "[id_pool]") {
  IdPool pool(1000, 64);
  std::vector<std::thread> ts;
  std::vector<std::vector<uint32_t>> held(8);
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) held[t].push_back(*pool.acquire());
    });
  for (auto& t : ts) t.join();
  std::set<uint32_t> all;
  for (auto& h : held) all.insert(h.begin(), h.end());
  CHECK(all.size() == 64);
  CHECK_FALSE(pool.acquire());
}
