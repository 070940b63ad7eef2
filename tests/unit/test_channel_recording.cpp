// ChannelRecording's ledger: what it signs and stores about its file.
#include <catch2/catch.hpp>

#include <climits>
#include <filesystem>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "audit/sqlite_audit_store.h"
#include "common/time_util.h"
#include "session/channel_recording.h"
#include "test_util.h"

using namespace bastion;

namespace {

int64_t count(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

// The descriptor this process holds on `path`.
int fd_of(const std::string& path) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) == path) return std::stoi(e.path().filename().string());
  }
  return -1;
}

// What a channel pass does with a due checkpoint (ChannelPipeline::flush_audit, no end rows).
void store_due_checkpoint(ChannelRecording& rec, AuditStore& store, double now, double marker_delay = 0) {
  const auto cp = rec.due_checkpoint(now, marker_delay);
  if (!cp) return;
  std::string why;
  if (store.commands_ended({}, &*cp, why)) rec.checkpoint_stored(*cp);
  else rec.checkpoint_failed(why);
}

}  // namespace

TEST_CASE("a recording whose file cannot be written gets no checkpoint", "[channel_recording]") {
  // A checkpoint vouches that the file holds the lines up to it; after a
  // failed write the file does not, so none may be signed or stored.
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  recorder::Flusher flusher(3600 * 1000);  // flushes only when asked
  ChannelRecording rec;
  REQUIRE(rec.open({.dir = d / "rec", .session_id = "s1", .channel = 0}, {.pty = std::nullopt, .title = "t", .command = "yes"},
                   0, flusher, {.store = store.get(), .signer = nullptr}, err));
  rec.sink().write(Stream::out, "first\n");
  store_due_checkpoint(rec, *store, monotonic_seconds() + 2);
  REQUIRE(count(d / "audit.db", "SELECT count(*) FROM recording_checkpoints") == 1);
  CHECK(count(d / "audit.db", "SELECT events FROM recording_checkpoints") == 1);  // "first"

  // The file now answers every write with ENOSPC.
  const int fd = fd_of(rec.path());
  REQUIRE(fd >= 0);
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(full >= 0);
  REQUIRE(::dup2(full, fd) == fd);
  ::close(full);
  rec.sink().write(Stream::out, "second\n");
  store_due_checkpoint(rec, *store, monotonic_seconds() + 4);

  CHECK(count(d / "audit.db", "SELECT count(*) FROM recording_checkpoints") == 1);
  CHECK(count(d / "audit.db", "SELECT cp_events FROM recordings") == 1);
  const auto loss = rec.check();
  REQUIRE(loss);
  CHECK_FALSE(loss->capped);
  CHECK(loss->what == "recording failed: recording write failed: No space left on device");
  CHECK(rec.state() == RecordingState::failed);
}

TEST_CASE("command markers are sealed at once, or with the executor's batch", "[channel_recording]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  recorder::Flusher flusher(3600 * 1000);
  ChannelRecording rec;
  REQUIRE(rec.open({.dir = d / "rec", .session_id = "s1", .channel = 0}, {.pty = std::nullopt, .title = "t", .command = "psql"},
                   0, flusher, {.store = store.get(), .signer = nullptr}, err));
  const auto checkpoints = [&] { return count(d / "audit.db", "SELECT count(*) FROM recording_checkpoints"); };
  const double t0 = monotonic_seconds();
  // Output alone waits for the second.
  rec.sink().write(Stream::out, "x\n");
  CHECK(rec.checkpoint_due_in(t0, 0).value() > 0.9);
  store_due_checkpoint(rec, *store, t0);
  CHECK(checkpoints() == 0);

  SECTION("no batch: a marker is sealed at the next pass") {
    rec.marker("sql: SELECT 1");
    const double now = monotonic_seconds();
    CHECK(rec.checkpoint_due_in(now, 0) == 0.0);
    store_due_checkpoint(rec, *store, now);
    CHECK(checkpoints() == 1);
    CHECK(rec.checkpoint_due_in(now, 0) == std::nullopt);  // everything written is sealed
  }
  SECTION("a batch: the markers of many statements share one checkpoint, due after the first") {
    rec.marker("sql: SELECT 1");
    const double first = monotonic_seconds();
    rec.marker("decision: allow");
    rec.marker("sql: SELECT 2");
    const double due = rec.checkpoint_due_in(first, 0.25).value();
    CHECK(due <= 0.25);
    CHECK(due > 0.2);
    store_due_checkpoint(rec, *store, first + 0.1, 0.25);
    CHECK(checkpoints() == 0);
    store_due_checkpoint(rec, *store, first + 0.26, 0.25);
    CHECK(checkpoints() == 1);
    CHECK(count(d / "audit.db", "SELECT events FROM recording_checkpoints") == 4);
    // The next marker starts a new batch.
    rec.marker("decision: allow");
    CHECK(rec.checkpoint_due_in(monotonic_seconds(), 0.25).value() > 0.2);
  }
}
