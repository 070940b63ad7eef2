#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "audit/audit_query.h"
#include "audit/case_fold.h"
#include "audit/sqlite_audit_store.h"
#include "common/time_util.h"
#include "test_util.h"

using namespace bastion;

namespace {

void sql(const std::string& db, const std::string& text) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &msg);
  INFO((msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

int64_t command(SqliteAuditStore& s, const std::string& session, int channel, const std::string& at,
                const std::string& kind, const std::string& text, const std::string& decision,
                const std::string& reason, const std::string& hook = "on_command") {
  std::string err;
  int64_t id = 0;
  REQUIRE(s.command_started({.session_id = session,
                             .channel = channel,
                             .at = at,
                             .kind = kind,
                             .text = text,
                             .decision = decision,
                             .reason = reason,
                             .recording = decision == "deny" ? "" : "/rec/" + session + "-" + std::to_string(channel) + ".cast",
                             .policy_hash = "h",
                             .policy_hook = hook,
                             .policy_source = "main.lua:7",
                             .details = ""},
                            id, err));
  return id;
}

void session(SqliteAuditStore& s, const std::string& id, const std::string& identity, const std::string& target,
             const std::string& start, const std::string& end) {
  std::string err;
  REQUIRE(s.session_started({.id = id,
                             .identity = identity,
                             .principals = {"ops"},
                             .cert_serial = 7,
                             .key_id = identity,
                             .ca_fingerprint = "SHA256:ca",
                             .source_address = "127.0.0.1",
                             .target = target,
                             .started_at = start},
                            err));
  if (!end.empty())
    REQUIRE(s.session_ended({.id = id, .ended_at = end, .end_reason = "client closed", .exit_status = 0,
                             .bytes_in = 3, .bytes_out = 9, .target = ""},
                            err));
}

int64_t review(SqliteAuditStore& s, const std::string& sid, int channel, const std::string& text, int64_t created,
               int64_t expires) {
  std::string err;
  ApprovalRequest r;
  r.kind = "command";
  r.session_id = sid;
  r.channel = channel;
  r.requester = "alice";
  r.target = "web1";
  r.command_kind = "exec";
  r.command_text = text;
  r.reason = "needs a second pair of eyes";
  r.approvers = {"oncall"};
  r.created_at = created;
  r.expires_at = expires;
  REQUIRE(s.create_request(r, err));
  return r.id;
}

std::vector<std::string> texts(const std::vector<CommandRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text);
  return out;
}

std::vector<std::string> ids(const std::vector<SessionRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

// 2026-11-30T10:00:00Z
const int64_t k10 = 1796032800;

struct Fixture {
  testutil::TempDir d;
  std::string db = d / "audit.db";
  int64_t approved_request = 0, denied_request = 0, expired_request = 0;
  Fixture() {
    std::string err;
    auto s = SqliteAuditStore::open(db, err);
    REQUIRE(s);
    session(*s, "S-old", "bob", "db1", "2026-11-29T08:00:00.000Z", "2026-11-29T08:30:00.000Z");
    command(*s, "S-old", 0, "2026-11-29T08:00:01.000Z", "exec", "cat /etc/passwd", "allow", "");
    session(*s, "S1", "alice", "web1", "2026-11-30T10:00:00.000Z", "");
    command(*s, "S1", 0, "2026-11-30T10:00:01.000Z", "exec", "uname -a", "allow", "");
    command(*s, "S1", 1, "2026-11-30T10:00:02.000Z", "exec", "sudo RM -RF /srv/Data", "deny", "no deleting");
    command(*s, "S1", 2, "2026-11-30T10:00:03.000Z", "exec", "systemctl restart nginx", "review", "needs review");
    approved_request = review(*s, "S1", 2, "systemctl restart nginx", k10 + 3, k10 + 300);
    REQUIRE(s->add_vote(approved_request, {"carol", "approve", "ok", k10 + 10}, err));
    REQUIRE(s->transition(approved_request, ApprovalState::pending, ApprovalState::approved, k10 + 10, "carol", "", 0,
                          err));
    REQUIRE(s->transition(approved_request, ApprovalState::approved, ApprovalState::used, k10 + 10, "carol", "", 0,
                          err));
    command(*s, "S1", 2, "2026-11-30T10:00:10.000Z", "exec", "systemctl restart nginx", "allow",
            "approved in request #1 by carol", "approval");
    command(*s, "S1", 3, "2026-11-30T10:00:20.000Z", "exec", "reboot", "review", "needs review");
    denied_request = review(*s, "S1", 3, "reboot", k10 + 20, k10 + 300);
    REQUIRE(s->add_vote(denied_request, {"dave", "deny", "not now", k10 + 25}, err));
    REQUIRE(s->transition(denied_request, ApprovalState::pending, ApprovalState::denied, k10 + 25, "dave", "not now", 0,
                          err));
    REQUIRE(s->session_ended({.id = "S1", .ended_at = "2026-11-30T10:05:00.000Z", .end_reason = "client closed",
                              .exit_status = 0, .bytes_in = 3, .bytes_out = 9, .target = ""},
                             err));
    session(*s, "S2", "carol", "web2", "2026-11-30T11:00:00.000Z", "");
    command(*s, "S2", 0, "2026-11-30T11:00:01.000Z", "shell", "", "allow", "");
    command(*s, "S2", 0, "2026-11-30T11:00:05.000Z", "shell-line", "echo \"quoted\" OR x", "allow", "");
    command(*s, "S2", 1, "2026-11-30T11:00:06.000Z", "exec", "shutdown -h now", "review", "needs review");
    expired_request = review(*s, "S2", 1, "shutdown -h now", 1000, 2000);  // long past
    REQUIRE(s->auth_event({.at = "2026-11-30T09:59:00.000Z", .source_address = "127.0.0.1", .user = "web1",
                           .key_id = "", .serial = 0, .ca_fingerprint = "", .accepted = false,
                           .reason = "not a certificate"},
                          err));
    REQUIRE(s->auth_event({.at = "2026-11-30T10:00:00.000Z", .source_address = "127.0.0.1", .user = "web1",
                           .key_id = "alice", .serial = 7, .ca_fingerprint = "SHA256:ca", .accepted = true,
                           .reason = "ok"},
                          err));
  }
  std::unique_ptr<AuditQuery> query() {
    std::string err;
    auto q = AuditQuery::open(db, err);
    INFO(err);
    REQUIRE(q);
    return q;
  }
};

}  // namespace

TEST_CASE("audit query: sessions by time window, identity, target and what they ran", "[audit_query]") {
  Fixture f;
  auto q = f.query();
  std::string err;
  using V = std::vector<std::string>;
  CHECK(ids(*q->sessions({}, err)) == V{"S2", "S1", "S-old"});
  AuditFilter since;
  since.since = k10 - 3600;  // 09:00: the old session ended the day before
  CHECK(ids(*q->sessions(since, err)) == V{"S2", "S1"});
  AuditFilter until;
  until.until = k10 + 60;  // S2 started at 11:00
  CHECK(ids(*q->sessions(until, err)) == V{"S1", "S-old"});
  AuditFilter live;
  live.since = k10 + 86400;  // S2 has not ended: still open then
  CHECK(ids(*q->sessions(live, err)) == V{"S2"});
  AuditFilter who;
  who.identity = "bob";
  CHECK(ids(*q->sessions(who, err)) == V{"S-old"});
  AuditFilter where;
  where.target = "web1";
  CHECK(ids(*q->sessions(where, err)) == V{"S1"});
  AuditFilter denied;
  denied.decision = "deny";
  CHECK(ids(*q->sessions(denied, err)) == V{"S1"});
  AuditFilter shells;
  shells.kind = "shell";
  CHECK(ids(*q->sessions(shells, err)) == V{"S2"});
  AuditFilter grep;
  grep.grep = "PASSWD";
  CHECK(ids(*q->sessions(grep, err)) == V{"S-old"});
  AuditFilter one;
  one.limit = 1;
  CHECK(ids(*q->sessions(one, err)) == V{"S2"});
  const auto all = *q->sessions(where, err);
  REQUIRE(all.size() == 1);
  CHECK(all[0].commands == 5);
  CHECK(all[0].end_reason == "client closed");
  CHECK(all[0].recording_path == "/rec/S1-0.cast,/rec/S1-2.cast,/rec/S1-2.cast,/rec/S1-3.cast");
  CHECK(err.empty());
}

TEST_CASE("audit query: commands with who, where, and how a review ended", "[audit_query]") {
  Fixture f;
  auto q = f.query();
  std::string err;
  AuditFilter s1;
  s1.session = "S1";
  const auto rows = *q->commands(s1, err);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].text == "reboot");
  REQUIRE(rows[0].approval);
  CHECK(rows[0].approval->id == f.denied_request);
  CHECK(rows[0].approval->outcome == "denied");
  CHECK(rows[0].approval->decided_by == "dave");
  CHECK(rows[0].approval->deny_reason == "not now");
  CHECK(rows[0].approval->approved_by() == "");
  REQUIRE(rows[0].approval->votes.size() == 1);
  CHECK(rows[0].approval->votes[0].decision == "deny");
  // Both the held row and the row recorded at approval name the request.
  for (int i : {1, 2}) {
    REQUIRE(rows[i].approval);
    CHECK(rows[i].approval->id == f.approved_request);
    CHECK(rows[i].approval->outcome == "approved");
    CHECK(rows[i].approval->state == "used");  // approved, then run
    CHECK(rows[i].approval->approved_by() == "carol");
  }
  CHECK(rows[1].decision == "allow");
  CHECK(rows[1].reason == "approved in request #1 by carol");
  CHECK(rows[2].decision == "review");
  CHECK_FALSE(rows[3].approval);
  CHECK(rows[3].decision == "deny");
  CHECK(rows[3].reason == "no deleting");
  CHECK(rows[3].identity == "alice");
  CHECK(rows[3].target == "web1");
  CHECK(rows[3].recording == "");
  CHECK(rows[4].recording == "/rec/S1-0.cast");
  CHECK(rows[4].policy_source == "main.lua:7");
  AuditFilter expired;
  expired.session = "S2";
  expired.decision = "review";
  const auto e = *q->commands(expired, err);
  REQUIRE(e.size() == 1);
  REQUIRE(e[0].approval);
  CHECK(e[0].approval->id == f.expired_request);
  CHECK(e[0].approval->outcome == "expired");  // pending in the store, past its deadline
  CHECK(e[0].approval->state == "pending");
  CHECK(err.empty());
}

TEST_CASE("audit query: command filters", "[audit_query]") {
  Fixture f;
  auto q = f.query();
  std::string err;
  using V = std::vector<std::string>;
  auto run = [&](AuditFilter a) { return texts(*q->commands(a, err)); };
  AuditFilter a;
  a.identity = "carol";
  CHECK(run(a) == V{"shutdown -h now", "echo \"quoted\" OR x", ""});
  a = {};
  a.target = "db1";
  CHECK(run(a) == V{"cat /etc/passwd"});
  a = {};
  a.since = k10 + 10;
  a.until = k10 + 20;  // inclusive to the second
  CHECK(run(a) == V{"reboot", "systemctl restart nginx"});
  a = {};
  a.kind = "shell-line";
  CHECK(run(a) == V{"echo \"quoted\" OR x"});
  a = {};
  a.decision = "deny";
  CHECK(run(a) == V{"sudo RM -RF /srv/Data"});
  a = {};
  a.limit = 2;
  CHECK(run(a) == V{"shutdown -h now", "echo \"quoted\" OR x"});
  CHECK(err.empty());
}

TEST_CASE("audit query: --grep is a case-insensitive substring, never query syntax", "[audit_query]") {
  Fixture f;
  auto q = f.query();
  std::string err;
  using V = std::vector<std::string>;
  auto grep = [&](const std::string& g) {
    AuditFilter a;
    a.grep = g;
    return texts(*q->commands(a, err));
  };
  CHECK(q->full_text("rm -rf"));
  CHECK(grep("rm -rf") == V{"sudo RM -RF /srv/Data"});
  CHECK(grep("srv/da") == V{"sudo RM -RF /srv/Data"});
  CHECK(grep("NGINX") == V{"systemctl restart nginx", "systemctl restart nginx"});
  // FTS5 syntax in the input is text: quotes, OR, NEAR, column filters, stars.
  CHECK(grep("\"quoted\" OR") == V{"echo \"quoted\" OR x"});
  CHECK(grep("quoted OR") == V{});
  CHECK(grep("text:reboot") == V{});
  CHECK(grep("reb*") == V{});
  // Shorter than a trigram: scanned with LIKE, wildcards escaped.
  CHECK_FALSE(q->full_text("-h"));
  CHECK(grep("-H") == V{"shutdown -h now"});
  CHECK(grep("%") == V{});
  CHECK(grep("_") == V{});
  CHECK(err.empty());
}

TEST_CASE("audit query: rows written before the index existed are found", "[audit_query]") {
  Fixture f;
  // As a store from before the migration (9): no index, nor what later
  // migrations add, older schema version.
  sql(f.db, "DROP TABLE recording_locations; DROP TABLE policy_versions; DROP TABLE policy_activations; DROP TABLE policy_signatures; "
            "DROP TABLE commands_fts; DROP TABLE commands_fts_progress; DROP TRIGGER commands_fts_delete; "
            "DROP TRIGGER commands_fts_update; PRAGMA user_version=8");
  {
    // Without the index (an unmigrated store read by a newer bastionctl): LIKE.
    auto q = f.query();
    CHECK_FALSE(q->full_text("passwd"));
    AuditFilter a;
    a.grep = "PassWD";
    std::string err;
    CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"cat /etc/passwd"});
  }
  std::string err;
  auto store = SqliteAuditStore::open(f.db, err);
  REQUIRE(store);
  auto q = f.query();
  CHECK(q->full_text("passwd"));
  AuditFilter a;
  a.grep = "PassWD";
  // Not indexed yet: found past indexed_upto by LIKE.
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"cat /etc/passwd"});
  // Indexed (bastiond does this about once a second): found by the index
  // alone; the LIKE tail is empty. Proven by an index hit LIKE cannot see.
  REQUIRE(store->index_pending(err));
  sql(f.db, "UPDATE commands_fts_progress SET indexed_upto = indexed_upto");
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"cat /etc/passwd"});
  sql(f.db, "INSERT INTO commands_fts(rowid, text) VALUES (-5, 'ghost passwd')");
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"cat /etc/passwd"});  // no row -5 in commands
  // A command written after indexing is found at once, by LIKE.
  command(*store, "S1", 0, "2026-11-30T10:00:09Z", "exec", "less /etc/PASSWD.bak", "allow", "");
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"less /etc/PASSWD.bak", "cat /etc/passwd"});
  REQUIRE(store->index_pending(err));
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"less /etc/PASSWD.bak", "cat /etc/passwd"});
}

TEST_CASE("audit query: the index is brought up to date in bounded batches", "[audit_query]") {
  Fixture f;
  std::string err;
  auto store = SqliteAuditStore::open(f.db, err);
  REQUIRE(store);
  for (int i = 0; i < SqliteAuditStore::kIndexBatch + 10; ++i)
    command(*store, "S1", 0, "2026-11-30T10:00:09Z", "exec", "echo needle" + std::to_string(i), "allow", "");
  auto progress = [&] {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(f.db.c_str(), &h) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, "SELECT indexed_upto, (SELECT max(id) FROM commands) FROM commands_fts_progress",
                               -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const auto r = std::make_pair(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return r;
  };
  REQUIRE(store->index_pending(err));
  auto [upto, max] = progress();
  CHECK(upto == SqliteAuditStore::kIndexBatch);  // ids 1..N: the first batch stops at the 2000th
  CHECK(max > upto);
  REQUIRE(store->index_pending(err));
  std::tie(upto, max) = progress();
  CHECK(upto == max);
  auto q = f.query();
  AuditFilter a;
  a.grep = "NEEDLE2009";
  CHECK(texts(*q->commands(a, err)) == std::vector<std::string>{"echo needle2009"});
}

TEST_CASE("audit query: auth rows", "[audit_query]") {
  Fixture f;
  auto q = f.query();
  std::string err;
  const auto all = *q->auth({}, err);
  REQUIRE(all.size() == 2);
  CHECK(all[0].accepted);
  CHECK(all[1].reason == "not a certificate");
  AuditFilter refused;
  refused.decision = "refused";
  REQUIRE(q->auth(refused, err)->size() == 1);
  AuditFilter bad;
  bad.decision = "deny";
  CHECK_FALSE(q->auth(bad, err));
  CHECK(err == "auth decisions are accepted or refused");
  err.clear();
  AuditFilter kind;
  kind.kind = "exec";
  CHECK_FALSE(q->auth(kind, err));
  CHECK(err == "--kind and --session do not apply to auth rows");
}

TEST_CASE("audit query: one session in detail, with the integrity table if there is one", "[audit_query]") {
  Fixture f;
  std::string err;
  {
    auto q = f.query();
    const auto d = q->session_detail("S1", err);
    REQUIRE(d);
    CHECK(d->session.identity == "alice");
    CHECK(d->commands.size() == 5);
    CHECK(d->commands[0].text == "uname -a");
    // The held command's row and its approved run share /rec/S1-2.cast: once.
    REQUIRE(d->recordings.size() == 3);
    CHECK(d->recordings[0].path == "/rec/S1-0.cast");
    CHECK(d->recordings[1].path == "/rec/S1-2.cast");
    CHECK(d->recordings[1].command_id == d->commands[2].id);
    CHECK(d->recordings[0].integrity.empty());
    CHECK_FALSE(q->session_detail("nope", err));
    CHECK(err.empty());
    const nlohmann::json j = *d;
    CHECK(j["session"]["id"] == "S1");
    CHECK(j["commands"][2]["approval"]["outcome"] == "approved");
    CHECK(j["commands"][2]["approval"]["votes"][0]["approver"] == "carol");
    CHECK(j["commands"][0]["approval"].is_null());
    CHECK(j["session"]["exit_status"] == 0);
  }
  // The integrity data the recordings table (migration 7) holds for a file.
  sql(f.db, "INSERT INTO recordings (session_id, channel, path, state, events, bytes, digest, opened_at) "
            "VALUES ('S1', 0, '/rec/S1-0.cast', 'closed', 12, 345, 'abcd', '2026-11-30T10:00:01.000Z')");
  {
    auto q = f.query();
    const auto d = q->session_detail("S1", err);
    REQUIRE(d);
    const auto& i = d->recordings[0].integrity;
    CHECK(i.at("state") == "closed");
    CHECK(i.at("events") == "12");
    CHECK(i.at("bytes") == "345");
    CHECK(i.at("digest") == "abcd");
    CHECK(d->recordings[1].integrity.empty());
  }
  // A store without the table (an older bastiond's) is read all the same.
  sql(f.db, "DROP TABLE recordings");
  auto q = f.query();
  const auto d = q->session_detail("S1", err);
  REQUIRE(d);
  CHECK(d->recordings.size() == 3);
  CHECK(d->recordings[0].integrity.empty());
}

TEST_CASE("audit query: a file that is not an audit store is refused at open", "[audit_query]") {
  testutil::TempDir d;
  std::string err;
  CHECK_FALSE(AuditQuery::open(d / "missing.db", err));
  CHECK(err == "unable to open database file");
  sql(d / "other.db", "CREATE TABLE x (y)");
  err.clear();
  CHECK_FALSE(AuditQuery::open(d / "other.db", err));
  CHECK(err == "no such table: sessions");
}

TEST_CASE("case folding for --grep: Unicode, the same as the index", "[audit_query]") {
  CHECK(fold_case("ÉTÉ Straße ΣΑΣ") == "été straße σασ");
  CHECK(fold_case("ABC\xff\xc3(") == "abc\xff\xc3(");  // bytes that are not UTF-8 stay
  CHECK(fold_case("\xc0\x80") == "\xc0\x80");          // an overlong NUL is not a character
}
