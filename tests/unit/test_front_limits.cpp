// The number parser used on untrusted text, and the pre-authentication
// limits (MaxStartups parsing, random early drop, source groups, the
// ServerContext counters).
#include <catch2/catch.hpp>

#include "audit/sqlite_audit_store.h"
#include "common/parse_number.h"
#include "common/time_util.h"
#include "config/max_startups.h"
#include "admission/startup_limits.h"
#include "session/server_context.h"
#include "test_util.h"

using namespace bastion;

TEST_CASE("parse_unsigned takes exactly a decimal number in range", "[parse_number]") {
  std::string why;
  CHECK(parse_unsigned("0", 0, 10) == 0u);
  CHECK(parse_unsigned("10", 0, 10) == 10u);
  CHECK(parse_unsigned("007", 0, 10) == 7u);
  CHECK(parse_unsigned("18446744073709551615", 0, UINT64_MAX) == UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.5", "\xd9\xa1"}) {
    INFO(bad);
    CHECK_FALSE(parse_unsigned(bad, 0, 100, &why));
    CHECK(why == "not a number");
  }
  CHECK_FALSE(parse_unsigned("11", 0, 10, &why));
  CHECK(why == "out of range (0..10)");
  // What made std::stoll throw (and end bastiond) is just out of range.
  CHECK_FALSE(parse_unsigned("99999999999999999999999", 1, INT64_MAX, &why));
  CHECK(why == "out of range (1..9223372036854775807)");
  CHECK_FALSE(parse_unsigned("18446744073709551616", 0, UINT64_MAX, &why));
  CHECK(why == "out of range (0..18446744073709551615)");
}

TEST_CASE("parse_signed takes an optional minus and checks the range", "[parse_number]") {
  std::string why;
  CHECK(parse_signed("-5", -10, 10) == -5);
  CHECK(parse_signed("9223372036854775807", INT64_MIN, INT64_MAX) == INT64_MAX);
  CHECK(parse_signed("-9223372036854775808", INT64_MIN, INT64_MAX) == INT64_MIN);
  CHECK_FALSE(parse_signed("-", -10, 10, &why));
  CHECK(why == "not a number");
  CHECK_FALSE(parse_signed("--1", -10, 10, &why));
  CHECK_FALSE(parse_signed("+1", -10, 10, &why));
  CHECK_FALSE(parse_signed("-11", -10, 10, &why));
  CHECK(why == "out of range (-10..10)");
  CHECK_FALSE(parse_signed("-99999999999999999999", INT64_MIN, INT64_MAX, &why));
  CHECK(why == "out of range (-9223372036854775808..9223372036854775807)");
}

TEST_CASE("parse_decimal takes plain fractions only", "[parse_number]") {
  std::string why;
  CHECK(parse_decimal("2", 0.01, 1000) == 2.0);
  CHECK(parse_decimal("2.5", 0.01, 1000) == 2.5);
  CHECK(parse_decimal(".5", 0.01, 1000) == 0.5);
  for (const char* bad : {"", ".", "5.", "-1", "1e3", "inf", "nan", "1,5", "0x1p3", " 1"}) {
    INFO(bad);
    CHECK_FALSE(parse_decimal(bad, 0.01, 1000, &why));
    CHECK(why == "not a number");
  }
  CHECK_FALSE(parse_decimal("1000.5", 0.01, 1000, &why));
  CHECK(why == "out of range (0.01..1000)");
  CHECK_FALSE(parse_decimal("0", 0.01, 1000, &why));
}

TEST_CASE("parse_duration refuses what does not fit instead of throwing", "[parse_number]") {
  CHECK(parse_duration("99999999999999999999m") == -1);
  CHECK(parse_duration("18446744073709551615s") == -1);
  CHECK(parse_duration("5256000m") == 5256000 * 60);  // 10 years
  CHECK(parse_duration("5300w") == -1);               // over 100 years
}

TEST_CASE("max_startups: N or START:RATE:FULL, validated", "[max_startups]") {
  MaxStartups m;
  std::string why;
  CHECK(m == MaxStartups{30, 30, 100});  // above three sources' per_source_max_startups
  REQUIRE(parse_max_startups("10:30:40", m, why));
  CHECK(m == MaxStartups{10, 30, 40});
  REQUIRE(parse_max_startups("50", m, why));
  CHECK(m == MaxStartups{50, 100, 50});
  auto error = [&](const char* s) {
    MaxStartups x;
    std::string w;
    CHECK_FALSE(parse_max_startups(s, x, w));
    CHECK(x == MaxStartups{});  // untouched on failure
    return w;
  };
  CHECK(error("") == "\"\": not a number; expected N or START:RATE:FULL");
  CHECK(error("0") == "\"0\": out of range (1..100000); expected N or START:RATE:FULL");
  CHECK(error("10:30") == "\"10:30\": expected N or START:RATE:FULL (e.g. \"10:30:100\")");
  CHECK(error("10:30:100:5") == "\"10:30:100:5\": expected N or START:RATE:FULL (e.g. \"10:30:100\")");
  CHECK(error("x:30:100") == "start: not a number");
  CHECK(error("10:0:100") == "rate: out of range (1..100)");
  CHECK(error("10:101:100") == "rate: out of range (1..100)");
  CHECK(error("10:30:-1") == "full: not a number");
  CHECK(error("10:30:10") == "full (10) must be greater than start (10)");
  CHECK(error("10:30:99999999999999999999") == "full: out of range (1..100000)");
}

TEST_CASE("max_startups: the drop chance rises linearly from start to full", "[max_startups]") {
  const MaxStartups m{10, 30, 40};
  CHECK(startup_drop_percent(m, 0) == 0);
  CHECK(startup_drop_percent(m, 9) == 0);
  CHECK(startup_drop_percent(m, 10) == 30);
  CHECK(startup_drop_percent(m, 25) == 65);  // 30 + 70 * 15 / 30
  CHECK(startup_drop_percent(m, 39) == 97);  // 30 + 70 * 29 / 30, rounded down
  CHECK(startup_drop_percent(m, 40) == 100);
  CHECK(startup_drop_percent(m, 1000) == 100);
  // The random draw decides: below the chance is a drop.
  CHECK_FALSE(startup_dropped(m, 9, 0));
  CHECK(startup_dropped(m, 10, 29));
  CHECK_FALSE(startup_dropped(m, 10, 30));
  CHECK(startup_dropped(m, 40, 99));
  // "N": nothing dropped below N, everything at N.
  const MaxStartups n{5, 100, 5};
  CHECK(startup_drop_percent(n, 4) == 0);
  CHECK(startup_drop_percent(n, 5) == 100);
  CHECK_FALSE(startup_dropped(n, 4, 0));
  CHECK(startup_dropped(n, 5, 99));
}

TEST_CASE("sources: IPv4 per address, IPv6 per /64", "[max_startups]") {
  CHECK(source_group("127.0.0.2") == "127.0.0.2");
  CHECK(source_group("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(source_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  CHECK(source_group("2001:db8:1:2::1") == source_group("2001:db8:1:2:ffff::9"));
  CHECK(source_group("2001:db8:1:3::1") != source_group("2001:db8:1:2::1"));
  CHECK(source_group("::1") == "::/64");
  CHECK(source_group("unknown") == "unknown");
}

namespace {
// A ServerContext over a throwaway audit store, for its counters.
struct Context {
  testutil::TempDir d;
  std::string err;
  std::unique_ptr<SqliteAuditStore> audit = SqliteAuditStore::open(d / "audit.db", err);
  recorder::Flusher flusher{100};
  TargetKinds kinds;
  ServerContext ctx{std::make_shared<Config>(), kinds, *audit, flusher};
};
}  // namespace

TEST_CASE("unauthenticated connections are counted per source and in total", "[max_startups]") {
  Context c;
  REQUIRE(c.audit);
  Limits lim;
  lim.per_source_max_startups = 2;
  lim.max_startups = {3, 50, 5};
  using S = ServerContext::Startup;
  auto& ctx = c.ctx;
  CHECK(ctx.admit_startup("10.0.0.1", lim, 0) == S::admitted);
  CHECK(ctx.admit_startup("10.0.0.1", lim, 0) == S::admitted);
  CHECK(ctx.admit_startup("10.0.0.1", lim, 99) == S::per_source_full);  // the per-source cap comes first
  CHECK(ctx.admit_startup("10.0.0.2", lim, 0) == S::admitted);
  CHECK(ctx.unauthenticated() == 3);
  // At start (3): dropped with 50%: a draw below 50 drops, 50 and above admits.
  CHECK(ctx.admit_startup("10.0.0.3", lim, 49) == S::max_startups);
  CHECK(ctx.admit_startup("10.0.0.3", lim, 50) == S::admitted);
  CHECK(ctx.admit_startup("10.0.0.4", lim, 74) == S::max_startups);  // 4 open: 75%
  CHECK(ctx.admit_startup("10.0.0.4", lim, 75) == S::admitted);
  CHECK(ctx.admit_startup("10.0.0.5", lim, 99) == S::max_startups);  // full
  CHECK(ctx.unauthenticated() == 5);
  // Leaving (authenticated or closed) gives the slots back.
  ctx.end_startup("10.0.0.1");
  CHECK(ctx.unauthenticated() == 4);
  CHECK(ctx.admit_startup("10.0.0.1", lim, 99) == S::admitted);
  CHECK(ctx.admit_startup("10.0.0.1", lim, 99) == S::per_source_full);
  for (const char* s : {"10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}) ctx.end_startup(s);
  CHECK(ctx.unauthenticated() == 0);
  // Sessions are a separate count.
  CHECK(ctx.acquire_session(1));
  CHECK_FALSE(ctx.acquire_session(1));
  CHECK(ctx.admit_startup("10.0.0.1", lim, 0) == S::admitted);
  ctx.release_session();
  CHECK(ctx.sessions() == 0);
}
