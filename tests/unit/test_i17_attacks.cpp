// Issue 17, outside review: unit-level holes in the performance work.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "audit/sqlite_audit_store.h"
#include "session/server_context.h"
#include "test_util.h"

using namespace bastion;

TEST_CASE("sessions going quiet cannot make the main loop trim memory more than once a second", "[i17]") {
  // server_context.h says so; the main loop calls malloc_trim(0) (a walk of
  // every arena, on the accepting thread) whenever take_memory_trim() says
  // yes, and it loops on every accepted connection: N quiet sessions plus
  // connects would make it walk the heap N times a second.
  testutil::TempDir d;
  std::string err;
  auto audit = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(audit);
  recorder::Flusher flusher{100};
  TargetKinds kinds;
  ServerContext ctx{std::make_shared<Config>(), kinds, *audit, flusher};
  ctx.want_memory_trim();
  CHECK(ctx.take_memory_trim());
  ctx.want_memory_trim();
  CHECK_FALSE(ctx.take_memory_trim());  // within the same second
  CHECK_FALSE(ctx.take_memory_trim());
  // The wish is kept, not lost: taken once the second is up.
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  CHECK(ctx.take_memory_trim());
  CHECK_FALSE(ctx.take_memory_trim());
}
