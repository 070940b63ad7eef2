#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "audit/sqlite_audit_store.h"
#include "test_util.h"

using namespace bastion;

namespace {
std::string query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  std::string out;
  sqlite3_exec(
      h, sql.c_str(),
      [](void* o, int n, char** v, char**) {
        auto* s = static_cast<std::string*>(o);
        for (int i = 0; i < n; ++i) *s += std::string(i ? "|" : "") + (v[i] ? v[i] : "NULL");
        *s += "\n";
        return 0;
      },
      &out, nullptr);
  sqlite3_close(h);
  return out;
}
}  // namespace

TEST_CASE("schema is created in WAL mode and versioned", "[audit]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  CHECK(store->schema_version() == SqliteAuditStore::kSchemaVersion);
  CHECK(query(d / "audit.db", "PRAGMA journal_mode") == "wal\n");
  store.reset();
  // Reopening is a no-op migration.
  store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  CHECK(store->schema_version() == SqliteAuditStore::kSchemaVersion);
}

TEST_CASE("a database from a newer bastiond is refused", "[audit]") {
  testutil::TempDir d;
  query(d / "audit.db", "PRAGMA user_version=99");
  std::string err;
  CHECK(SqliteAuditStore::open(d / "audit.db", err) == nullptr);
  CHECK(err == (d / "audit.db") + ": database schema version 99 is newer than this bastiond (" +
                 std::to_string(SqliteAuditStore::kSchemaVersion) + ")");
}

TEST_CASE("sessions, commands and auth events round-trip", "[audit]") {
  testutil::TempDir d;
  std::string err;
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  REQUIRE(s->session_started({.id = "S1",
                              .identity = "alice",
                              .principals = {"ops", "dev"},
                              .cert_serial = 42,
                              .key_id = "alice",
                              .ca_fingerprint = "SHA256:x",
                              .source_address = "10.0.0.1",
                              .target = "web1",
                              .started_at = "2026-01-01T00:00:00.000Z"},
                             err));
  int64_t id = 0;
  REQUIRE(s->command_started({.session_id = "S1",
                              .channel = 0,
                              .at = "2026-01-01T00:00:01.000Z",
                              .kind = "exec",
                              .text = "uname -a",
                              .decision = "allow",
                              .reason = "",
                              .recording = "/r/S1-0.cast",
                              .policy_hash = "abc123",
                              .policy_hook = "on_command",
                              .policy_source = "main.lua:3",
                              .details = "{\"verb\":\"get\"}"},
                             id, err));
  CHECK(id > 0);
  REQUIRE(s->command_ended({.command_id = id,
                            .ended_at = "2026-01-01T00:00:02.000Z",
                            .exit_status = 0,
                            .exit_signal = "",
                            .bytes_in = 5,
                            .bytes_out = 120,
                            .recording_state = "complete",
                            .rows = 3,
                            .duration_us = 1500,
                            .error = "",
                            .masked_columns = "email"},
                           err));
  REQUIRE(s->session_ended({.id = "S1",
                            .ended_at = "2026-01-01T00:00:03.000Z",
                            .end_reason = "client disconnected",
                            .exit_status = 0,
                            .bytes_in = 5,
                            .bytes_out = 120,
                            .target = ""},
                           err));
  REQUIRE(s->auth_event({.at = "2026-01-01T00:00:00.000Z",
                         .source_address = "10.0.0.1",
                         .user = "web1",
                         .key_id = "alice",
                         .serial = 42,
                         .ca_fingerprint = "SHA256:x",
                         .accepted = false,
                         .reason = "certificate expired"},
                        err));
  CHECK(query(d / "audit.db", "SELECT id, identity, principals, cert_serial, target, end_reason, exit_status, "
                              "bytes_in, bytes_out, recording_path FROM sessions") ==
        "S1|alice|ops,dev|42|web1|client disconnected|0|5|120|/r/S1-0.cast\n");
  CHECK(query(d / "audit.db", "SELECT session_id, kind, text, decision, exit_status, bytes_out, recording_state "
                              "FROM commands") == "S1|exec|uname -a|allow|0|120|complete\n");
  CHECK(query(d / "audit.db", "SELECT policy_hash, policy_hook, policy_source FROM commands") ==
        "abc123|on_command|main.lua:3\n");
  CHECK(query(d / "audit.db", "SELECT user, accepted, reason FROM auth_events") == "web1|0|certificate expired\n");
  CHECK_FALSE(s->session_ended({"nope", "t", "r", std::nullopt, 0, 0, ""}, err));
  CHECK(err == "no session row nope");
}

TEST_CASE("a request row with a non-number where a time belongs reads as expired, not as a throw", "[audit]") {
  testutil::TempDir d;
  std::string err;
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  ApprovalRequest r;
  r.kind = "access";
  r.requester = "alice";
  r.target = "web1";
  r.approvers = {"oncall"};
  r.created_at = 1000;
  r.expires_at = 2000;
  r.grant_ttl = 60;
  REQUIRE(s->create_request(r, err));
  // Another writer of a shared store (or a hand edit) left text behind.
  query(d / "audit.db", "UPDATE approval_requests SET expires_at = 'soon', grant_ttl = '99999999999999999999' "
                        "WHERE id = " + std::to_string(r.id));
  const auto got = s->request(r.id, err);
  REQUIRE(got);
  CHECK(got->expires_at == 0);
  CHECK(got->grant_ttl == 0);
  CHECK(got->created_at == 1000);
}
