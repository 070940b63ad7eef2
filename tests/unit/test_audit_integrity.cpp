#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include <sqlite3.h>

#include "audit/audit_seal.h"
#include "audit/audit_signer.h"
#include "audit/chain_verifier.h"
#include "audit/recording_retention.h"
#include "audit/recording_verifier.h"
#include "audit/sqlite_audit_store.h"
#include "audit/sqlite_handles.h"
#include "recorder/line_chain.h"
#include "test_util.h"

using namespace bastion;

namespace {

void sql(const std::string& db, const std::string& q) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(h, q.c_str(), nullptr, nullptr, &msg);
  INFO((msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<std::string> verify_db(const std::string& db, const AuditVerifier& key) {
  std::string err;
  const SqliteDb h = open_sqlite_readonly(db, err);
  REQUIRE(h);
  return verify_audit_chain(h.get(), key).problems;
}

SessionStart session(const std::string& id) {
  return {.id = id, .identity = "alice", .principals = {"ops"}, .cert_serial = 1, .key_id = "alice",
          .ca_fingerprint = "SHA256:x", .source_address = "127.0.0.1", .target = "web1",
          .started_at = "2026-01-01T00:00:00Z"};
}

CommandStart command(const std::string& sid, const std::string& decision) {
  return {.session_id = sid, .channel = 0, .at = "2026-01-01T00:00:01Z", .kind = "exec", .text = "ls",
          .decision = decision, .reason = "", .recording = "", .policy_hash = "", .policy_hook = "",
          .policy_source = "", .details = ""};
}

}  // namespace

TEST_CASE("the audit key is made 0600 with its public half, and signs what verifies", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  auto signer = AuditSigner::load_or_create(d / "k", err);
  REQUIRE(signer);
  struct stat st{};
  REQUIRE(stat((d / "k").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto pub = AuditVerifier::from_pem_file(d / "k.pub", err);
  REQUIRE(pub);
  CHECK(pub->fingerprint() == signer->fingerprint());
  CHECK(signer->fingerprint().starts_with("SHA256:"));
  const std::string sig = signer->sign("text");
  CHECK(pub->verify("text", sig));
  CHECK_FALSE(pub->verify("text!", sig));
  CHECK_FALSE(pub->verify("text", "not base64"));
  CHECK_FALSE(pub->verify("text", ""));
  // Loaded again: the same key.
  auto again = AuditSigner::load_or_create(d / "k", err);
  REQUIRE(again);
  CHECK(again->fingerprint() == signer->fingerprint());
  CHECK(pub->verify("x", again->sign("x")));
  // A readable private key is refused, as every held key is.
  REQUIRE(chmod((d / "k").c_str(), 0640) == 0);
  CHECK_FALSE(AuditSigner::load_or_create(d / "k", err));
  CHECK(err == (d / "k") + ": mode 0640 is readable by group or others (chmod 600)");
  // Another key does not verify it.
  auto other = AuditSigner::load_or_create(d / "other", err);
  REQUIRE(other);
  CHECK_FALSE(pub->verify("text", other->sign("text")));
}

TEST_CASE("every store write is chained, anchors sign the head, direct SQL is caught", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  REQUIRE(signer);
  const std::string db = d / "audit.db";
  auto s = SqliteAuditStore::open(db, err);
  REQUIRE(s);
  s->set_signer(signer);
  REQUIRE(s->session_started(session("S1"), err));
  int64_t allowed = 0, denied = 0;
  REQUIRE(s->command_started(command("S1", "allow"), allowed, err));
  REQUIRE(s->command_started(command("S1", "deny"), denied, err));
  REQUIRE(s->auth_event({.at = "t", .source_address = "a", .user = "web1", .key_id = "alice", .serial = 1,
                         .ca_fingerprint = "f", .accepted = true, .reason = "ok"}, err));
  REQUIRE(s->session_ended({.id = "S1", .ended_at = "2026-01-01T00:01:00Z", .end_reason = "completed",
                            .exit_status = 0, .bytes_in = 1, .bytes_out = 2}, err));
  REQUIRE(s->anchor_chain(true, err));
  const auto& key = signer->verifier();
  CHECK(verify_db(db, key).empty());

  SECTION("an edited row") {
    sql(db, "UPDATE commands SET decision='allow' WHERE id=" + std::to_string(denied));
    CHECK(verify_db(db, key) == std::vector<std::string>{"commands " + std::to_string(denied) +
                                                         ": edited outside the bastion: decision: chained \"deny\", now \"allow\""});
  }
  SECTION("one invalid UTF-8 byte edited into another") {
    int64_t raw = 0;
    CommandStart c = command("S1", "allow");
    c.text = "rm \xff";
    REQUIRE(s->command_started(c, raw, err));
    REQUIRE(s->anchor_chain(true, err));
    CHECK(verify_db(db, key).empty());
    sql(db, "UPDATE commands SET text=CAST(X'726d20fe' AS TEXT) WHERE id=" + std::to_string(raw));
    CHECK(verify_db(db, key) == std::vector<std::string>{"commands " + std::to_string(raw) +
                                                         ": edited outside the bastion: text: chained {\"base64\":\"cm0g/w==\"}, now {\"base64\":\"cm0g/g==\"}"});
  }
  SECTION("a deleted row") {
    sql(db, "DELETE FROM auth_events");
    CHECK(verify_db(db, key) ==
          std::vector<std::string>{"auth_events 1: deleted outside the bastion (chained, no longer in the table)"});
  }
  SECTION("an inserted row") {
    sql(db, "INSERT INTO commands (session_id, channel, at, kind, text, decision) VALUES ('S1',0,'t','exec','x','allow')");
    CHECK(verify_db(db, key) == std::vector<std::string>{"commands 3: not in the audit chain (inserted outside the bastion)"});
  }
  SECTION("chain entries removed from the end") {
    sql(db, "DELETE FROM audit_chain WHERE seq >= 5");
    const auto p = verify_db(db, key);
    REQUIRE(p.size() >= 2);
    CHECK(p[0] == "audit anchor 2 (seq 5): the chain has no entry 5 (entries deleted)");
  }
  SECTION("a chain entry removed from the middle") {
    sql(db, "DELETE FROM audit_chain WHERE seq = 2");
    CHECK(verify_db(db, key).at(0) == "audit chain: entries 2 deleted (seq jumps from 1 to 3)");
  }
  SECTION("entries after the last anchor are reported unsigned") {
    s->set_signer(nullptr);
    REQUIRE(s->session_started(session("S2"), err));
    CHECK(verify_db(db, key) == std::vector<std::string>{"audit chain: entries 6..6 are chained but unsigned (after the last signed anchor)"});
    s->set_signer(signer);
    REQUIRE(s->anchor_chain(true, err));
    CHECK(verify_db(db, key).empty());
  }
  SECTION("a forged anchor") {
    // The first write anchored seq 1 at once; the forced anchor signed seq 5.
    sql(db, "UPDATE audit_anchors SET signature='" + signer->sign("something else") + "' WHERE seq=5");
    const auto p = verify_db(db, key);
    CHECK(p == std::vector<std::string>{"audit anchor 2 (seq 5): bad signature",
                                        "audit chain: entries 2..5 are chained but unsigned (after the last signed anchor)"});
  }
}

TEST_CASE("rows written before the chain existed are chained when the store migrates", "[integrity]") {
  testutil::TempDir d;
  const std::string db = d / "audit.db";
  std::string err;
  {
    auto s = SqliteAuditStore::open(db, err);
    REQUIRE(s);
  }
  // Roll back to a version-6 store holding one session, as an older bastiond left it.
  sql(db, "DROP TABLE audit_chain; DROP TABLE audit_anchors; DROP TABLE recordings; DROP TABLE commands_fts; "
          "DROP TABLE commands_fts_progress; DROP TRIGGER commands_fts_delete; DROP TRIGGER commands_fts_update; "
          "PRAGMA user_version=6;"
          "INSERT INTO sessions (id, identity, principals, cert_serial, key_id, ca_fingerprint, source_address, target, "
          "started_at) VALUES ('OLD','a','ops',1,'a','f','127.0.0.1','web1','2025-01-01T00:00:00Z')");
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  auto s = SqliteAuditStore::open(db, err);
  INFO(err);
  REQUIRE(s);
  s->set_signer(signer);
  REQUIRE(s->anchor_chain(true, err));
  CHECK(verify_db(db, signer->verifier()).empty());
}

TEST_CASE("a recording row: open, checkpoint, close, prune, and what verify says", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  s->set_signer(signer);
  REQUIRE(s->session_started(session("S1"), err));
  const std::string path = d / "S1-0.cast";
  const std::vector<std::string> lines = {"{\"version\": 2}\n", "[0.1, \"m\", \"exec: ls\"]\n", "[0.2, \"o\", \"a\\n\"]\n",
                                          "[0.3, \"o\", \"b\\n\"]\n"};
  recorder::LineChain chain;
  chain.add(lines[0]);
  auto seal = [&](SealKind kind) {
    const auto st = chain.state();
    RecordingSeal r{.events = st.events, .bytes = st.bytes, .digest = st.digest,
                    .tail = kind == SealKind::final ? chain.last_line_digest() : "", .signature = "", .at = "t"};
    r.signature = signer->sign(recording_seal_text(kind, path, "S1", 0, r));
    return r;
  };
  int64_t id = 0;
  REQUIRE(s->recording_opened({.session_id = "S1", .channel = 0, .path = path, .opened_at = "t", .start = seal(SealKind::checkpoint)},
                              id, err));
  chain.add(lines[1]);
  const RecordingSeal cp = seal(SealKind::checkpoint);
  REQUIRE(s->recording_checkpoint(id, cp, err));
  chain.add(lines[2]);
  chain.add(lines[3]);
  std::string file;
  for (const auto& l : lines) file += l;
  RecordingRecord rec{.id = id, .session_id = "S1", .channel = 0, .path = path, .state = "open", .final_seal = {},
                      .checkpoint = cp, .pruned_at = "", .pruned_by = ""};
  const auto& key = signer->verifier();
  CHECK(verify_recording(rec, file, key).what == "interrupted: verified up to event 1; 2 later events unverifiable");

  const RecordingSeal fin = seal(SealKind::final);
  REQUIRE(s->recording_closed(id, 7, fin, err));
  CHECK_FALSE(s->recording_checkpoint(id, cp, err));  // closed: no more checkpoints
  rec.state = "closed";
  rec.final_seal = fin;
  auto v = verify_recording(rec, file, key);
  CHECK(v.ok);
  CHECK(v.what == "OK (3 events, " + std::to_string(file.size()) + " bytes)");
  CHECK(verify_recording(rec, std::nullopt, key).what == "missing file: " + path);
  CHECK(verify_recording(rec, file.substr(0, file.size() - lines[3].size()), key).what ==
        "truncated: file ends at event 2, store says 3");
  CHECK(verify_recording(rec, lines[0] + lines[1] + lines[3], key).what ==
        "lines deleted: file has 2 events, store says 3 (the chain matches a signed checkpoint up to event 1)");
  rec.final_seal.events = 4;
  CHECK(verify_recording(rec, file, key).what == "bad signature on the final digest (events 4)");
  rec.final_seal.events = 3;

  // Retention: the session ended long ago; the file goes, the row says so.
  {
    std::ofstream(path) << file;
  }
  REQUIRE(s->session_ended({.id = "S1", .ended_at = "2026-01-01T00:01:00Z", .end_reason = "completed",
                            .exit_status = 0, .bytes_in = 0, .bytes_out = 0}, err));
  const int64_t jan_10 = 1767225600 + 9 * 86400;
  CHECK(prune_recordings(*s, 10 * 86400, jan_10, "test", false).pruned.empty());  // not yet past retention
  const PruneReport r = prune_recordings(*s, 86400, jan_10, "test", false);
  CHECK(r.pruned == std::vector<std::string>{path});
  CHECK(r.errors.empty());
  CHECK(access(path.c_str(), F_OK) != 0);
  rec.state = "pruned", rec.pruned_at = "2026-01-10T00:00:00Z", rec.pruned_by = "test";
  CHECK(verify_recording(rec, std::nullopt, key).what == "pruned at 2026-01-10T00:00:00Z by test");
  REQUIRE(s->anchor_chain(true, err));
  std::string e2;
  const SqliteDb h = open_sqlite_readonly(d / "audit.db", e2);
  CHECK(verify_audit_chain(h.get(), key).problems.empty());
}

TEST_CASE("a store restarted after a crash marks open recordings and sessions interrupted", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  int64_t id = 0;
  REQUIRE(s->recording_opened({.session_id = "S1", .channel = 0, .path = "p", .opened_at = "t", .start = {}}, id, err));
  CHECK(s->mark_interrupted("2026-01-02T00:00:00Z", err) == 1);
  CHECK(s->mark_interrupted("2026-01-02T00:00:00Z", err) == 0);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open((d / "audit.db").c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT r.state, s.end_reason FROM recordings r JOIN sessions s ON s.id=r.session_id", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "interrupted");
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))) ==
        "interrupted (bastiond stopped without closing it)");
  sqlite3_finalize(st);
  sqlite3_close(h);
}
