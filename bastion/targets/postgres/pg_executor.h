// The SQL command source and executor for PostgreSQL targets, one per
// channel. Input (console keystrokes, piped script, or the exec line) is
// split into statements by the PostgreSQL parser; each statement goes
// through the CommandGate (policy, audit, marker) before it is sent; results
// stream back in libpq single-row mode, are masked by column, rendered like
// psql, and written only through the channel's output filters. Its files:
// pg_executor.cpp (the Executor), pg_console_input.cpp (the console's
// interpreter), pg_meta_commands.cpp, pg_statement_queue.cpp,
// pg_column_origins.cpp, pg_result_stream.cpp; exec-line options in
// pg_exec_options.h.
#pragma once
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/command_gate.h"
#include "sources/command_console.h"
#include "sources/held_command.h"
#include "targets/postgres/sql_input.h"
#include "targets/postgres/column_masker.h"
#include "targets/postgres/describe_queries.h"
#include "targets/postgres/pg_connection.h"
#include "targets/postgres/pg_exec_options.h"
#include "targets/postgres/result_renderer.h"
#include "targets/postgres/sql_classifier.h"
#include "targets/postgres/statement_tree.h"
#include "targets/target.h"

namespace bastion {

// Exit statuses of a SQL channel (psql's, plus the bastion's denial).
constexpr int kSqlExitError = 3;        // a statement failed (psql -v ON_ERROR_STOP=1)
constexpr int kSqlExitConnection = 2;   // the connection to the database was lost
constexpr int kSqlExitDenied = 126;     // the policy refused a statement

class PgExecutor : public Executor, private ConsoleInterpreter {
 public:
  // `want_reads(true)` asks the session loop to wake on the database socket.
  PgExecutor(PgConnection& conn, const TargetConfig& t, const ExecRequest& req, CommandGate& gate,
             std::function<void(bool)> want_reads);
  ~PgExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override { console_.send_eof(); }
  void window_change(int, int) override {}
  void set_output_wanted(bool wanted) override;
  void send_signal(const std::string& name) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  enum class Mode { console, script, command };
  struct Work {
    SqlStatement stmt;
    std::optional<DescribeQuery> describe;
    std::string meta;        // a backslash command, run in its turn
    std::string psql_text;   // a statement as psql would send it, not yet classified
    std::string send;        // the text sent (the decided text, or psql's with its ';')
    bool single = false;     // the only statement of its psql text, and it parses
    // A later statement of a "\;" group: classified with the group, under
    // this standard_conforming_strings; refused if an earlier one changed it.
    std::optional<bool> read_with_standard_strings;
  };
  struct Running {
    Work work;
    GateResult gate;
    double started = 0;
    int64_t row_cap = 0;     // 0: none
    uint64_t rows = 0;       // rows returned by the server
    uint64_t shown = 0;
    uint64_t set_rows = 0;   // of the current result set (a rule may return several)
    uint64_t set_shown = 0;
    bool header = false;
    bool in_copy = false;    // COPY TO STDOUT data is flowing
    bool copied_out = false; // it was COPY TO STDOUT: psql prints no tag after the data
    bool copy_in = false;    // COPY FROM STDIN: sending the script's data lines
    bool copy_mid_line = false;  // part of a long data line went out already
    std::optional<HeldCommand> review;  // held for approval: nothing is sent meanwhile
    std::vector<ResultColumn> cols;
    std::unique_ptr<ResultRenderer> renderer;
    std::unique_ptr<ColumnMasker> masker;
    std::map<std::pair<unsigned, int>, ColumnOrigin> origin_of;
    std::vector<std::string> masked_tables;  // named relations holding a masked column
    std::set<unsigned> resolved;              // relation oids looked up for this statement
    // A result is held until it completes (psql prints nothing of a failed
    // one); past kHoldBytes it streams in batches like psql's FETCH_COUNT.
    std::vector<std::vector<Cell>> held;
    std::size_t held_bytes = 0;
    bool streaming = false;
    std::string error;         // "SQLSTATE: message"
    std::optional<int64_t> affected;
    std::string masked_columns;
    StatementTree tree;             // parsed when column masks apply
    bool withhold_messages = false;  // errors and notices may quote masked values
    bool copy_aborted = false;       // the bastion ended a COPY FROM STDIN that had no data
  };

  static Mode initial_mode(const ExecRequest& req);
  static CommandConsole::Input console_input(Mode m);
  // ConsoleInterpreter (pg_console_input.cpp): console and script lines.
  void on_line(const std::string& line) override;
  void on_end_of_input() override;
  void on_interrupt() override { sql_.clear(); }
  void on_line_too_long() override;
  std::string prompt() override;
  bool busy() const override { return running_ || !queue_.empty(); }
  bool finished() const override { return finished_; }

  static void on_notice(void* self, const PGresult* res);
  void emit(Stream s, std::string text) { console_.emit(s, std::move(text)); }
  void handle_meta(const std::string& line);
  void enqueue_sql(const std::string& text);
  void handle_items(std::vector<SqlInputItem>& items);
  bool classify_next(Work& w);  // a psql text becomes its statement(s); false: nothing to run
  void handle_set(const std::string& line);
  void release_held(bool last);
  void start_next();
  void refuse_invalid(const Work& w);          // a syntax error: audited as invalid, never sent
  void proceed(std::unique_ptr<Running> r);  // run a decided statement (or report its refusal)
  bool poll_held();                           // true while a held statement still waits
  bool feed_copy();                           // true while COPY FROM STDIN waits for more data
  bool resolve_masks(Running& r);
  bool refuse_under_masks(Running& r);  // true when refused (and reported)
  void withhold(const PGresult* res, const char* what);
  void plan_masks(Running& r, std::vector<ColumnOrigin>& origins, const std::vector<std::size_t>& unknown, int n);
  void poll_results(std::size_t budget);
  void on_result(PGresult* res);
  void begin_rows(const PGresult* res);
  void end_statement();
  void fail(int status, const std::string& message);
  void finish(int status);

  PgConnection& conn_;
  const TargetConfig& target_;
  CommandGate& gate_;
  Mode mode_;
  bool pty_;
  PrintOptions print_;
  bool stop_on_error_ = true;
  bool timing_ = false;
  PQnoticeReceiver prev_receiver_ = nullptr;
  void* prev_arg_ = nullptr;

  CommandConsole console_;
  SqlInputBuffer sql_;
  SqlInputBuffer::Variables vars_;  // \set
  std::deque<Work> queue_;
  std::unique_ptr<Running> running_;
  std::string last_error_verbose_;

  bool finished_ = false;
  bool closed_ = false;
  ExitInfo exit_;
  std::function<void(bool)> want_reads_;
  bool reading_ = false;
};

}  // namespace bastion
