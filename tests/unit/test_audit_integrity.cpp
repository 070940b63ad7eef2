#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "audit/audit_chain.h"
#include "audit/audit_seal.h"
#include "audit/audit_signer.h"
#include "audit/audit_source.h"
#include "audit/chain_verifier.h"
#include "audit/recording_retention.h"
#include "audit/recording_verifier.h"
#include "audit/sqlite_audit_store.h"
#include "audit/sqlite_handles.h"
#include "common/time_util.h"
#include "common/utc_time.h"
#include "recorder/line_chain.h"
#include "recorder/utf8.h"
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

ChainReport report(const std::string& db, const AuditVerifier& key) {
  std::string err;
  const auto h = open_audit_source(db, "", err);
  REQUIRE(h);
  return verify_audit_chain(*h, key);
}

std::vector<std::string> verify_db(const std::string& db, const AuditVerifier& key) { return report(db, key).problems; }

// One query's first column, as text.
std::string one(const std::string& db, const std::string& q) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// Re-dates the chain's last entry and recomputes its hash, as a writer of
// the store can.
void redate_last_entry(const std::string& db, const std::string& at) {
  const std::string seq = one(db, "SELECT MAX(seq) FROM audit_chain"), w = " FROM audit_chain WHERE seq=" + seq;
  const std::string h = chain_hash(one(db, "SELECT prev_hash" + w), std::stoll(seq), one(db, "SELECT tbl" + w),
                                   one(db, "SELECT row_key" + w), one(db, "SELECT row_json" + w),
                                   one(db, "SELECT writer" + w), at);
  sql(db, "UPDATE audit_chain SET at='" + at + "', hash='" + h + "' WHERE seq=" + seq);
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
                            .exit_status = 0, .bytes_in = 1, .bytes_out = 2, .target = ""}, err));
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
  SECTION("entries after the last anchor: not yet signed while young, a problem once older than 10 s") {
    s->set_signer(nullptr);
    REQUIRE(s->session_started(session("S2"), err));
    CHECK(verify_db(db, key).empty());
    CHECK(report(db, key).notes == std::vector<std::string>{
                                       "audit chain: entries 6..6 not yet signed (written in the last seconds; "
                                       "bastiond signs within a second)"});
    SECTION("signed") {
      s->set_signer(signer);
      REQUIRE(s->anchor_chain(true, err));
      CHECK(verify_db(db, key).empty());
      CHECK(report(db, key).notes.empty());
    }
    SECTION("older than 10 s (dated back, hash recomputed)") {
      redate_last_entry(db, "2026-01-01T00:00:00.000Z");
      CHECK(verify_db(db, key) == std::vector<std::string>{"audit chain: entries 6..6 are chained but unsigned (after the last signed anchor)"});
    }
    SECTION("dated in the future") {
      redate_last_entry(db, "2999-01-01T00:00:00.000Z");
      CHECK(verify_db(db, key) == std::vector<std::string>{"audit chain: entries 6..6 are chained but unsigned (after the last signed anchor)"});
    }
  }
  SECTION("a forged anchor") {
    // The first write anchored seq 1 at once; the forced anchor signed seq 5.
    sql(db, "UPDATE audit_anchors SET signature='" + signer->sign("something else") + "' WHERE seq=5");
    const auto p = verify_db(db, key);
    CHECK(p == std::vector<std::string>{"audit anchor 2 (seq 5): bad signature"});
    CHECK(report(db, key).notes ==
          std::vector<std::string>{"audit chain: entries 2..5 not yet signed (written in the last seconds; bastiond "
                                   "signs within a second)"});
  }
  SECTION("an anchor's list of foreign entries changed") {
    sql(db, "UPDATE audit_anchors SET foreign_seqs='[[2,3]]' WHERE seq=5");
    CHECK(verify_db(db, key).at(0) == "audit anchor 2 (seq 5): bad signature");
  }
}

TEST_CASE("a picked target is written on the running session's row, chained", "[integrity][i16]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  REQUIRE(signer);
  const std::string db = d / "audit.db";
  auto s = SqliteAuditStore::open(db, err);
  REQUIRE(s);
  s->set_signer(signer);
  SessionStart st = session("S1");
  st.target = "root";  // the login name, before the picker
  REQUIRE(s->session_started(st, err));
  REQUIRE(s->session_retargeted("S1", "web1", err));
  CHECK(one(db, "SELECT target FROM sessions WHERE id='S1'") == "web1");
  REQUIRE(s->anchor_chain(true, err));
  CHECK(verify_db(db, signer->verifier()).empty());
  // No such running session: refused, nothing written.
  CHECK_FALSE(s->session_retargeted("S2", "web1", err));
  CHECK(err == "no running session row S2");
  // A row edited outside the bastion is not re-chained over.
  sql(db, "UPDATE sessions SET target='db1' WHERE id='S1'");
  err.clear();
  CHECK_FALSE(s->session_retargeted("S1", "web2", err));
  CHECK_FALSE(err.empty());
  CHECK(one(db, "SELECT target FROM sessions WHERE id='S1'") == "db1");
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
  sql(db, "DROP TABLE recording_locations; DROP TABLE policy_versions; DROP TABLE policy_activations; DROP TABLE policy_signatures; "
          "DROP TABLE audit_chain; DROP TABLE audit_anchors; DROP TABLE recordings; DROP TABLE recording_checkpoints; DROP TABLE commands_fts; "
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
  // Retention deletes only files in bastiond's own layout under recordings/.
  const std::string rec_dir = d / "recordings";
  ::mkdir(rec_dir.c_str(), 0700);
  ::mkdir((rec_dir + "/2026-01-01").c_str(), 0700);
  const std::string path = rec_dir + "/2026-01-01/S1-0.cast";
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
  CHECK(one(d / "audit.db", "SELECT COUNT(*) FROM recording_checkpoints") == "1");
  chain.add(lines[2]);
  chain.add(lines[3]);
  std::string file;
  for (const auto& l : lines) file += l;
  RecordingRecord rec{.id = id, .session_id = "S1", .channel = 0, .path = path, .state = "open", .final_seal = {},
                      .checkpoints = {cp}, .pruned_at = "", .pruned_by = ""};
  const auto& key = signer->verifier();
  const auto interrupted = verify_recording(rec, file, key);
  CHECK(interrupted.what == "interrupted: verified up to event 1 (t=0.10 s); 2 later events written in the last 2 s "
                            "before the stop cannot be verified");
  CHECK(interrupted.ok);

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
        "truncated: file ends at event 2, store says 3 (after the last signed checkpoint, at event 1, t=0.10 s)");
  CHECK(verify_recording(rec, lines[0] + lines[1] + lines[3], key).what ==
        "lines deleted: file has 2 events, store says 3 (after the last signed checkpoint, at event 1, t=0.10 s)");
  rec.final_seal.events = 4;
  CHECK(verify_recording(rec, file, key).what == "bad signature on the final digest (events 4)");
  rec.final_seal.events = 3;

  // Retention: the session ended long ago; the file goes, the row says so.
  {
    std::ofstream(path) << file;
  }
  REQUIRE(s->session_ended({.id = "S1", .ended_at = "2026-01-01T00:01:00Z", .end_reason = "completed",
                            .exit_status = 0, .bytes_in = 0, .bytes_out = 0, .target = ""}, err));
  const int64_t jan_10 = 1767225600 + 9 * 86400;
  CHECK(prune_recordings(*s, rec_dir, 10 * 86400, jan_10, "test", false).pruned.empty());  // not yet past retention
  const PruneReport r = prune_recordings(*s, rec_dir, 86400, jan_10, "test", false);
  CHECK(r.pruned == std::vector<std::string>{path});
  CHECK(r.errors.empty());
  CHECK(access(path.c_str(), F_OK) != 0);
  CHECK(one(d / "audit.db", "SELECT COUNT(*) FROM recording_checkpoints") == "1");  // chained rows stay
  rec.state = "pruned", rec.pruned_at = "2026-01-10T00:00:00Z", rec.pruned_by = "test";
  CHECK(verify_recording(rec, std::nullopt, key).what == "pruned at 2026-01-10T00:00:00Z by test");
  // The prune is judged against the retention: the session ended 2026-01-01T00:01:00Z.
  const int64_t now = jan_10 + 3600;
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", 86400, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", 9 * 86400 - 60, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", 9 * 86400 - 59, now).what ==
        "pruned at 2026-01-10T00:00:00Z by test: pruned before its retention ended (session ended "
        "2026-01-01T00:01:00Z, retention " + format_duration(9 * 86400 - 59) + ")");
  CHECK_FALSE(judge_prune(rec, "2026-01-01T00:01:00Z", 9 * 86400 - 59, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", 0, now).what ==
        "pruned at 2026-01-10T00:00:00Z by test: pruned before its retention ended (no retention is configured)");
  CHECK_FALSE(judge_prune(rec, "", 86400, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00.250Z", 9 * 86400 - 60, now).what.find("before its retention") !=
        std::string::npos);  // 250 ms short
  CHECK(judge_prune(rec, "2026-01-01T00:00:59.750Z", 9 * 86400 - 60, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", std::nullopt, now).ok);
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", 86400, jan_10 - 61).what ==
        "pruned at 2026-01-10T00:00:00Z by test: a prune dated in the future");
  CHECK(judge_prune(rec, "2026-01-01T00:01:00Z", std::nullopt, now).what.find("(NOTE: ") != std::string::npos);
  REQUIRE(s->anchor_chain(true, err));
  std::string e2;
  const auto h = open_audit_source(d / "audit.db", "", e2);
  REQUIRE(h);
  CHECK(verify_audit_chain(*h, key).problems.empty());
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

TEST_CASE("entries bastiond did not append are named by its anchor and judged by their table", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  const std::string db = d / "audit.db";
  auto bastiond = SqliteAuditStore::open(db, err, kBastiondWriter);
  REQUIRE(bastiond);
  bastiond->set_signer(signer);
  REQUIRE(bastiond->session_started(session("S1"), err));  // seq 1, anchored at once
  auto ctl = SqliteAuditStore::open(db, err, "bastionctl cert issue (alice)");
  REQUIRE(ctl);
  REQUIRE(ctl->cert_issued({.serial = 42, .key_id = "bob", .principals = "ops", .valid_after = "1", .valid_before = "2",
                            .issued_at = "t", .issued_by = "alice", .ca_fingerprint = "f", .key_fingerprint = "k",
                            .source_address = "", .force_command = ""},
                           err));  // seq 2: foreign, an admin command's
  int64_t cid = 0;
  REQUIRE(bastiond->command_started(command("S1", "allow"), cid, err));  // seq 3: bastiond's
  REQUIRE(ctl->command_started(command("S1", "allow"), cid, err));       // seq 4: foreign, and never an admin's
  REQUIRE(bastiond->anchor_chain(true, err));
  CHECK(one(db, "SELECT foreign_seqs FROM audit_anchors ORDER BY id DESC LIMIT 1") == "[[2,2],[4,4]]");
  const ChainReport r = report(db, signer->verifier());
  CHECK(r.problems == std::vector<std::string>{"audit chain: entry 4 (commands " + std::to_string(cid) +
                                               "): not written by bastiond (it claims \"bastionctl cert issue (alice)\"), "
                                               "and no bastionctl command writes commands"});
  CHECK(r.notes == std::vector<std::string>{
                       "audit chain: entry 2 (issued_certs 42): written outside bastiond by bastionctl cert issue "
                       "(alice): check it"});
  REQUIRE(r.foreign.size() == 2);
  CHECK((r.foreign[1].seq == 4 && r.foreign[1].table == "commands" && !r.foreign[1].ok));

  SECTION("an entry claiming bastiond, appended while bastiond runs, is still foreign") {
    auto liar = SqliteAuditStore::open(db, err, kBastiondWriter);
    REQUIRE(liar->auth_event({.at = "t", .source_address = "a", .user = "web1", .key_id = "m", .serial = 1,
                              .ca_fingerprint = "f", .accepted = true, .reason = "forged"},
                             err));  // seq 5
    REQUIRE(bastiond->anchor_chain(true, err));
    CHECK(report(db, signer->verifier()).problems.back() ==
          "audit chain: entry 5 (auth_events 1): not written by bastiond (it claims \"bastiond\"), and no bastionctl "
          "command writes auth_events");
  }
  SECTION("what a killed bastiond left unsigned is a note for the next one") {
    bastiond->set_signer(nullptr);  // dies before its next anchor
    REQUIRE(bastiond->session_started(session("S2"), err));  // seq 5
    bastiond.reset();
    auto next = SqliteAuditStore::open(db, err, kBastiondWriter);
    next->set_signer(signer);
    REQUIRE(next->anchor_chain(true, err));
    const ChainReport r2 = report(db, signer->verifier());
    CHECK(r2.problems.size() == 1);  // entry 4, as before
    REQUIRE(r2.notes.size() == 2);
    CHECK(r2.notes[1].starts_with("audit chain: entry 5 (sessions S2): written by a bastiond that stopped before "
                                  "signing it (at "));
    CHECK(r2.notes[1].ends_with(", within 2 s of its last anchor): check it"));
  }
}

TEST_CASE("every checkpoint is kept: an edit is placed between two, an interrupted tail is judged by its span",
          "[integrity]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  const std::string db = d / "audit.db";
  auto s = SqliteAuditStore::open(db, err);
  REQUIRE(s);
  const std::string path = d / "S1-0.cast";
  std::vector<std::string> lines = {"{\"version\": 2}\n"};
  for (int i = 1; i <= 6; ++i) lines.push_back("[" + std::to_string(i) + ".5, \"o\", \"line " + std::to_string(i) + "\\r\\n\"]\n");
  recorder::LineChain chain;
  chain.add(lines[0]);
  int64_t id = 0;
  REQUIRE(s->recording_opened({.session_id = "S1", .channel = 0, .path = path, .opened_at = "t", .start = {}}, id, err));
  RecordingRecord rec{.id = id, .session_id = "S1", .channel = 0, .path = path, .state = "open", .final_seal = {},
                      .checkpoints = {}, .pruned_at = "", .pruned_by = ""};
  for (int i = 1; i <= 6; ++i) {
    chain.add(lines[static_cast<std::size_t>(i)]);
    if (i % 2) continue;  // checkpoints at events 2, 4, 6
    const auto st = chain.state();
    RecordingSeal cp{.events = st.events, .bytes = st.bytes, .digest = st.digest, .tail = "", .signature = "", .at = "t"};
    cp.signature = signer->sign(recording_seal_text(SealKind::checkpoint, path, "S1", 0, cp));
    REQUIRE(s->recording_checkpoint(id, cp, err));
    rec.checkpoints.push_back(cp);
  }
  CHECK(one(db, "SELECT COUNT(*) FROM recording_checkpoints WHERE recording_id=" + std::to_string(id)) == "3");
  CHECK(one(db, "SELECT cp_events FROM recordings") == "6");
  std::string file;
  for (const auto& l : lines) file += l;
  const auto& key = signer->verifier();
  rec.state = "interrupted";
  CHECK(verify_recording(rec, file, key).what == "interrupted: verified up to event 6 (t=6.50 s); no later events");

  auto with = [&](std::size_t i, const std::string& l) {
    std::string f;
    for (std::size_t k = 0; k < lines.size(); ++k) f += k == i ? l : lines[k];
    return f;
  };
  SECTION("an edit of event 3 is between the checkpoints at events 2 and 4") {
    const auto v = verify_recording(rec, with(3, "[3.5, \"o\", \"LINE 3\\r\\n\"]\n"), key);
    CHECK_FALSE(v.ok);
    CHECK(v.what == "interrupted, and edited: the file does not match the signed checkpoint at event 4 (t=4.50 s); it "
                    "matches up to event 2 (t=2.50 s): a line between them was edited, inserted or deleted");
    rec.state = "closed";
    const auto st = chain.state();
    rec.final_seal = {.events = st.events, .bytes = st.bytes, .digest = st.digest, .tail = chain.last_line_digest(),
                      .signature = "", .at = "t"};
    rec.final_seal.signature = signer->sign(recording_seal_text(SealKind::final, path, "S1", 0, rec.final_seal));
    CHECK(verify_recording(rec, file, key).ok);
    CHECK(verify_recording(rec, with(3, "[3.5, \"o\", \"LINE 3\\r\\n\"]\n"), key).what ==
          "edited: a line between event 2 and event 4 (t=2.50..4.50 s) differs from what was signed (same number of "
          "events, same size)");
    CHECK(verify_recording(rec, with(3, ""), key).what ==
          "lines deleted: file has 5 events, store says 6 (the first signed checkpoint that no longer matches is at "
          "event 4, t=5.50 s; the chain matches up to event 2, t=2.50 s)");
  }
  SECTION("an interrupted tail over 2 s of recording time is not accepted") {
    rec.checkpoints.pop_back();  // the last one at event 4 (t=4.5): events 5, 6 span 2 s
    CHECK(verify_recording(rec, file, key).what == "interrupted: verified up to event 4 (t=4.50 s); 2 later events "
                                                   "written in the last 2 s before the stop cannot be verified");
    CHECK(verify_recording(rec, file + "[6.6, \"o\", \"x\"]\n", key).what ==
          "interrupted: verified up to event 4 (t=4.50 s); 3 later events unverifiable (they span 2.10 s of recording "
          "time, more than 2 s)");
    CHECK_FALSE(verify_recording(rec, file + "[6.6, \"o\", \"x\"]\n", key).ok);
    CHECK_FALSE(verify_recording(rec, file + "[nan, \"o\", \"x\"]\n", key).ok);
    CHECK(verify_recording(rec, file + "junk\n", key).what ==
          "interrupted: verified up to event 4 (t=4.50 s); 3 later events unverifiable (event 7 is not a timed event)");
  }
}

TEST_CASE("anchors are chained, a clean close ends the leniency, a head can be expected", "[integrity]") {
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  const std::string db = d / "audit.db";
  auto bastiond = SqliteAuditStore::open(db, err, kBastiondWriter);
  REQUIRE(bastiond);
  bastiond->set_signer(signer);
  REQUIRE(bastiond->session_started(session("S1"), err));  // seq 1, anchor 1
  int64_t cid = 0;
  REQUIRE(bastiond->command_started(command("S1", "deny"), cid, err));  // seq 2
  REQUIRE(bastiond->anchor_chain(true, err));                           // anchor 2
  REQUIRE(bastiond->session_started(session("S2"), err));               // seq 3
  REQUIRE(bastiond->anchor_chain(true, err));                           // anchor 3
  const auto& key = signer->verifier();
  REQUIRE(verify_db(db, key).empty());

  SECTION("an anchor removed from the middle breaks the next one's signature") {
    sql(db, "DELETE FROM audit_anchors WHERE id=2");
    CHECK(verify_db(db, key) == std::vector<std::string>{"audit anchor 3 (seq 3): bad signature"});
  }
  SECTION("the head: printed, and expected") {
    const ChainReport r = report(db, key);
    const std::string hash3 = one(db, "SELECT hash FROM audit_chain WHERE seq=3");
    CHECK((r.signed_upto == 3 && r.signed_hash == hash3 && !r.signed_at.empty()));
    CHECK(!parse_chain_head("3:abc"));
    CHECK(!parse_chain_head(":" + hash3));
    CHECK(!parse_chain_head("x3:" + hash3));
    CHECK(!parse_chain_head("03:" + hash3));
    REQUIRE(parse_chain_head("3:" + hash3));
    const auto h = open_audit_source(db, "", err);
    REQUIRE(h);
    CHECK(verify_audit_chain(*h, key, parse_chain_head("3:" + hash3)).problems.empty());
    CHECK(verify_audit_chain(*h, key, ChainHead{4, hash3}).problems ==
          std::vector<std::string>{"audit chain: no entry 4 (--expect-head): entries after entry 3 were removed"});
    CHECK(verify_audit_chain(*h, key, ChainHead{2, hash3}).problems ==
          std::vector<std::string>{"audit chain: entry 2 has hash " + one(db, "SELECT hash FROM audit_chain WHERE seq=2") +
                                   ", not " + hash3 + " (--expect-head)"});
  }
  SECTION("after a clean close, an entry claiming bastiond dated just after the last anchor is a problem") {
    bastiond.reset();  // the close anchor, marked clean
    CHECK(one(db, "SELECT clean_close FROM audit_anchors ORDER BY id DESC LIMIT 1") == "1");
    sql(db, "UPDATE commands SET decision='allow' WHERE id=" + std::to_string(cid));
    auto liar = SqliteAuditStore::open(db, err, kBastiondWriter);
    REQUIRE(liar->auth_event({.at = "t", .source_address = "a", .user = "web1", .key_id = "m", .serial = 1,
                              .ca_fingerprint = "f", .accepted = true, .reason = "forged"},
                             err));  // seq 4, dated now: within 2 s of the close anchor
    liar.reset();
    auto next = SqliteAuditStore::open(db, err, kBastiondWriter);
    next->set_signer(signer);
    REQUIRE(next->anchor_chain(true, err));
    const ChainReport r = report(db, key);
    CHECK(std::find(r.problems.begin(), r.problems.end(),
                    "audit chain: entry 4 (auth_events 1): not written by bastiond (it claims \"bastiond\"), and no "
                    "bastionctl command writes auth_events") != r.problems.end());
  }
  SECTION("a row edited with SQL is neither adopted nor acted on") {
    sql(db, "UPDATE commands SET text='uptime' WHERE id=" + std::to_string(cid));
    CommandEnd end;
    end.command_id = cid;
    end.ended_at = "2026-01-01T00:00:02Z";
    CHECK(!bastiond->command_ended(end, err));
    CHECK(err == "audit row changed outside bastiond: commands " + std::to_string(cid));
    CHECK(one(db, "SELECT ended_at IS NULL FROM commands WHERE id=" + std::to_string(cid)) == "1");
    ApprovalRequest req;
    req.kind = "command";
    req.session_id = "S1";
    req.requester = "alice";
    req.target = "web1";
    req.approvers = {"oncall"};
    req.expires_at = 4102444800;
    REQUIRE(bastiond->create_request(req, err));
    REQUIRE(bastiond->request(req.id, err)->state == ApprovalState::pending);
    sql(db, "UPDATE approval_requests SET state='approved' WHERE id=" + std::to_string(req.id));
    const auto got = bastiond->request(req.id, err);
    REQUIRE(got);
    CHECK(got->state == ApprovalState::denied);
    CHECK(got->deny_reason == "audit row changed outside bastiond: approval_requests " + std::to_string(req.id));
    CHECK(!bastiond->transition(req.id, ApprovalState::approved, ApprovalState::used, 1, "bastiond", "", 0, err));
    CHECK(one(db, "SELECT state FROM approval_requests WHERE id=" + std::to_string(req.id)) == "approved");
  }
  SECTION("an approval request created outside bastiond fails, whatever writer it claims") {
    auto ctl = SqliteAuditStore::open(db, err, "bastionctl approvals (root)");
    ApprovalRequest req;
    req.kind = "access";
    req.requester = "alice";
    req.target = "web1";
    req.approvers = {"oncall"};
    REQUIRE(ctl->create_request(req, err));  // seq 4
    REQUIRE(bastiond->anchor_chain(true, err));
    CHECK(verify_db(db, key) ==
          std::vector<std::string>{"audit chain: entry 4 (approval_requests " + std::to_string(req.id) +
                                   "): an approval request created outside bastiond (it claims \"bastionctl "
                                   "approvals (root)\"); bastionctl never creates one"});
  }
  SECTION("the search index: past the last command, or a command missing from it") {
    CommandStart c = command("S1", "allow");
    c.text = "uptime";  // the trigram index holds texts of 3 or more characters
    int64_t up = 0;
    REQUIRE(bastiond->command_started(c, up, err));
    REQUIRE(bastiond->anchor_chain(true, err));
    REQUIRE(bastiond->index_pending(err));
    REQUIRE(one(db, "SELECT indexed_upto FROM commands_fts_progress") == std::to_string(up));
    CHECK(verify_db(db, key).empty());
    sql(db, "DELETE FROM commands_fts WHERE rowid=" + std::to_string(up));
    CHECK(verify_db(db, key) == std::vector<std::string>{"search index: command " + std::to_string(up) +
                                                         " missing from the index (bastionctl audit --grep would not "
                                                         "find it)"});
    sql(db, "UPDATE commands_fts_progress SET indexed_upto=99");
    CHECK(verify_db(db, key) == std::vector<std::string>{"search index: indexed up to command 99, past the last "
                                                         "command (" + std::to_string(up) + ")"});
  }
}

TEST_CASE("a chained write looks its row up by an index, never by a scan of the table", "[integrity][i17]") {
  // Each statement's recording checkpoint is chained: a scan made every
  // checkpoint cost grow with all the checkpoints the store ever held.
  testutil::TempDir d;
  std::string err;
  REQUIRE(SqliteAuditStore::open(d / "audit.db", err));
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open((d / "audit.db").c_str(), &h) == SQLITE_OK);
  for (const auto& t : kChainedTables) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, (std::string("EXPLAIN QUERY PLAN ") + t.select_one).c_str(), -1, &st, nullptr) ==
            SQLITE_OK);
    std::string plan;
    while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3)) + std::string("\n");
    sqlite3_finalize(st);
    INFO(t.name << ": " << plan);
    CHECK(plan.starts_with("SEARCH "));
    CHECK(plan.find("SCAN") == std::string::npos);
  }
  sqlite3_close(h);
  // The split keys find exactly the row whose whole key matches, a '/' in an approver too.
  sql(d / "audit.db",
      "INSERT INTO recording_checkpoints VALUES (12,345,1,'d','s','a'),(12,34,1,'d','s','a'),(1,2345,1,'d','s','a');"
      "INSERT INTO approval_votes VALUES (3,'bob/x','approve',NULL,1),(3,'bob','approve',NULL,1);");
  auto rows = [&](const ChainedTable& t, const std::string& key) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((d / "audit.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, t.select_one, -1, &st, nullptr) == SQLITE_OK);
    sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW)
      out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) + "|" +
             reinterpret_cast<const char*>(sqlite3_column_text(st, 1)) + ";";
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  };
  const ChainedTable& cps = *chained_table("recording_checkpoints");
  const ChainedTable& votes = *chained_table("approval_votes");
  CHECK(rows(cps, "12/345") == "12|345;");
  CHECK(rows(cps, "12/34") == "12|34;");
  CHECK(rows(cps, "1/2345") == "1|2345;");
  CHECK(rows(cps, "012/345").empty());
  CHECK(rows(cps, "12/345/").empty());
  CHECK(rows(votes, "3/bob/x") == "3|bob/x;");
  CHECK(rows(votes, "3/bob") == "3|bob;");
  CHECK(rows(votes, "03/bob").empty());
}

TEST_CASE("a channel's end rows and its recording checkpoint commit together, or none of them", "[integrity][i17]") {
  // One transaction per channel pass instead of one per end row and one per
  // checkpoint. A checkpoint that cannot be stored fails the end rows too.
  testutil::TempDir d;
  std::string err;
  std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  s->set_signer(signer);
  REQUIRE(s->session_started(session("S1"), err));
  int64_t rec = 0;
  REQUIRE(s->recording_opened({.session_id = "S1", .channel = 0, .path = "/r/S1-0.cast", .opened_at = "t",
                               .start = {.events = 1, .bytes = 10, .digest = "d0", .tail = "", .signature = "", .at = ""}},
                              rec, err));
  int64_t a = 0, b = 0, c = 0;
  REQUIRE(s->command_started(command("S1", "allow"), a, err));
  REQUIRE(s->command_started(command("S1", "allow"), b, err));
  REQUIRE(s->command_started(command("S1", "allow"), c, err));
  auto end = [](int64_t id, int64_t rows) {
    return CommandEnd{.command_id = id, .ended_at = "2026-01-01T00:00:02Z", .exit_status = 0, .exit_signal = "",
                      .bytes_in = 1, .bytes_out = 2, .recording_state = "complete", .rows = rows, .duration_us = 5,
                      .error = "", .masked_columns = ""};
  };
  const RecordingCheckpoint cp{.recording_id = rec,
                               .seal = {.events = 3, .bytes = 40, .digest = "d3", .tail = "", .signature = "sig", .at = "t"}};
  REQUIRE(s->commands_ended({end(a, 1), end(b, 2)}, &cp, err));
  CHECK(one(d / "audit.db", "SELECT group_concat(id || ':' || rows, ',') FROM commands WHERE ended_at IS NOT NULL") ==
        std::to_string(a) + ":1," + std::to_string(b) + ":2");
  CHECK(one(d / "audit.db", "SELECT recording_id || '/' || events || '/' || digest FROM recording_checkpoints") ==
        std::to_string(rec) + "/3/d3");
  CHECK(one(d / "audit.db", "SELECT cp_events FROM recordings") == "3");
  // All chained, the checkpoint first.
  CHECK(one(d / "audit.db", "SELECT group_concat(tbl, ',') FROM (SELECT tbl FROM audit_chain ORDER BY seq DESC LIMIT 3)") ==
        "commands,commands,recording_checkpoints");

  // The recording's row is closed: its checkpoint cannot be stored, and the
  // end row that came with it is not written either.
  REQUIRE(s->recording_closed(rec, c, {.events = 4, .bytes = 50, .digest = "d4", .tail = "t4", .signature = "sig", .at = "t"},
                              err));
  const RecordingCheckpoint late{.recording_id = rec,
                                 .seal = {.events = 4, .bytes = 50, .digest = "d4", .tail = "", .signature = "sig", .at = "t"}};
  CHECK_FALSE(s->commands_ended({end(c, 3)}, &late, err));
  CHECK(err == "no open recording row " + std::to_string(rec));
  CHECK(one(d / "audit.db", "SELECT ended_at IS NULL FROM commands WHERE id=" + std::to_string(c)) == "1");
  CHECK(one(d / "audit.db", "SELECT COUNT(*) FROM recording_checkpoints") == "1");
  REQUIRE(s->command_ended(end(c, 3), err));
  CHECK(one(d / "audit.db", "SELECT rows FROM commands WHERE id=" + std::to_string(c)) == "3");
  REQUIRE(s->anchor_chain(true, err));
  std::string e2;
  const auto h = open_audit_source(d / "audit.db", "", e2);
  REQUIRE(h);
  CHECK(verify_audit_chain(*h, signer->verifier()).problems.empty());
}

TEST_CASE("row_json spells a row exactly as nlohmann's dump does, on its fast path and off it", "[integrity][i17]") {
  // Stored chains were hashed over nlohmann's bytes: the row JSON built
  // without a json tree must be byte-identical, or verify breaks.
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(":memory:", &h) == SQLITE_OK);
  REQUIRE(sqlite3_exec(h, "CREATE TABLE t (b TEXT, a INTEGER, cp_x TEXT, \"z y\" TEXT, n TEXT, f REAL)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  const std::vector<std::string> texts = {"", "plain", "q\"uo\\te", std::string("c\x01\x1f\b\f\n\r\t\0!", 10),
                                          "del\x7f", "caf\xc3\xa9", "bad\xff", "~ }{"};
  sqlite3_stmt* ins = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "INSERT INTO t VALUES (?,?,?,?,?,?)", -1, &ins, nullptr) == SQLITE_OK);
  // The extremes and the doubles' exact-integer limit, one per text.
  const int64_t kInts[] = {INT64_MIN, -9007199254740993LL, -1, 0, 1, 42, 9007199254740993LL, INT64_MAX};
  static_assert(std::size(kInts) == 8);
  REQUIRE(texts.size() == std::size(kInts));
  int64_t k = -3;
  for (const auto& s : texts) {
    sqlite3_bind_text(ins, 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 2, kInts[static_cast<std::size_t>(k + 3)]);
    sqlite3_bind_text(ins, 3, "skipped", -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    sqlite3_bind_null(ins, 5);
    if (k == 4) sqlite3_bind_double(ins, 6, 0.1);  // a float row takes the general path
    else sqlite3_bind_null(ins, 6);
    REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_reset(ins);
    ++k;
  }
  sqlite3_finalize(ins);
  int rows = 0;
  // The second query repeats a name (the last value is kept, in the first's place).
  for (const char* query : {"SELECT * FROM t", "SELECT *, a AS b FROM t"}) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, query, -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      ++rows;
      // What nlohmann makes of the same values (the general path's rules).
      nlohmann::json j = nlohmann::json::object();
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const std::string name = sqlite3_column_name(st, c);
        if (name.starts_with("cp_")) continue;
        if (sqlite3_column_type(st, c) == SQLITE_NULL) j[name] = nullptr;
        else if (sqlite3_column_type(st, c) == SQLITE_INTEGER) j[name] = sqlite3_column_int64(st, c);
        else if (sqlite3_column_type(st, c) == SQLITE_FLOAT) j[name] = sqlite3_column_double(st, c);
        else {
          const std::string v(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                              static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
          std::string scratch;
          if (recorder::append_json_escaped(scratch, v)) j[name] = {{"base64", recorder::base64_encode(v)}};
          else j[name] = v;
        }
      }
      const std::string want = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      INFO(want);
      CHECK(row_json(st, 0) == want);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  CHECK(rows == 2 * static_cast<int>(texts.size()));
}

// verify's time arithmetic, the same on every backend: the store's own
// spellings, and those SQLite's julianday() read before.
TEST_CASE("stored times read as Unix seconds without SQL") {
  CHECK(parse_utc_time("2026-11-28T23:59:01.123Z").value() == Approx(1795910341.123));
  CHECK(parse_utc_time("2026-11-28T23:59:01Z").value() == 1795910341.0);
  CHECK(parse_utc_time("2026-11-28 23:59:01").value() == 1795910341.0);
  CHECK(parse_utc_time("2026-11-28T23:59").value() == 1795910340.0);
  CHECK(parse_utc_time("2026-11-29T01:59:01+02:00").value() == 1795910341.0);
  CHECK(parse_utc_time("2026-11-28").value() == 1795824000.0);
  CHECK(parse_utc_time(iso8601(1795910341)).value() == 1795910341.0);
  for (const char* bad : {"", "2026-11-28T", "2026-13-01", "2026-11-28T23:59:01.Z", "2026-11-28T23:59:01Zx",
                          "yesterday", "2026-11-28T23:59:01+0200"})
    CHECK_FALSE(parse_utc_time(bad));
}

TEST_CASE("chain_hash hashes the entry nlohmann's dump spells, on its fast path and off it", "[integrity]") {
  // Stored chains were hashed over nlohmann's bytes: the entry built
  // without a json tree must be byte-identical, or verify breaks.
  const std::vector<std::string> texts = {"",          "plain",     "q\"uo\\te", std::string("c\x01\x1f\b\f\n\r\t\0!", 10),
                                          "del\x7f",   "caf\xc3\xa9", "bad\xff", "{\"a\":\"b\\\\n\"}"};
  for (const auto& t : texts)
    for (int field = 0; field < 5; ++field) {
      std::vector<std::string> v = {"commands", "80", "{\"id\":80}", "bastiond-1", "2026-12-02T07:38:28.075Z"};
      v[static_cast<std::size_t>(field)] = t;
      const int64_t seq = field * 1000003LL - 7;
      const nlohmann::json entry = nlohmann::json::array({seq, v[0], v[1], v[2], v[3], v[4]});
      const std::string want =
          recorder::sha256_hex("prev\n" + entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      INFO(field << ": " << t);
      CHECK(chain_hash("prev", seq, v[0], v[1], v[2], v[3], v[4]) == want);
    }
}

TEST_CASE("iso8601_now stamps the present instant in the store's spelling", "[integrity]") {
  // Every audit row carries it; verify and the time bounds parse it back.
  for (int i = 0; i < 200; ++i) {
    // In whole milliseconds, as it stamps: seconds as a double round a time
    // just under a millisecond up when multiplied back (a flake once).
    using std::chrono::duration_cast, std::chrono::milliseconds, std::chrono::system_clock;
    const int64_t before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const std::string s = iso8601_now();
    const int64_t after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    INFO(s);
    REQUIRE(s.size() == 24);
    CHECK(s[4] == '-');
    CHECK(s[10] == 'T');
    CHECK(s[19] == '.');
    CHECK(s[23] == 'Z');
    const auto t = parse_utc_time(s);
    REQUIRE(t);
    CHECK(std::llround(*t * 1000) >= before);
    CHECK(std::llround(*t * 1000) <= after);
    // The same second as strftime spells it.
    CHECK(s.substr(0, 19) + "Z" == iso8601(static_cast<int64_t>(std::floor(*t + 1e-9))));
  }
}
