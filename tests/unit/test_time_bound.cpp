#include <catch2/catch.hpp>

#include "audit/time_bound.h"

using namespace bastion;

namespace {
const int64_t kNow = 1796032800;  // 2026-11-30T10:00:00Z
}

TEST_CASE("durations count back from now", "[time_bound]") {
  CHECK(parse_time_bound("10m", kNow) == kNow - 600);
  CHECK(parse_time_bound("2h", kNow) == kNow - 7200);
  CHECK(parse_time_bound("7d", kNow) == kNow - 7 * 86400);
  CHECK(parse_time_bound("30s", kNow) == kNow - 30);
  CHECK(parse_time_bound("1w", kNow) == kNow - 7 * 86400);
  CHECK(parse_time_bound("0m", kNow) == kNow);
}

TEST_CASE("timestamps are UTC, with or without time and Z", "[time_bound]") {
  CHECK(parse_time_bound("2026-11-30", kNow) == kNow - 10 * 3600);
  CHECK(parse_time_bound("2026-11-30T10:00:00Z", kNow) == kNow);
  CHECK(parse_time_bound("2026-11-30T10:00:00", kNow) == kNow);
  CHECK(parse_time_bound("2026-11-30T10:00", kNow) == kNow);
  CHECK(parse_time_bound("2026-11-30T10:00Z", kNow) == kNow);
  CHECK(parse_time_bound("2026-11-30T10:00:07.123Z", kNow) == kNow + 7);
  CHECK(parse_time_bound("1970-01-01", kNow) == 0);
  CHECK(parse_time_bound("2024-02-29T23:59:59Z", kNow) == 1709251199);
  CHECK(parse_time_bound("9999-12-31T23:59:59Z", kNow) == 253402300799);
  // The store's own format.
  CHECK(parse_timestamp("2026-11-28T23:59:01.123Z") == 1795910341);
}

TEST_CASE("malformed bounds are refused with a reason", "[time_bound]") {
  const char* const bad_durations[] = {"", "10", "-10m", "+10m", "10 m", "m", "10x", "10M", "1e3s", "999999999d", "10mm"};
  for (const char* b : bad_durations) {
    std::string why;
    CAPTURE(b);
    CHECK_FALSE(parse_time_bound(b, kNow, &why));
    CHECK_FALSE(why.empty());
  }
  const char* const bad_stamps[] = {"2026-13-01",        "2026-00-10",           "2026-02-29",
                                    "2026-11-31",        "2026-11-30T24:00",     "2026-11-30T10:60",
                                    "2026-11-30T10:00:60", "2026-11-30 10:00",   "2026-11-30T10",
                                    "2026-11-30T10:00:00.Z", "2026-11-30T10:00:00+01:00", "1969-12-31",
                                    "26-11-30",          "2026-1-30",            "2026-11-30Z junk",
                                    "2026-11-30T10:00:00ZZ", "２026-11-30",      "2026-11-30T10:00:00.1234567890Z"};
  for (const char* b : bad_stamps) {
    std::string why;
    CAPTURE(b);
    CHECK_FALSE(parse_time_bound(b, kNow, &why));
    CHECK(why == "not a timestamp (2026-11-30, 2026-11-30T10:00, 2026-11-30T10:00:00Z; UTC)");
  }
  std::string why;
  CHECK_FALSE(parse_time_bound("10", kNow, &why));
  CHECK(why == "not a duration (10m, 2h, 7d) or a timestamp (2026-11-30T10:00:00Z)");
  CHECK_FALSE(parse_time_bound("36500d", 1000, &why));
  CHECK(why == "duration reaches before 1970");
}

TEST_CASE("bounds format like the store's timestamps", "[time_bound]") {
  CHECK(iso8601_bound(kNow) == "2026-11-30T10:00:00.000Z");
  // Text order is time order against stored rows.
  CHECK(std::string("2026-11-30T10:00:00.123Z") > iso8601_bound(kNow));
  CHECK(std::string("2026-11-30T09:59:59.999Z") < iso8601_bound(kNow));
}
