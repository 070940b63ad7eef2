// The audit store's behaviour, written once and run against both backends
// (store_backend.h): the same rows, the same chain bytes, the same refusals.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "audit/audit_chain.h"
#include "audit/audit_query.h"
#include "audit/audit_signer.h"
#include "audit/audit_source.h"
#include "audit/chain_verifier.h"
#include "audit/pg_listener.h"
#include "audit/policy_signature.h"
#include "policy/policy_library.h"
#include "recordings/stored_recording.h"
#include "store_backend.h"

using namespace bastion;
using testutil::StoreBackend;

namespace {

SessionStart session(const std::string& id) {
  return {.id = id,
          .identity = "alice",
          .principals = {"ops", "dev"},
          .cert_serial = 42,
          .key_id = "alice",
          .ca_fingerprint = "SHA256:x",
          .source_address = "10.0.0.1",
          .target = "web1",
          .started_at = "2026-01-01T00:00:00.000Z"};
}

ApprovalRequest access_request(const std::string& requester) {
  ApprovalRequest r;
  r.kind = "access";
  r.requester = requester;
  r.target = "db1";
  r.reason = "incident 7";
  r.approvers = {"bob", "carol"};
  r.min_approvals = 1;
  r.created_at = 1000;
  r.expires_at = 2000;
  r.grant_ttl = 600;
  return r;
}

void round_trip(StoreBackend& b) {
  std::string err;
  auto s = b.open(err);
  INFO(err);
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  int64_t id = 0;
  REQUIRE(s->command_started({.session_id = "S1", .channel = 0, .at = "2026-01-01T00:00:01.000Z", .kind = "exec",
                              .text = "uname -a", .decision = "allow", .reason = "", .recording = "/r/S1-0.cast",
                              .policy_hash = "abc123", .policy_hook = "on_command", .policy_source = "main.lua:3",
                              .details = "{\"verb\":\"get\"}"},
                             id, err));
  CHECK(id == 1);
  REQUIRE(s->command_ended({.command_id = id, .ended_at = "2026-01-01T00:00:02.000Z", .exit_status = 0,
                            .exit_signal = "", .bytes_in = 5, .bytes_out = 120, .recording_state = "complete",
                            .rows = 3, .duration_us = 1500, .error = "", .masked_columns = "email"},
                           err));
  REQUIRE(s->session_ended({.id = "S1", .ended_at = "2026-01-01T00:00:03.000Z", .end_reason = "client disconnected",
                            .exit_status = 0, .bytes_in = 5, .bytes_out = 120, .target = ""},
                           err));
  REQUIRE(s->auth_event({.at = "2026-01-01T00:00:00.000Z", .source_address = "10.0.0.1", .user = "web1",
                         .key_id = "alice", .serial = 42, .ca_fingerprint = "SHA256:x", .accepted = false,
                         .reason = "certificate expired"},
                        err));
  CHECK(b.sql("SELECT id, identity, principals, cert_serial, target, end_reason, exit_status, bytes_in, bytes_out, "
              "recording_path FROM sessions") ==
        "S1|alice|ops,dev|42|web1|client disconnected|0|5|120|/r/S1-0.cast\n");
  CHECK(b.sql("SELECT session_id, kind, text, decision, exit_status, bytes_out, recording_state, rows, duration_us, "
              "masked_columns FROM commands") == "S1|exec|uname -a|allow|0|120|complete|3|1500|email\n");
  CHECK(b.sql("SELECT \"user\", accepted, reason FROM auth_events") == "web1|0|certificate expired\n");
  CHECK_FALSE(s->session_ended({"nope", "t", "r", std::nullopt, 0, 0, ""}, err));
  CHECK(err == "no session row nope");
}
STORE_BACKEND_TEST("sessions, commands and auth events round-trip", round_trip)

// verify recomputes the chain from row_json: both backends must spell the
// same row in the same bytes, and hash the same entries alike.
void chain_bytes(StoreBackend& b) {
  std::string err;
  auto s = b.open(err, "bastiond");
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  const std::string want =
      "{\"bytes_in\":0,\"bytes_out\":0,\"ca_fingerprint\":\"SHA256:x\",\"cert_serial\":42,\"end_reason\":null,"
      "\"ended_at\":null,\"exit_status\":null,\"id\":\"S1\",\"identity\":\"alice\",\"key_id\":\"alice\","
      "\"principals\":\"ops,dev\",\"recording_path\":null,\"source_address\":\"10.0.0.1\",\"started_at\":"
      "\"2026-01-01T00:00:00.000Z\",\"target\":\"web1\"}";
  CHECK(b.sql("SELECT seq, tbl, row_key, row_json, prev_hash, writer FROM audit_chain") ==
        "1|sessions|S1|" + want + "|" + kChainGenesis + "|bastiond\n");
  const std::string at = b.sql("SELECT at FROM audit_chain");
  CHECK(b.sql("SELECT hash FROM audit_chain") ==
        chain_hash(kChainGenesis, 1, "sessions", "S1", want, "bastiond", at.substr(0, at.size() - 1)) + "\n");
  // Text that is not UTF-8 goes the general path (base64), alike too.
  ApprovalRequest r = access_request("alice");
  r.reason = "caf\xc3\xa9";
  REQUIRE(s->create_request(r, err));
  CHECK(b.sql("SELECT row_json FROM audit_chain WHERE tbl='approval_requests'") ==
        "{\"approvers\":\"bob,carol\",\"channel\":0,\"command_kind\":\"\",\"command_text\":\"\",\"created_at\":1000,"
        "\"decided_at\":null,\"decided_by\":null,\"deny_reason\":null,\"expires_at\":2000,\"grant_expires_at\":null,"
        "\"grant_ttl\":600,\"id\":1,\"kind\":\"access\",\"min_approvals\":1,\"reason\":\"caf\xc3\xa9\","
        "\"requester\":\"alice\",\"session_id\":\"\",\"state\":\"pending\",\"target\":\"db1\"}\n");
}
STORE_BACKEND_TEST("chain entries are the same bytes on every backend", chain_bytes)

// Recordings off the host (issue 20): where each recording lives is a
// chained row of its own on both backends, spelt alike; the shipper's list
// and the readers' lookup work the same on either.
void recording_locations(StoreBackend& b) {
  std::string err;
  auto s = b.open(err, "bastiond");
  INFO(err);
  REQUIRE(s);
  const std::string dir = "/var/lib/bastion/recordings";
  const auto open_rec = [&](const std::string& sid) {
    int64_t id = 0;
    REQUIRE(s->recording_opened(
        {.session_id = sid, .channel = 0, .path = dir + "/2026-11-30/" + sid + "-0.cast", .opened_at = "t",
         .start = {}},
        id, err));
    return id;
  };
  const auto close_rec = [&](int64_t id) {
    REQUIRE(s->recording_closed(id, 0, {.events = 1, .bytes = 2, .digest = "d", .tail = "", .signature = "", .at = "t"},
                                err));
  };
  const int64_t a = open_rec("20261130T101010-aaaa"), c = open_rec("20261130T101010-cccc");
  int64_t upto = -1;
  CHECK(s->recordings_to_ship(0, 10, upto, err).empty());
  CHECK(err.empty());
  CHECK(upto == a - 1);
  auto open = s->recordings_open(10, err);
  REQUIRE(open.size() == 2);
  CHECK((open[0].id == a && open[0].location == "local" && open[0].state == "open"));
  close_rec(a);
  auto list = s->recordings_to_ship(0, 10, upto, err);
  REQUIRE(list.size() == 1);
  CHECK((list[0].id == a && list[0].location == "local" && list[0].object_key.empty() && list[0].state == "closed"));
  CHECK(upto == c - 1);
  const std::string key = "2026-11-30/20261130T101010-aaaa-0.cast";
  REQUIRE(s->recording_location(a, "uploading", key, err));
  list = s->recordings_to_ship(0, 10, upto, err);
  REQUIRE(list.size() == 1);
  CHECK((list[0].location == "uploading" && list[0].object_key == key));
  REQUIRE(s->recording_location(a, "stored", key, err));
  CHECK(s->recordings_to_ship(0, 10, upto, err).empty());
  // The chained row: the same JSON on both backends (verify recomputes it).
  const std::string at = b.sql("SELECT at FROM recording_locations");
  CHECK(b.sql("SELECT row_json FROM audit_chain WHERE tbl='recording_locations' ORDER BY seq DESC LIMIT 1") ==
        "{\"at\":\"" + at.substr(0, at.size() - 1) + "\",\"object_key\":\"" + key + "\",\"recording_id\":" +
            std::to_string(a) + ",\"state\":\"stored\"}\n");
  // Readers find the object through either backend.
  const auto src = open_audit_source(b.where(), b.password(), err);
  REQUIRE(src);
  RecordingsStoreConfig store;
  store.type = "s3", store.endpoint = "http://s3.test", store.bucket = "rec";
  const auto where = stored_recording(*src, store, dir, dir + "/2026-11-30/20261130T101010-aaaa-0.cast", err);
  REQUIRE(where);
  CHECK(where->url == "http://s3.test/rec/" + key);
  CHECK_FALSE(stored_recording(*src, store, dir, dir + "/2026-11-30/20261130T101010-cccc-0.cast", err));
  CHECK(err.empty());
  // A location edited with SQL is neither adopted by the store nor followed by a reader.
  b.sql("UPDATE recording_locations SET object_key='elsewhere' WHERE recording_id=" + std::to_string(a));
  CHECK_FALSE(s->recording_location(a, "stored", key, err));
  CHECK(err == "audit row changed outside bastiond: recording_locations " + std::to_string(a));
  CHECK_FALSE(stored_recording(*src, store, dir, dir + "/2026-11-30/20261130T101010-aaaa-0.cast", err));
  CHECK(err == "its location row names object elsewhere, not the one bastiond writes for it");
}
STORE_BACKEND_TEST("recording locations: the shipper's list, chained rows, readers", recording_locations)

void tamper_refused(StoreBackend& b) {
  std::string err;
  auto s = b.open(err);
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  b.sql("UPDATE sessions SET target='other' WHERE id='S1'");
  CHECK_FALSE(s->session_ended({"S1", "2026-01-01T00:00:03.000Z", "done", 0, 0, 0, ""}, err));
  CHECK(err == "audit row changed outside bastiond: sessions S1");
  // An approval written with SQL is never acted on: it reads as denied.
  ApprovalRequest r = access_request("alice");
  REQUIRE(s->create_request(r, err));
  b.sql("UPDATE approval_requests SET state='approved', grant_expires_at=5000 WHERE id=" + std::to_string(r.id));
  const auto got = s->request(r.id, err);
  REQUIRE(got);
  CHECK(got->state == ApprovalState::denied);
  CHECK(got->deny_reason == "audit row changed outside bastiond: approval_requests " + std::to_string(r.id));
  CHECK_FALSE(s->active_grant("alice", "db1", 1500, err));
}
STORE_BACKEND_TEST("a row changed with SQL is refused, an approval forged with SQL is not honoured", tamper_refused)

void approvals(StoreBackend& b) {
  std::string err;
  auto s = b.open(err);
  REQUIRE(s);
  ApprovalRequest r = access_request("alice");
  REQUIRE(s->create_request(r, err));
  CHECK(r.id == 1);
  int64_t after = 0;
  auto pending = s->pending_after(after, err);
  REQUIRE(pending.size() == 1);
  CHECK(after == 1);
  CHECK(s->pending_request_count(1500, err) == 1);
  REQUIRE(s->add_vote(r.id, {"bob", "approve", "ok", 1100}, err));
  CHECK_FALSE(s->add_vote(r.id, {"bob", "approve", "again", 1101}, err));  // one vote per approver
  REQUIRE(s->transition(r.id, ApprovalState::pending, ApprovalState::approved, 1100, "bob", "", 1700, err));
  CHECK_FALSE(s->transition(r.id, ApprovalState::pending, ApprovalState::denied, 1101, "carol", "no", 0, err));
  const auto g = s->active_grant("alice", "db1", 1500, err);
  REQUIRE(g);
  CHECK(g->id == r.id);
  CHECK(g->grant_expires_at == 1700);
  REQUIRE(g->votes.size() == 1);
  CHECK(g->votes[0].approver == "bob");
  CHECK_FALSE(s->active_grant("alice", "db1", 1700, err));  // expired at its end
  CHECK_FALSE(s->active_grant("mallory", "db1", 1500, err));
  CHECK(s->pending_request_count(1500, err) == 0);
  CHECK(s->requests("alice", err).size() == 1);
  CHECK(s->requests("bob", err).empty());
}
STORE_BACKEND_TEST("approval requests, votes, transitions and grants", approvals)

void recordings(StoreBackend& b) {
  std::string err;
  auto s = b.open(err);
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  int64_t rec = 0, rec2 = 0;
  REQUIRE(s->recording_opened({"S1", 0, "/r/a.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}}, rec, err));
  REQUIRE(s->recording_opened({"S1", 1, "/r/b.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}}, rec2, err));
  REQUIRE(s->recording_checkpoint(rec, {3, 30, "d3", "", "sig3", "2026-01-01T00:00:01Z"}, err));
  REQUIRE(s->recording_closed(rec, 0, {5, 50, "d5", "t5", "sig5", "2026-01-01T00:00:02Z"}, err));
  CHECK(s->mark_interrupted("2026-01-01T00:00:09Z", err) == 1);
  CHECK(b.sql("SELECT id, state, events, digest, cp_events FROM recordings ORDER BY id") ==
        "1|closed|5|d5|3\n2|interrupted|0|d0|NULL\n");
  CHECK(b.sql("SELECT ended_at, end_reason FROM sessions") ==
        "2026-01-01T00:00:09Z|interrupted (bastiond stopped without closing it)\n");
  CHECK(b.sql("SELECT row_key FROM audit_chain WHERE tbl='recording_checkpoints'") == "1/3\n");
  CHECK(s->recordings_ended_before("2027-01-01T00:00:00Z", err).size() == 2);
  REQUIRE(s->recording_pruned(rec, "2026-02-01T00:00:00Z", "retention", err));
  CHECK_FALSE(s->recording_pruned(rec, "2026-02-01T00:00:00Z", "retention", err));
  CHECK(err == "recording 1 is not closed");
}
STORE_BACKEND_TEST("recordings: open, checkpoint, close, interrupt, prune", recordings)

// Two writers (two processes, or two bastiond instances on one PostgreSQL)
// appending at once must still form one chain: every entry's prev_hash is
// the previous entry's hash, seqs without a gap.
void two_writers(StoreBackend& b) {
  std::string err;
  auto a = b.open(err, "writer-a");
  REQUIRE(a);
  auto c = b.open(err, "writer-b");
  REQUIRE(c);
  constexpr int kEach = 40;
  auto write = [](SqlAuditStore* s, const std::string& prefix, bool& ok) {
    std::string e;
    ok = true;
    for (int i = 0; i < kEach && ok; ++i) ok = s->session_started(session(prefix + std::to_string(i)), e);
  };
  bool ok_a = false, ok_c = false;
  std::thread ta(write, a.get(), "A", std::ref(ok_a)), tc(write, c.get(), "C", std::ref(ok_c));
  ta.join();
  tc.join();
  CHECK(ok_a);
  CHECK(ok_c);
  const std::string rows = b.sql("SELECT seq, tbl, row_key, row_json, prev_hash, hash, writer, at FROM audit_chain ORDER BY seq");
  std::vector<std::vector<std::string>> entries;
  std::size_t pos = 0;
  while (pos < rows.size()) {
    const std::size_t nl = rows.find('\n', pos);
    std::vector<std::string> f;
    std::string line = rows.substr(pos, nl - pos), cur;
    // row_json holds no '|' here: split on it.
    for (char ch : line) {
      if (ch == '|') f.push_back(cur), cur.clear();
      else cur += ch;
    }
    f.push_back(cur);
    entries.push_back(f);
    pos = nl + 1;
  }
  REQUIRE(entries.size() == 2 * kEach);
  std::string prev = kChainGenesis;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    INFO("entry " << i);
    CHECK(e[0] == std::to_string(i + 1));
    CHECK(e[4] == prev);
    CHECK(e[5] == chain_hash(prev, static_cast<int64_t>(i + 1), e[1], e[2], e[3], e[6], e[7]));
    prev = e[5];
  }
}
STORE_BACKEND_TEST("two writers appending at once keep one chain", two_writers)

void migrations(StoreBackend& b) {
  // Instances starting together: each opens (and would migrate) at once.
  std::unique_ptr<SqlAuditStore> s1, s2;
  std::string e1, e2;
  std::thread t1([&] { s1 = b.open(e1); }), t2([&] { s2 = b.open(e2); });
  t1.join();
  t2.join();
  INFO(e1 << " / " << e2);
  CHECK(s1);
  CHECK(s2);
  s1.reset();
  s2.reset();
  b.set_schema_version(99);
  std::string err;
  CHECK_FALSE(b.open(err));
  CHECK(err.find("schema version 99 is newer than this bastiond (" + std::to_string(b.current_schema_version()) +
                 ")") != std::string::npos);
}
STORE_BACKEND_TEST("migrations run once when instances start together; a newer schema is refused", migrations)

// The auditors' reader (bastionctl audit, session show, the web API) gives
// the same rows from either store, --grep folding case alike.
void auditors_read(StoreBackend& b) {
  std::string err;
  auto s = b.open(err);
  REQUIRE(s);
  REQUIRE(s->session_started(session("S1"), err));
  SessionStart s2 = session("S2");
  s2.identity = "bob", s2.started_at = "2026-01-01T00:00:05.000Z";
  REQUIRE(s->session_started(s2, err));
  int64_t id = 0;
  REQUIRE(s->command_started({.session_id = "S1", .channel = 0, .at = "2026-01-01T00:00:01.000Z", .kind = "exec",
                              .text = "Uname -A", .decision = "allow", .reason = "", .recording = "",
                              .policy_hash = "", .policy_hook = "", .policy_source = "",
                              .details = "{\"channel_target\":\"db9\"}"},
                             id, err));
  REQUIRE(s->command_started({.session_id = "S2", .channel = 0, .at = "2026-01-01T00:00:06.000Z", .kind = "exec",
                              .text = "ls", .decision = "deny", .reason = "no", .recording = "",
                              .policy_hash = "", .policy_hook = "", .policy_source = "", .details = "not json"},
                             id, err));
  REQUIRE(s->auth_event({.at = "2026-01-01T00:00:00.000Z", .source_address = "10.0.0.1", .user = "web1",
                         .key_id = "alice", .serial = 42, .ca_fingerprint = "SHA256:x", .accepted = true,
                         .reason = "Certificate OK"},
                        err));
  const auto q = AuditQuery::open(b.where(), err, b.password());
  INFO(err);
  REQUIRE(q);
  const auto sessions = q->sessions(AuditFilter{}, err);
  REQUIRE(sessions);
  REQUIRE(sessions->size() == 2);
  CHECK((*sessions)[0].id == "S2");
  CHECK((*sessions)[1].id == "S1");
  CHECK((*sessions)[1].commands == 1);
  AuditFilter grep;
  grep.grep = "uname -a";
  const auto found = q->commands(grep, err);
  REQUIRE(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].text == "Uname -A");
  CHECK((*found)[0].target == "db9");  // details.channel_target
  AuditFilter by_target;
  by_target.target = "web1";
  const auto web1 = q->commands(by_target, err);
  REQUIRE(web1);
  REQUIRE(web1->size() == 1);  // S2's: its details are not JSON, its session's target counts
  CHECK((*web1)[0].session_id == "S2");
  AuditFilter auth;
  auth.grep = "certificate ok";
  auth.target = "web1";
  const auto a = q->auth(auth, err);
  REQUIRE(a);
  REQUIRE(a->size() == 1);
  CHECK((*a)[0].accepted);
  const auto d = q->session_detail("S1", err);
  REQUIRE(d);
  CHECK(d->session.identity == "alice");
  CHECK_FALSE(q->session_detail("nope", err));
}
STORE_BACKEND_TEST("the auditors' reader lists, filters and greps alike", auditors_read)

// The policy store (issue 20): numbered versions per name, the active one
// and its history, "unchanged" for the same text, rollback to a stored
// version; every row chained; a row edited with SQL is not run.
void policy_store(StoreBackend& b) {
  std::string err;
  auto s = b.open(err, "bastionctl policy (root)");
  INFO(err);
  REQUIRE(s);
  testutil::TempDir keys;
  const auto key = AuditSigner::load_or_create(keys / "policy_key", err);
  const auto other = AuditSigner::load_or_create(keys / "other_key", err);
  REQUIRE((key && other));
  const std::vector<std::string> trusted{key->fingerprint()};
  const std::string v1 = "function on_command(c) return deny(\"one\") end\n";
  const std::string v2 = "local m = import(\"m\")\nfunction on_command(c) return deny(\"two\") end\n";
  const auto pol = [](const std::string& text, std::map<std::string, std::string> modules, const std::string& note) {
    return StoredPolicy{.name = "guard", .version = 0, .text = text, .modules = std::move(modules),
                        .hash = sha256_hex(text), .pushed_by = "", .pushed_at = "", .note = note};
  };
  int64_t version = 0;
  bool unchanged = true;
  StoredPolicy got;
  CHECK_FALSE(s->active_policy("guard", trusted, got, err));
  CHECK(err == "policy store: no policy named \"guard\" (push it with bastionctl policy push)");
  REQUIRE(s->push_policy(pol(v1, {}, "first"), "root", *key, version, unchanged, err));
  CHECK((version == 1 && !unchanged));
  REQUIRE(s->push_policy(pol(v1, {}, "again"), "alice", *key, version, unchanged, err));
  CHECK((version == 1 && unchanged));
  REQUIRE(s->push_policy(pol(v2, {{"m", "return {}\n"}}, ""), "alice", *key, version, unchanged, err));
  CHECK((version == 2 && !unchanged));
  // The same text with other modules is another version.
  REQUIRE(s->push_policy(pol(v2, {{"m", "return { x = 1 }\n"}}, ""), "alice", *key, version, unchanged, err));
  CHECK((version == 3 && !unchanged));
  REQUIRE(s->active_policy("guard", trusted, got, err));
  CHECK(got.version == 3);
  CHECK(got.text == v2);
  CHECK(got.modules == std::map<std::string, std::string>{{"m", "return { x = 1 }\n"}});
  CHECK(got.hash == sha256_hex(v2));
  CHECK(got.pushed_by == "alice");
  std::vector<int64_t> active;
  REQUIRE(s->active_versions({"guard", "other"}, active, err));
  CHECK(active == std::vector<int64_t>{3, 0});

  REQUIRE(s->activate_policy("guard", 1, "bob", *key, unchanged, err));
  CHECK_FALSE(unchanged);
  REQUIRE(s->activate_policy("guard", 1, "bob", *key, unchanged, err));
  CHECK(unchanged);
  CHECK_FALSE(s->activate_policy("guard", 9, "bob", *key, unchanged, err));
  CHECK(err == "policy guard has no version 9");
  CHECK_FALSE(s->activate_policy("other", 1, "bob", *key, unchanged, err));
  CHECK(err == "policy other has no version 1");
  REQUIRE(s->active_policy("guard", trusted, got, err));
  CHECK((got.version == 1 && got.text == v1 && got.modules.empty() && got.note == "first"));
  // Pushing what is active again is unchanged; pushing an older text anew is a new version.
  REQUIRE(s->push_policy(pol(v1, {}, ""), "alice", *key, version, unchanged, err));
  CHECK((version == 1 && unchanged));

  std::vector<StoredPolicyVersion> versions;
  REQUIRE(s->policy_versions("guard", versions, err));
  REQUIRE(versions.size() == 3);
  CHECK((versions[0].version == 1 && versions[0].active && versions[0].pushed_by == "root" && versions[0].note == "first"));
  CHECK((versions[1].version == 2 && !versions[1].active));
  CHECK((versions[2].version == 3 && !versions[2].active && versions[2].hash == sha256_hex(v2)));
  std::vector<PolicyActivation> history;
  REQUIRE(s->policy_activations("guard", history, err));
  REQUIRE(history.size() == 4);
  CHECK((history[0].version == 1 && history[0].action == "push" && history[0].changed_by == "root"));
  CHECK((history[2].version == 3 && history[2].action == "push" && history[2].changed_by == "alice"));
  CHECK((history[3].version == 1 && history[3].action == "rollback" && history[3].changed_by == "bob"));
  bool found = false;
  REQUIRE(s->read_policy("guard", 2, got, found, err));
  CHECK((found && got.version == 2 && got.modules.at("m") == "return {}\n"));
  REQUIRE(s->read_policy("guard", 7, got, found, err));
  CHECK_FALSE(found);

  // Every version and activation is chained, as the writer that made it.
  CHECK(b.sql("SELECT tbl, row_key, writer FROM audit_chain ORDER BY seq") ==
        "policy_versions|1|bastionctl policy (root)\npolicy_activations|1|bastionctl policy (root)\n"
        "policy_versions|2|bastionctl policy (root)\npolicy_activations|2|bastionctl policy (root)\n"
        "policy_versions|3|bastionctl policy (root)\npolicy_activations|3|bastionctl policy (root)\n"
        "policy_activations|4|bastionctl policy (root)\n");
  CHECK(b.sql("SELECT name, version, action, changed_by FROM policy_activations ORDER BY id") ==
        "guard|1|push|root\nguard|2|push|alice\nguard|3|push|alice\nguard|1|rollback|bob\n");
  CHECK_FALSE(s->push_policy(StoredPolicy{.name = "a/b", .version = 0, .text = "", .modules = {}, .hash = "",
                                          .pushed_by = "", .pushed_at = "", .note = ""},
                             "root", *key, version, unchanged, err));
  CHECK(err == "a policy name is 1 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit");

  // Each version and activation is signed by the pusher's key: a
  // configuration trusting only another key runs none of them, and verify
  // vouches for every row.
  CHECK(b.sql("SELECT tbl, row_id FROM policy_signatures ORDER BY id") ==
        "policy_versions|1\npolicy_activations|1\npolicy_versions|2\npolicy_activations|2\n"
        "policy_versions|3\npolicy_activations|3\npolicy_activations|4\n");
  CHECK_FALSE(s->active_policy("guard", {other->fingerprint()}, got, err));
  CHECK(err == "policy store: refused: store:guard@1 is signed by " + key->fingerprint() +
                   ", which policy_signers does not name");
  CHECK_FALSE(s->active_policy("guard", {}, got, err));
  CHECK(err.starts_with("policy store: policy_signers names no key"));
  {
    const auto src = open_audit_source(b.where(), b.password(), err);
    REQUIRE(src);
    const auto rep = verify_policy_signatures(*src, &trusted);
    CHECK(rep.rows == 7);
    CHECK(rep.problems.empty());
    CHECK(rep.signers == trusted);
    const std::vector<std::string> others{other->fingerprint()};
    CHECK(verify_policy_signatures(*src, &others).problems.size() == 7);
  }
  // A signature moved to another row, or a row edited under its
  // signature, does not verify.
  b.sql("UPDATE policy_signatures SET signature=(SELECT signature FROM policy_signatures WHERE tbl='policy_activations' "
        "AND row_id=1) WHERE tbl='policy_activations' AND row_id=4");
  CHECK_FALSE(s->active_policy("guard", trusted, got, err));
  CHECK(err == "policy store: refused: policy_activations 4 (store:guard@1, rollback): its signature does not "
               "match the row (edited, moved or copied after it was signed)");
  {
    const auto src = open_audit_source(b.where(), b.password(), err);
    REQUIRE(src);
    CHECK(verify_policy_signatures(*src, &trusted).problems ==
          std::vector<std::string>{"policy_activations 4 (store:guard@1, rollback): its signature does not match the "
                                   "row (edited, moved or copied after it was signed)"});
  }
  b.sql("DELETE FROM policy_signatures WHERE tbl='policy_activations' AND row_id=4");
  CHECK_FALSE(s->active_policy("guard", trusted, got, err));
  CHECK(err == "policy store: refused: policy_activations 4 (store:guard@1, rollback) is not signed (it was not "
               "written by bastionctl policy push or rollback)");

  // An edit with SQL (of the text, or of which version is active) is refused when loading.
  b.sql("UPDATE policy_versions SET text='function on_command(c) return allow() end' WHERE version=1");
  CHECK_FALSE(s->active_policy("guard", trusted, got, err));
  CHECK(err == "audit row changed outside bastiond: policy_versions 1");
  b.sql("INSERT INTO policy_activations (name, version, action, changed_by, changed_at) "
        "VALUES ('guard', 2, 'rollback', 'mallory', 'now')");
  CHECK_FALSE(s->active_policy("guard", trusted, got, err));
  CHECK(err == "audit row changed outside bastiond: policy_activations 5");
}
STORE_BACKEND_TEST("the policy store keeps versions, the active one and its history", policy_store)

}  // namespace

// LISTEN/NOTIFY (pg_listener.h): a change announced by one instance wakes
// the others; when the listening connection is cut it reconnects and
// reports once (what changed meanwhile), and notifications flow again.
TEST_CASE("postgresql store: approval notifications reach a listener, also after its connection is cut",
          "[.][pg-store]") {
  testutil::PgBackend b;
  std::string err;
  auto s = b.open(err, "test");
  REQUIRE(s);
  std::atomic<int> calls{0};
  PgListener listener({b.dsn(), b.password_file()}, kApprovalsChannel, [&calls] { ++calls; });
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  REQUIRE(wait_for([&] { return listener.connected() && calls.load() == 1; }));  // the connect-time call
  ApprovalRequest r = access_request("alice");
  REQUIRE(s->create_request(r, err));
  CHECK(wait_for([&] { return calls.load() == 2; }));
  // A write that is not about approvals announces nothing.
  REQUIRE(s->session_started(session("S1"), err));
  REQUIRE(s->add_vote(r.id, {"bob", "approve", "", 1100}, err));
  CHECK(wait_for([&] { return calls.load() == 3; }));
  b.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
  CHECK(wait_for([&] { return calls.load() == 4 && listener.connected(); }));  // reconnected: one call
  REQUIRE(s->transition(r.id, ApprovalState::pending, ApprovalState::approved, 1100, "bob", "", 1700, err));
  CHECK(wait_for([&] { return calls.load() == 5; }));
  CHECK(calls.load() == 5);
}

// A stored policy's change is announced on its own channel (the payload:
// its name), so instances reload at once; approvals do not wake it.
TEST_CASE("postgresql store: a policy push and rollback are announced on bastion_policy", "[.][pg-store]") {
  testutil::PgBackend b;
  std::string err;
  auto s = b.open(err, "test");
  REQUIRE(s);
  std::atomic<int> calls{0};
  PgListener listener({b.dsn(), b.password_file()}, kPolicyChannel, [&calls] { ++calls; });
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  REQUIRE(wait_for([&] { return listener.connected() && calls.load() == 1; }));  // the connect-time call
  const auto pol = [](const std::string& text) {
    return StoredPolicy{.name = "guard", .version = 0, .text = text, .modules = {}, .hash = sha256_hex(text),
                        .pushed_by = "", .pushed_at = "", .note = ""};
  };
  testutil::TempDir keys;
  const auto key = AuditSigner::load_or_create(keys / "policy_key", err);
  REQUIRE(key);
  int64_t version = 0;
  bool unchanged = false;
  REQUIRE(s->push_policy(pol("-- one\n"), "root", *key, version, unchanged, err));
  CHECK(wait_for([&] { return calls.load() == 2; }));
  REQUIRE(s->push_policy(pol("-- one\n"), "root", *key, version, unchanged, err));  // unchanged: nothing to announce
  ApprovalRequest r = access_request("alice");
  REQUIRE(s->create_request(r, err));  // another channel
  REQUIRE(s->push_policy(pol("-- two\n"), "root", *key, version, unchanged, err));
  CHECK(wait_for([&] { return calls.load() == 3; }));
  REQUIRE(s->activate_policy("guard", 1, "root", *key, unchanged, err));
  CHECK(wait_for([&] { return calls.load() == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(calls.load() == 4);
}

// Instances on one store: one that stops beating has its live sessions and
// open recordings interrupted by another, once; the survivor's are left.
TEST_CASE("postgresql store: a silent instance's sessions are marked interrupted by another", "[.][pg-store]") {
  testutil::PgBackend b;
  std::string err;
  auto a = b.open(err, "a"), c = b.open(err, "c");
  REQUIRE(a);
  REQUIRE(c);
  auto* pa = dynamic_cast<PgAuditStore*>(a.get());
  REQUIRE(pa);
  REQUIRE(a->register_instance("host-a", 1, err));
  REQUIRE(c->register_instance("host-c", 1, err));
  REQUIRE(a->session_started(session("SA"), err));
  REQUIRE(c->session_started(session("SC"), err));
  int64_t rec = 0;
  REQUIRE(a->recording_opened({"SA", 0, "/r/a.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}}, rec, err));
  using Beat = SqlAuditStore::Beat;
  REQUIRE(a->heartbeat(err) == Beat::ok);
  REQUIRE(c->heartbeat(err) == Beat::ok);
  CHECK(c->interrupt_silent_instances("2026-01-01T00:01:00Z", 3, err) == 0);  // both beating
  // A went silent 4 of its intervals ago.
  b.sql("UPDATE instances SET last_seen = last_seen - 4 WHERE id = '" + pa->instance_id() + "'");
  CHECK(c->interrupt_silent_instances("2026-01-01T00:01:00Z", 3, err) == 1);
  CHECK(b.sql("SELECT id, ended_at, end_reason FROM sessions ORDER BY id") ==
        "SA|2026-01-01T00:01:00Z|interrupted (bastiond instance on host-a stopped heartbeating)\nSC|NULL|NULL\n");
  CHECK(b.sql("SELECT state, closed_at FROM recordings") == "interrupted|2026-01-01T00:01:00Z\n");
  CHECK(b.sql("SELECT host, stopped FROM instances ORDER BY host") == "host-a|2026-01-01T00:01:00Z\nhost-c|NULL\n");
  // Chained like any other write.
  CHECK(b.sql("SELECT tbl, row_key, writer FROM audit_chain WHERE seq > 3 ORDER BY seq") ==
        "recordings|1|c\nsessions|SA|c\n");
  CHECK(c->interrupt_silent_instances("2026-01-01T00:02:00Z", 3, err) == 0);  // once
  CHECK(a->heartbeat(err) == Beat::declared_stopped);
  CHECK(err == "this instance was declared stopped by another (missed heartbeats)");
  // Registered again (what bastiond does then): a new id, beating.
  const std::string old_id = pa->instance_id();
  REQUIRE(a->register_instance("host-a", 1, err));
  CHECK(pa->instance_id() != old_id);
  CHECK(a->heartbeat(err) == Beat::ok);
  CHECK(c->interrupt_silent_instances("2026-01-01T00:03:00Z", 3, err) == 0);
  CHECK(b.sql("SELECT host, stopped FROM instances ORDER BY host, stopped") ==
        "host-a|2026-01-01T00:01:00Z\nhost-a|NULL\nhost-c|NULL\n");
}

// Two instances on one store, each with the audit key: every write signs its
// own entries before it commits, so neither's anchor names the other's
// entries foreign and the whole chain verifies (through the same reader
// bastionctl verify uses). Each lists only its own recordings to ship: the
// other's open one neither appears nor holds its watermark; a stopped
// instance's are listed by the next one on its host with its folder.
TEST_CASE("postgresql store: instances sign their own writes and ship their own recordings", "[.][pg-store]") {
  testutil::PgBackend b;
  testutil::TempDir d;
  std::string err;
  const std::shared_ptr<const AuditSigner> signer = AuditSigner::load_or_create(d / "k", err);
  REQUIRE(signer);
  auto a = b.open(err, kBastiondWriter), c = b.open(err, kBastiondWriter);
  REQUIRE(a);
  REQUIRE(c);
  a->set_signer(signer);
  c->set_signer(signer);
  REQUIRE(a->register_instance("host-a", 1, err));
  REQUIRE(c->register_instance("host-c", 1, err));
  a->ships_from("/r/a/");
  c->ships_from("/r/c");
  REQUIRE(a->session_started(session("SA"), err));
  REQUIRE(c->session_started(session("SC"), err));
  int64_t open_a = 0, done_c = 0, done_a = 0;
  REQUIRE(a->recording_opened({"SA", 0, "/r/a/2026-01-01/SA-0.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}},
                              open_a, err));
  REQUIRE(c->recording_opened({"SC", 0, "/r/c/2026-01-01/SC-0.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}},
                              done_c, err));
  REQUIRE(a->recording_opened({"SA", 1, "/r/a/2026-01-01/SA-1.cast", "2026-01-01T00:00:00Z", {0, 0, "d0", "", "", ""}},
                              done_a, err));
  REQUIRE(c->recording_closed(done_c, 0, {5, 50, "d5", "t5", "sig5", "2026-01-01T00:00:02Z"}, err));
  REQUIRE(a->recording_closed(done_a, 0, {5, 50, "d5", "t5", "sig5", "2026-01-01T00:00:02Z"}, err));
  int64_t upto = 0;
  auto list = c->recordings_to_ship(0, 10, upto, err);
  REQUIRE(list.size() == 1);
  CHECK(list[0].id == done_c);
  CHECK(upto == done_a);  // A's open recording does not hold C back
  CHECK(c->recordings_open(10, err).empty());
  list = a->recordings_to_ship(0, 10, upto, err);
  REQUIRE(list.size() == 1);
  CHECK(list[0].id == done_a);
  CHECK(upto == open_a - 1);  // its own open one does
  REQUIRE(a->recordings_open(10, err).size() == 1);
  CHECK(a->recordings_open(10, err)[0].id == open_a);
  // Retention too: each prunes only its own.
  REQUIRE(a->session_ended({"SA", "2026-01-01T00:00:03.000Z", "done", 0, 0, 0, ""}, err));
  REQUIRE(c->session_ended({"SC", "2026-01-01T00:00:03.000Z", "done", 0, 0, 0, ""}, err));
  const auto old_c = c->recordings_ended_before("2027-01-01T00:00:00Z", err);
  REQUIRE(old_c.size() == 1);
  CHECK(old_c[0].id == done_c);
  const auto old_a = a->recordings_ended_before("2027-01-01T00:00:00Z", err);
  REQUIRE(old_a.size() == 1);
  CHECK(old_a[0].id == done_a);
  // Every anchor names nothing foreign; the chain verifies whole.
  CHECK(b.sql("SELECT count(*) FROM audit_anchors WHERE foreign_seqs <> '[]'") == "0\n");
  {
    const auto src = open_audit_source(b.where(), b.password(), err);
    REQUIRE(src);
    REQUIRE(src->begin_snapshot(err));
    const ChainReport rep = verify_audit_chain(*src, signer->verifier());
    CHECK(rep.problems.empty());
    CHECK(rep.foreign.empty());
    CHECK(rep.entries == rep.signed_upto);
  }
  // A stops; the next bastiond on its host, with its folder, ships what it
  // left (closed, and the open one marked interrupted); one on another host,
  // or another folder on that host, does not.
  REQUIRE(a->instance_stopped("2026-01-01T00:01:00Z", err));
  b.sql("UPDATE recordings SET state='interrupted' WHERE id=" + std::to_string(open_a));
  auto again = b.open(err, kBastiondWriter), other_dir = b.open(err, kBastiondWriter);
  REQUIRE(again);
  REQUIRE(other_dir);
  REQUIRE(again->register_instance("host-a", 1, err));
  REQUIRE(other_dir->register_instance("host-a", 1, err));
  again->ships_from("/r/a");
  other_dir->ships_from("/r/a2");
  list = again->recordings_to_ship(0, 10, upto, err);
  REQUIRE(list.size() == 2);
  CHECK((list[0].id == open_a && list[1].id == done_a));
  CHECK(other_dir->recordings_to_ship(0, 10, upto, err).empty());
  CHECK(c->recordings_to_ship(0, 10, upto, err).size() == 1);
}
