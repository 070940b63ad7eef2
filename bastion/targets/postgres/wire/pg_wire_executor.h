// A PostgreSQL client's own connection through `ssh -L LOCAL:TARGET:5432`:
// one tunnel channel, one PgWireExecutor, one upstream connection made as
// the session's held credential. The client's startup is answered here
// (no password: the SSH certificate authenticated the user); afterwards
// every Query statement, and every Bind of a prepared statement, is decided
// through the channel's CommandGate like a console statement (kind "sql",
// source "wire"); results are masked per column before they reach the
// client; the bastion answers in the server's place where it refuses.
// Files: pg_wire_executor.cpp (startup, pumping, plumbing),
// pg_wire_client_messages.cpp (decisions), pg_wire_server_messages.cpp
// (answers matched, masked, audited), pg_wire_startup (what a
// StartupMessage may ask), pg_wire_upstream (the raw upstream leg),
// pg_wire_cancel_keys (CancelRequest), pg_wire_statement (one statement's
// masks and summary). Answers are matched to the client messages they
// answer by ResponseSequencer (pg_wire_sequencer: the one matching logic,
// unit-tested and fuzzed); the executor keeps, per forwarded ticket, the
// statements those answers belong to.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "policy/command_gate.h"
#include "targets/postgres/postgres_settings.h"
#include "targets/postgres/wire/pg_wire_cancel_keys.h"
#include "targets/postgres/wire/pg_wire_framer.h"
#include "targets/postgres/wire/pg_wire_origin_cache.h"
#include "targets/postgres/wire/pg_wire_sequencer.h"
#include "targets/postgres/wire/pg_wire_statement.h"
#include "targets/postgres/wire/pg_wire_upstream.h"
#include "targets/target.h"

namespace bastion::pgwire {

class PgWireExecutor : public Executor {
 public:
  using Watch = std::function<void(int fd, bool on)>;
  // `cred` and `keys` outlive the executor (the session's TargetConnection owns them).
  PgWireExecutor(const TargetConfig& t, const PostgresCredential& cred, CommandGate& gate, CancelKeys& keys,
                 Watch watch);
  ~PgWireExecutor() override;

  std::size_t input_capacity() override;
  double audit_batch_delay() const override { return 0.25; }
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  void set_output_wanted(bool wanted) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  std::optional<int> wants_wakeup_ms() const override;
  bool show_notice(const std::string& text) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  using StmtPtr = std::shared_ptr<WireStatement>;
  // What the executor tracks about a forwarded message until the sequencer
  // says it is settled (answered in full, or skipped by the server).
  struct Sent {
    char type = 0;               // 'Q', 'P', 'E' or 'D'
    std::vector<StmtPtr> stmts;  // Q: the statements; E/D: the portal's statement
    std::string prepared;        // P: the name, forgotten unless ParseComplete comes
    bool parse_ok = false;
  };
  static Sent sent(char type) {
    Sent x;
    x.type = type;
    return x;
  }
  // A message the client sent that waits for a held statement's decision.
  struct Held {
    char type = 0;  // 'Q' or 'B'
    std::vector<StmtPtr> stmts;  // Q: every statement of the message; B: one
    std::size_t next = 0;        // Q: the next to decide
    std::string body;            // the message
  };

  // Startup phase.
  void on_startup_packet(const Message& m);
  void connect_upstream(const StartupPacket& p);
  void fatal(std::string_view sqlstate, const std::string& message);  // answer, then close
  // Relay phase: client messages.
  void process_client();
  bool on_client_message(const Message& m);  // false: stop for now (held)
  void on_query(const std::string& body);
  bool decide_query(Held& h);  // false while a statement waits for review
  void on_parse(const std::string& body);
  bool on_bind(const std::string& body);
  bool decide_bind(Held& h);
  void forward(char type, std::string_view body, Sent x);
  void forward(char type, std::string_view body) { forward(type, body, Sent()); }
  void answer(std::string framed, bool ready);  // in the server's place, in order
  void refuse_extended(const std::string& framed_error);  // then skip to Sync
  void protocol_error(const std::string& message);        // 08P01, then close
  // Decisions.
  // Whether the server may read SQL text sent now under settings the bastion
  // has not seen yet: anything is still in flight, or ran since the last Sync
  // (a pipelined statement after set_config('standard_conforming_strings', ...)).
  bool settings_unseen() const { return ran_since_sync_ || seq_.outstanding() > 0; }
  // Why SQL text must not go to the server now (see settings_unseen), or "".
  std::string pipelined_lexing_refusal(std::string_view sql) const;
  StmtPtr decide(SqlStatement stmt, std::vector<SqlParam> params);
  bool finish_decision(WireStatement& s);  // true: allowed and runs
  void end_statement(WireStatement& s, const std::string& tag, const std::string& error);
  bool poll_held();  // true while still held
  void forget_prepared_if_changed(const SqlStatement& s);
  void forget_origins_if_changed(const SqlStatement& s);
  // Relay phase: server messages.
  bool read_upstream(std::size_t budget);
  bool on_server_message(const Message& m, std::string framed, std::string& why);
  Sent* answering();
  StmtPtr current();
  void retire();  // ends what the sequencer settled: statements that did not run, failed Parses
  void flush_due() { to_client(seq_.take_due()); }
  void to_client(std::string bytes) { client_out_ += bytes; }

  const TargetConfig& target_;
  const PostgresCredential& cred_;
  CommandGate& gate_;
  CancelKeys& keys_;
  Watch watch_;
  Framer from_client_;
  Framer from_server_;
  std::unique_ptr<Upstream> up_;
  std::unique_ptr<PgConnection> catalog_;  // column origins, opened when a mask first needs them
  bool catalog_failed_ = false;
  bool open_catalog();  // false: unavailable (every column masked)
  static constexpr std::chrono::seconds kOriginTtl{5};
  OriginCache origins_{kOriginTtl};
  MaskPatternCache mask_patterns_;  // output masks, compiled once per rule set
  TreeCache bound_trees_;           // the last re-parsed statement's tree (Bind)
  std::optional<std::pair<int32_t, int32_t>> key_;
  std::string client_out_;  // for the client, written at the next pump
  std::string to_server_;   // for the server, written as its socket takes it
  ResponseSequencer seq_;
  std::map<uint64_t, Sent> sent_;  // ticket -> statements its answers belong to
  std::map<std::string, SqlStatement> prepared_;  // Parse: statement name -> what it is
  std::map<std::string, StmtPtr> portals_;         // Bind: portal -> its decided statement
  std::vector<StmtPtr> orphans_;                   // forgotten portals' statements, unfinished
  void orphan(const StmtPtr& s);
  static constexpr std::size_t kMaxOrphans = 1024;
  // Prepared statement names, and portals, per connection.
  static constexpr std::size_t kMaxPrepared = 10000;
  // Names Parse gave statements the server holds undecided (decided only at
  // Bind): SQL EXECUTE of one of them would run it past the policy.
  std::set<std::string> parsed_names_;
  // Parses the server has not answered yet: name -> (how many, the Sync
  // count at the last). A Bind after a Sync may find the server refused
  // the Parse (the name existed) and still holds another statement.
  std::map<std::string, std::pair<int, uint64_t>> parse_pending_;
  uint64_t syncs_ = 0;  // Sync messages forwarded
  void parse_answered(const std::string& name);
  bool under_masks_ = false;  // a statement here ran under masks: notification payloads withheld
  std::optional<Held> held_;
  bool skip_to_sync_ = false;
  bool standard_strings_ = false;  // as the server reports it (ParameterStatus); off: nothing runs
  // A Bind, Execute or FunctionCall went to the server since the last Sync:
  // what it ran may have changed a setting the server reports only at the
  // next ReadyForQuery (settings_unseen()).
  bool ran_since_sync_ = false;
  bool utf8_ = true;               // client_encoding, as the server reports it; not UTF8: nothing runs
  bool masks_seen_ = false;        // a decision here carried masks: notification payloads are withheld
  bool closing_ = false;    // finish writing client_out_, then end
  bool terminated_ = false; // the client said Terminate
  bool watching_ = false, output_wanted_ = true;
  std::vector<std::string> records_;  // summaries for the recording, written at the next pump
  ExitInfo exit_;
};

}  // namespace bastion::pgwire
