// SQL the parser rejects: the error and its position read as psql prints
// the server's (expected texts below are real psql 15 output), the
// statement is refused as invalid without asking the policy, and nothing
// reaches the server. And psql's -c/--command habit on the exec line.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "capture_output.h"
#include "fake_command_gate.h"
#include "fake_pg_server.h"
#include "targets/postgres/error_position.h"
#include "targets/postgres/pg_exec_options.h"
#include "targets/postgres/pg_executor.h"
#include "targets/postgres/sql_classifier.h"

using namespace bastion;
using V = std::vector<std::string>;

namespace {

std::string cols(const std::string& prefix) {
  std::string s = prefix;
  for (int i = 0; i < 30; ++i) s += (i ? ", col" : "col") + std::to_string(i);
  return s;
}

}  // namespace

TEST_CASE("error position: psql's LINE excerpt and caret", "[sql][errors]") {
  CHECK(pg_error_position("selec 1;", 1) == "LINE 1: selec 1;\n        ^\n");
  CHECK(pg_error_position("SELECT 2,\n  3 frm items;", 19) == "LINE 2:   3 frm items;\n                ^\n");
  // Characters, not bytes; wide characters take two columns.
  CHECK(pg_error_position("SELECT 'h\xc3\xa9llo' \xe6\x97\xa5\xe6\x9c\xac frm x;", 19) ==
        "LINE 1: SELECT 'h\xc3\xa9llo' \xe6\x97\xa5\xe6\x9c\xac frm x;\n                            ^\n");
  // Long lines are cut around the position, as libpq cuts them.
  CHECK(pg_error_position(cols("SELECT ") + " FROM t WHERE x = = 1;", 224) ==
        "LINE 1: ...l24, col25, col26, col27, col28, col29 FROM t WHERE x = = 1;\n"
        "                                                                   ^\n");
  CHECK(pg_error_position(cols("SELECT 1 frm ") + ";", 14) ==
        "LINE 1: SELECT 1 frm col0, col1, col2, col3, col4, col5, col6, col7,...\n                     ^\n");
  // Tabs show as blanks; CR LF is one line end.
  CHECK(pg_error_position("SELECT\t1\tfrm x;", 14) == "LINE 1: SELECT 1 frm x;\n                     ^\n");
  CHECK(pg_error_position("SELECT 1\r\nfrm x;", 15) == "LINE 2: frm x;\n            ^\n");
  // Outside the text: no excerpt.
  CHECK(pg_error_position("selec", 0).empty());
  CHECK(pg_error_position("selec", 7).empty());
  CHECK(pg_error_position("selec", 6) == "LINE 1: selec\n             ^\n");
}

TEST_CASE("classifier: a syntax error has a position; a limit of the analysis has none", "[sql][errors]") {
  auto v = classify_sql("selec 1");
  REQUIRE(v.size() == 1);
  CHECK(v[0].syntax_error);
  CHECK(v[0].error_position == 1);
  v = classify_sql("SELECT 1; SELECT 2 frm x");
  REQUIRE(v.size() == 2);
  CHECK_FALSE(v[0].syntax_error);
  CHECK(v[1].syntax_error);
  CHECK(v[1].error_position == 14);
  std::string deep = "SELECT ";
  for (int i = 0; i < 300; ++i) deep += "1 + (";
  deep += "1" + std::string(300, ')');
  v = classify_sql(deep);
  REQUIRE(v.size() == 1);
  CHECK(v[0].parse_error == "statement nested too deeply to analyse");
  CHECK_FALSE(v[0].syntax_error);
  std::string m;
  int p = 0;
  CHECK(sql_syntax_error("SELECT 1 from;", m, p));
  CHECK((m == "syntax error at or near \";\"" && p == 14));
  CHECK_FALSE(sql_syntax_error("SELECT 1;", m, p));
}

namespace {

struct Rig {
  TargetConfig target;
  test::FakeCommandGate gate;
  test::CaptureOutput out;
  test::FakePgServer server;
  std::unique_ptr<PgConnection> conn;
  Rig() {
    target.name = "db";
    target.settings = std::make_shared<PostgresSettings>();
    conn = PgConnection::adopt(PQconnectdb(server.conninfo().c_str()));
    REQUIRE(conn->ok());
  }
  ~Rig() { conn.reset(); }
  std::unique_ptr<PgExecutor> start(ChannelKind kind, const std::string& text, bool pty) {
    ExecRequest r;
    r.kind = kind;
    r.text = text;
    if (pty) r.pty = PtyRequest{.term = "xterm", .cols = 80, .rows = 24};
    r.gate = &gate;
    return std::make_unique<PgExecutor>(*conn, target, r, gate, nullptr);
  }
  // Pumps until the channel ends or the output ends with `tail` (bounded).
  std::string run(Executor& e, const std::string& tail = "\x01", std::string_view input = {}) {
    if (!input.empty()) e.write_input(input);
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const bool more = e.pump_output(out, 1 << 16);
      got += out.take();
      if (got.ends_with(tail) || !more) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return got;
  }
};

}  // namespace

TEST_CASE("sql exec: a syntax error is refused as invalid with its position; nothing is sent", "[sql][errors]") {
  Rig s;
  auto e = s.start(ChannelKind::exec, "CREATE TABLE a (); selec 2; CREATE TABLE b ()", false);
  CHECK(s.run(*e) == "CREATE TABLE a ();\nERROR:  syntax error at or near \"selec\"\nLINE 1: selec 2;\n        ^\n");
  CHECK(e->exit_info().status == kSqlExitError);
  // The policy is not asked (no submit), the refusal is the bastion's, kind "invalid".
  CHECK(s.gate.calls == V{"submit CREATE TABLE a ()", "ended 1 status=0",
                          "refuse selec 2: syntax error at or near \"selec\"", "ended 2 status=1"});
  CHECK(s.gate.refused_kinds == V{"invalid"});
  CHECK(s.server.queries() == V{"CREATE TABLE a ();"});
}

TEST_CASE("sql console: a syntax error shows psql's LINE and caret; the console goes on", "[sql][errors]") {
  Rig s;
  auto e = s.start(ChannelKind::shell, "", true);
  s.run(*e, "db=> ");
  CHECK(s.run(*e, "db=> ", "SELECT 1 from;\r") ==
        "SELECT 1 from;\r\nERROR:  syntax error at or near \";\"\r\nLINE 1: SELECT 1 from;\r\n"
        "                     ^\r\ndb=> ");
  CHECK(s.gate.refused_kinds == V{"invalid"});
  CHECK(s.server.queries().empty());
}

TEST_CASE("sql script: psql's \\; text that does not parse runs nothing, as on the server", "[sql][errors]") {
  Rig s;
  auto e = s.start(ChannelKind::shell, "", false);
  e->write_input("SELECT 1 \\; selec 2;\nSELECT 3;\n");
  e->send_eof();
  CHECK(s.run(*e) == "ERROR:  syntax error at or near \"selec\"\nLINE 1: SELECT 1 ; selec 2;\n                   ^\n");
  CHECK(e->exit_info().status == kSqlExitError);
  CHECK(s.server.queries().empty());
}

TEST_CASE("sql exec line: psql's -c/--command is the statement", "[sql][exec]") {
  for (const char* line : {"-c select 1", "-c 'select 1'", "-c \"select 1\"", "--command select 1",
                           "--command=select 1", "-cselect 1", "--csv -c select 1"}) {
    const SqlExecOptions o = parse_sql_exec_line(line);
    CHECK(o.error.empty());
    CHECK(o.sql == "select 1");
  }
  CHECK(parse_sql_exec_line("--csv -c select 1").print.format == PrintOptions::Format::csv);
  // Quotes that are part of the SQL stay.
  CHECK(parse_sql_exec_line("-c select 'a' || 'b'").sql == "select 'a' || 'b'");
  CHECK(parse_sql_exec_line("-c 'a' || 'b'").sql == "'a' || 'b'");
  // Everything after -c is SQL (an option there would be a SQL comment).
  CHECK(parse_sql_exec_line("-c select 1 --csv").sql == "select 1 --csv");
  CHECK(parse_sql_exec_line("-c").error == "option -c needs SQL: -c \"SELECT ...\"");
  CHECK(parse_sql_exec_line("--command=").error == "option --command needs SQL: -c \"SELECT ...\"");
}

TEST_CASE("sql exec line: other psql options get a clear line, not a SQL error", "[sql][exec]") {
  const std::string opts =
      " (options: -c/--command SQL, --csv, --json, --format=aligned|csv|json, -x, --timing, --continue-on-error)";
  CHECK(parse_sql_exec_line("-f dump.sql").error ==
        "psql option -f is not available through the bastion; to run a file, send it on stdin: "
        "ssh TARGET@bastion < FILE" + opts);
  CHECK(parse_sql_exec_line("-X -c select 1").error == "psql option -X is not available through the bastion" + opts);
  CHECK(parse_sql_exec_line("-At select 1").error == "psql option -A is not available through the bastion" + opts);
  CHECK(parse_sql_exec_line("-1 select 1").error == "psql option -1 is not available through the bastion" + opts);
  CHECK(parse_sql_exec_line("-d prod").error ==
        "psql option -d is not available through the bastion; the target names the database and the role" + opts);
  CHECK(parse_sql_exec_line("--file=x.sql").error ==
        "psql option --file is not available through the bastion; to run a file, send it on stdin: "
        "ssh TARGET@bastion < FILE" + opts);
  CHECK(parse_sql_exec_line("--bogus").error == "unknown option --bogus" + opts);
  // Still SQL: a comment first, or a minus inside.
  CHECK(parse_sql_exec_line("-- note\nSELECT 1").sql == "-- note\nSELECT 1");
  CHECK(parse_sql_exec_line("SELECT -1").sql == "SELECT -1");
}

TEST_CASE("sql exec: -c runs its statements through the gate, one by one", "[sql][exec]") {
  Rig s;
  auto e = s.start(ChannelKind::exec, "-c SELECT 1; SELECT 2", false);
  s.run(*e);
  CHECK(s.gate.calls == V{"submit SELECT 1", "ended 1 status=0", "submit SELECT 2", "ended 2 status=0"});
  CHECK(s.server.queries() == V{"SELECT 1;", "SELECT 2"});
  CHECK(e->exit_info().status == 0);
}
