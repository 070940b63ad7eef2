// Retention deletes only what bastiond wrote: a recordings row's path is
// data anyone who can write the store chooses.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "audit/recording_retention.h"
#include "audit/sqlite_audit_store.h"
#include "test_util.h"

using namespace bastion;

namespace {

bool exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

// A session S that ended 2026-01-01T00:01:00Z, its channel-0 recording row naming `path`.
int64_t ended_session_recording(SqliteAuditStore& s, const std::string& sid, const std::string& path) {
  std::string err;
  REQUIRE(s.session_started({.id = sid, .identity = "alice", .principals = {"ops"}, .cert_serial = 1,
                             .key_id = "alice", .ca_fingerprint = "SHA256:x", .source_address = "127.0.0.1",
                             .target = "web1", .started_at = "2026-01-01T00:00:00Z"},
                            err));
  int64_t id = 0;
  REQUIRE(s.recording_opened({.session_id = sid, .channel = 0, .path = path, .opened_at = "t", .start = {}}, id, err));
  REQUIRE(s.recording_closed(id, 0, {.events = 0, .bytes = 0, .digest = "", .tail = "", .signature = "", .at = "t"},
                             err));
  REQUIRE(s.session_ended({.id = sid, .ended_at = "2026-01-01T00:01:00.500Z", .end_reason = "completed",
                           .exit_status = 0, .bytes_in = 0, .bytes_out = 0, .target = ""},
                          err));
  return id;
}

}  // namespace

TEST_CASE("retention deletes only a session's own recording under recordings_dir, no symlink followed",
          "[retention]") {
  testutil::TempDir d;
  std::string err;
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  const std::string rec = d / "recordings";
  ::mkdir(rec.c_str(), 0700);
  ::mkdir((rec + "/2026-01-01").c_str(), 0700);
  ::mkdir((d / "elsewhere").c_str(), 0700);
  const std::string decoy = d / "decoy", own = rec + "/2026-01-01/S1-0.cast";
  std::ofstream(decoy) << "not a recording\n";
  std::ofstream(own) << "{}\n";
  std::ofstream(d / "elsewhere/S3-0.cast") << "{}\n";
  REQUIRE(::symlink((d / "elsewhere").c_str(), (rec + "/2026-01-02").c_str()) == 0);
  REQUIRE(::symlink(decoy.c_str(), (rec + "/2026-01-01/S4-0.cast").c_str()) == 0);
  ended_session_recording(*s, "S1", own);
  ended_session_recording(*s, "S2", decoy);                            // outside recordings_dir
  ended_session_recording(*s, "S3", rec + "/2026-01-02/S3-0.cast");    // through a symlinked day
  ended_session_recording(*s, "S4", rec + "/2026-01-01/S4-0.cast");    // the file is a symlink
  ended_session_recording(*s, "S5", rec + "/2026-01-01/S1-0.cast");    // another session's file
  const int64_t jan_10 = 1767225600 + 9 * 86400;

  // Not yet past retention by half a second: the cutoff keeps milliseconds.
  CHECK(prune_recordings(*s, rec, jan_10 - 1767225660, jan_10, "test", false).pruned.empty());
  const PruneReport r = prune_recordings(*s, rec, 86400, jan_10, "test", false);
  CHECK(r.pruned == std::vector<std::string>{own});
  CHECK(r.errors == std::vector<std::string>{
                        decoy + ": not a recording of session S2 under " + rec + "; left alone",
                        rec + "/2026-01-02/S3-0.cast: day directory: a symbolic link or not a directory; left alone",
                        rec + "/2026-01-01/S4-0.cast: not a regular file; left alone",
                        rec + "/2026-01-01/S1-0.cast: not a recording of session S5 under " + rec + "; left alone"});
  CHECK_FALSE(exists(own));
  CHECK(exists(decoy));
  CHECK(exists(d / "elsewhere/S3-0.cast"));
  CHECK(exists(rec + "/2026-01-01/S4-0.cast"));
  CHECK(s->recordings_ended_before("2026-02-01T00:00:00.000Z", err).size() == 4);  // the refused rows stay
}
