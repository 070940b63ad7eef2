// What tamper evidence costs an audited command: a command row written and
// ended (each write chained in its transaction, the head anchored at most
// once a second) and a signed recording checkpoint, on a real SQLite file.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <sqlite3.h>
#include <unistd.h>

#include "audit/audit_signer.h"
#include "audit/sqlite_audit_store.h"

namespace {

struct Store {
  std::string dir;
  std::shared_ptr<const bastion::AuditSigner> signer;
  std::unique_ptr<bastion::SqliteAuditStore> store;
  Store() {
    char tmpl[] = "/tmp/bench-audit-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    dir = tmpl;
    std::string err;
    signer = bastion::AuditSigner::load_or_create(dir + "/key", err);
    store = bastion::SqliteAuditStore::open(dir + "/audit.db", err);
    if (!signer || !store) std::abort();
    store->set_signer(signer);
    store->session_started({.id = "S", .identity = "alice", .principals = {"ops"}, .cert_serial = 1, .key_id = "alice",
                            .ca_fingerprint = "f", .source_address = "127.0.0.1", .target = "db1", .started_at = "t"},
                           err);
  }
  ~Store() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

void BM_CommandRowWrittenAndEnded(benchmark::State& st) {
  Store s;
  std::string err;
  for (auto _ : st) {
    int64_t id = 0;
    const bastion::CommandStart c{.session_id = "S", .channel = 1, .at = "2026-11-30T10:00:00.000Z", .kind = "sql",
                                  .text = "SELECT * FROM accounts WHERE id = 42", .decision = "allow", .reason = "",
                                  .recording = "/data/recordings/x.cast", .policy_hash = "abc",
                                  .policy_hook = "on_command", .policy_source = "p.lua:3", .details = "{}"};
    if (!s.store->command_started(c, id, err)) st.SkipWithError(err.c_str());
    const bastion::CommandEnd e{.command_id = id, .ended_at = "t", .exit_status = 0, .exit_signal = "", .bytes_in = 10,
                                .bytes_out = 100, .recording_state = "complete", .rows = 1, .duration_us = 10,
                                .error = "", .masked_columns = ""};
    if (!s.store->command_ended(e, err)) st.SkipWithError(err.c_str());
  }
}
BENCHMARK(BM_CommandRowWrittenAndEnded);

void BM_SignedCheckpoint(benchmark::State& st) {
  Store s;
  std::string err;
  int64_t rid = 0;
  s.store->recording_opened({.session_id = "S", .channel = 1, .path = "/p", .opened_at = "t", .start = {}}, rid, err);
  uint64_t events = 0;
  for (auto _ : st) {
    bastion::RecordingSeal cp{.events = ++events, .bytes = 100, .digest = std::string(64, 'a'), .tail = "",
                              .signature = "", .at = "t"};
    cp.signature = s.signer->sign(bastion::recording_seal_text(bastion::SealKind::checkpoint, "/p", "S", 1, cp));
    if (!s.store->recording_checkpoint(rid, cp, err)) st.SkipWithError(err.c_str());
  }
}
BENCHMARK(BM_SignedCheckpoint);

// The same checkpoint in a store that already holds many: its chained-row
// lookup must not grow with them (it scanned the table before issue 17).
void BM_SignedCheckpointInLargeStore(benchmark::State& st) {
  Store s;
  std::string err;
  int64_t rid = 0;
  s.store->recording_opened({.session_id = "S", .channel = 1, .path = "/p", .opened_at = "t", .start = {}}, rid, err);
  sqlite3* db = nullptr;
  if (sqlite3_open((s.dir + "/audit.db").c_str(), &db) != SQLITE_OK) std::abort();
  const std::string fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < " +
                           std::to_string(st.range(0)) +
                           ") INSERT INTO recording_checkpoints SELECT 1000000, i, 1, 'd', 's', 't' FROM n";
  if (sqlite3_exec(db, fill.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) std::abort();
  sqlite3_close(db);
  uint64_t events = 0;
  for (auto _ : st) {
    bastion::RecordingSeal cp{.events = ++events, .bytes = 100, .digest = std::string(64, 'a'), .tail = "",
                              .signature = "", .at = "t"};
    cp.signature = s.signer->sign(bastion::recording_seal_text(bastion::SealKind::checkpoint, "/p", "S", 1, cp));
    if (!s.store->recording_checkpoint(rid, cp, err)) st.SkipWithError(err.c_str());
  }
}
BENCHMARK(BM_SignedCheckpointInLargeStore)->Arg(100000);

}  // namespace

BENCHMARK_MAIN();
