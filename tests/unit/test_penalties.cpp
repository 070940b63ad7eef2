#include <catch2/catch.hpp>

#include "config/per_source_penalties.h"
#include "admission/penalty_box.h"

using namespace bastion;

TEST_CASE("per_source_penalties parses OpenSSH-style KEY:SECONDS lists", "[limits]") {
  PerSourcePenalties p;
  std::string why;
  REQUIRE(parse_per_source_penalties("authfail:7 noauth:2 grace-exceeded:20 max:300 min:30", p, why));
  CHECK(p == PerSourcePenalties{true, 7, 2, 20, 300, 30});
  REQUIRE(parse_per_source_penalties("no", p, why));
  CHECK_FALSE(p.enabled);
  REQUIRE(parse_per_source_penalties("yes", p, why));
  CHECK(p == PerSourcePenalties{});
  REQUIRE(parse_per_source_penalties("  min:5  ", p, why));
  CHECK(p.min == 5);
  CHECK(p.authfail == 5);
  CHECK_FALSE(parse_per_source_penalties("crash:90", p, why));
  CHECK(why == "unknown key \"crash\" (authfail, noauth, grace-exceeded, max, min)");
  CHECK_FALSE(parse_per_source_penalties("authfail", p, why));
  CHECK(why == "\"authfail\": expected KEY:SECONDS (e.g. \"authfail:5\")");
  CHECK_FALSE(parse_per_source_penalties("max:10 min:20", p, why));
  CHECK(why == "min (20) must not exceed max (10)");
  CHECK_FALSE(parse_per_source_penalties("authfail:999999", p, why));
  CHECK(why == "authfail: expected a duration from 0s to 1d (seconds, or a number with s, m, h, d or w: "
               "\"90s\", \"5m\", \"8h\", \"2d\")");
  CHECK(parse_per_source_penalties("max:10m min:30s authfail:5", p, why));
  CHECK(p.max == 600);
  CHECK(p.min == 30);
  CHECK_FALSE(parse_per_source_penalties("", p, why));
  CHECK(why == "expected \"no\", \"yes\" or KEY:SECONDS items");
}

TEST_CASE("the penalty box refuses a source once its penalty reaches min, until it runs out", "[limits]") {
  PerSourcePenalties cfg;  // authfail 5, min 15, max 600
  PenaltyBox box;
  box.add("10.0.0.1", cfg.authfail, cfg, 100.0);
  box.add("10.0.0.1", cfg.authfail, cfg, 100.0);
  CHECK_FALSE(box.refused("10.0.0.1", cfg, 100.0));  // 10 s outstanding
  box.add("10.0.0.1", cfg.authfail, cfg, 100.0);      // 15 s: refused
  CHECK(box.refused("10.0.0.1", cfg, 100.0));
  CHECK(box.refused("10.0.0.1", cfg, 114.9));
  CHECK_FALSE(box.refused("10.0.0.2", cfg, 101.0));
  CHECK_FALSE(box.refused("10.0.0.1", cfg, 115.0));   // ran out, forgotten
  CHECK(box.size() == 0);
  // Capped at max.
  for (int i = 0; i < 1000; ++i) box.add("10.0.0.3", 5, cfg, 0.0);
  CHECK(box.refused("10.0.0.3", cfg, 599.9));
  CHECK_FALSE(box.refused("10.0.0.3", cfg, 600.0));
  // Disabled: nothing recorded, nothing refused.
  PerSourcePenalties off;
  off.enabled = false;
  box.add("10.0.0.4", 100, off, 0.0);
  CHECK_FALSE(box.refused("10.0.0.4", cfg, 1.0));
}

TEST_CASE("the penalty box stays bounded under a flood of sources", "[limits]") {
  PerSourcePenalties cfg;
  PenaltyBox box;
  for (std::size_t i = 0; i < PenaltyBox::kMaxSources + 100; ++i) box.add("s" + std::to_string(i), 20, cfg, 0.0);
  CHECK(box.size() == PenaltyBox::kMaxSources);
  // Once the old entries ran out, new sources are recorded again.
  box.add("late", 20, cfg, 1000.0);
  CHECK(box.size() == 1);
  CHECK(box.refused("late", cfg, 1000.0));
}
