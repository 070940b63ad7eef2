// The SQL console of a PostgreSQL target, driven as the session drives it,
// over a connection that never connected: what the console itself does
// (prompt, backslash commands, script lines, Ctrl-C, Ctrl-D, CR LF) needs
// no server, and no statement may run (or reach the policy) without one;
// then with a fake server, the statements, their order and the gate.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "capture_output.h"
#include "fake_command_gate.h"
#include "fake_pg_server.h"
#include "targets/postgres/pg_executor.h"

using namespace bastion;
using bastion::test::CaptureOutput;
using bastion::test::FakeCommandGate;

namespace {

struct SqlRig {
  TargetConfig target;
  FakeCommandGate gate;
  CaptureOutput out;
  // An invalid option: libpq gives a handle in CONNECTION_BAD without any network.
  std::unique_ptr<PgConnection> conn = PgConnection::adopt(PQconnectdb("no_such_option=1"));
  SqlRig() {
    target.name = "db";
    target.settings = std::make_shared<PostgresSettings>();
  }
  std::unique_ptr<PgExecutor> start(ChannelKind kind, const std::string& text, bool pty) {
    ExecRequest r;
    r.kind = kind;
    r.text = text;
    if (pty) r.pty = PtyRequest{.term = "xterm", .cols = 80, .rows = 24};
    r.gate = &gate;
    return std::make_unique<PgExecutor>(*conn, target, r, gate, nullptr);
  }
  std::string pump(Executor& e, std::string_view input = {}) {
    if (!input.empty()) e.write_input(input);
    e.pump_output(out, 1 << 16);
    return out.take();
  }
};

}  // namespace

TEST_CASE("sql console: prompt, backslash commands with variables, CR LF", "[console][sql]") {
  SqlRig s;
  REQUIRE_FALSE(s.conn->ok());
  auto e = s.start(ChannelKind::shell, "", true);
  CHECK(s.pump(*e) == "db=> ");
  CHECK(s.pump(*e, "\\set who world\r") == "\\set who world\r\ndb=> ");
  CHECK(s.pump(*e, "\\echo hello :who\r") == "\\echo hello :who\r\nhello world\r\ndb=> ");
  CHECK(s.out.err.empty());  // stderr shares the terminal
  CHECK(s.gate.calls.empty());
}

TEST_CASE("sql console: the prompt shows an unfinished statement; Ctrl-C drops it", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::shell, "", true);
  s.pump(*e);
  CHECK(s.pump(*e, "SELECT 1\r") == "SELECT 1\r\ndb-> ");
  CHECK(s.pump(*e, "\x03") == "^C\r\ndb=> ");
  CHECK(s.gate.calls.empty());
}

TEST_CASE("sql console: Ctrl-D quits as psql does", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::shell, "", true);
  s.pump(*e);
  CHECK(s.pump(*e, "\x04") == "\\q\r\n");
  CHECK_FALSE(e->pump_output(s.out, 1 << 16));
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("sql console: an unknown backslash command says how to get help", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::shell, "", true);
  s.pump(*e);
  CHECK(s.pump(*e, "\\nope\r") == "\\nope\r\ninvalid command \\nope\r\nTry \\? for help.\r\ndb=> ");
}

TEST_CASE("sql script: lines without a pty, the last one at end of input", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::shell, "", false);
  e->write_input("\\echo one\n\\echo two");
  CHECK(e->pump_output(s.out, 1 << 16));
  CHECK(s.out.out == "one\n");
  e->send_eof();
  CHECK_FALSE(e->pump_output(s.out, 1 << 16));
  CHECK(s.out.out == "one\ntwo\n");
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("sql script: a script line over 1 MiB ends the script", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::shell, "", false);
  e->write_input(std::string((1 << 20) + 1, 'x'));
  CHECK_FALSE(e->pump_output(s.out, 1 << 16));
  CHECK(s.out.err == "ERROR:  line too long for the bastion (1 MiB)\n");
  CHECK(e->exit_info().status == kSqlExitError);
}

TEST_CASE("sql: without its database no statement runs or reaches the policy", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::exec, "SELECT 1; SELECT 2", false);
  CHECK_FALSE(e->pump_output(s.out, 1 << 16));
  CHECK(s.out.err == "bastion: the connection to the database was lost\n");
  CHECK(e->exit_info().status == kSqlExitConnection);
  CHECK(s.gate.calls.empty());
}

TEST_CASE("sql exec: an unknown option is named, nothing runs", "[console][sql]") {
  SqlRig s;
  auto e = s.start(ChannelKind::exec, "--bogus SELECT 1", true);
  CHECK_FALSE(e->pump_output(s.out, 1 << 16));
  CHECK(s.out.out.starts_with("bastion: unknown option --bogus (options: "));
  CHECK(s.out.out.ends_with(")\r\n"));
  CHECK(e->exit_info().status == kSqlExitError);
  CHECK(s.gate.calls.empty());
}

// With a server (fake_pg_server.h: every query completes with its own text
// as the tag): the statements, the gate's decisions and what the user sees.
namespace {

struct ServerRig : SqlRig {
  bastion::test::FakePgServer server;
  ServerRig() {
    conn = PgConnection::adopt(PQconnectdb(server.conninfo().c_str()));
    REQUIRE(conn->ok());
  }
  ~ServerRig() { conn.reset(); }  // the client leaves before its server stops
  // Pumps until the output ends with `tail` (bounded): the server answers in its own time.
  std::string pump_until(Executor& e, const std::string& tail, std::string_view input = {}) {
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
using V = std::vector<std::string>;

}  // namespace

TEST_CASE("sql console: statements in order; a refused one is reported and the next runs", "[console][sql]") {
  ServerRig s;
  s.gate.rules["DROP TABLE a"] = FakeCommandGate::Rule::deny;
  auto e = s.start(ChannelKind::shell, "", true);
  CHECK(s.pump_until(*e, "db=> ") == "db=> ");
  CHECK(s.pump_until(*e, "db=> ", "CREATE TABLE a (); DROP TABLE a; CREATE TABLE b ();\r") ==
        "CREATE TABLE a (); DROP TABLE a; CREATE TABLE b ();\r\n"
        "CREATE TABLE a ();\r\n"
        "ERROR:  denied by policy: no DROP TABLE a\r\n"
        "CREATE TABLE b ();\r\n"
        "db=> ");
  CHECK(s.gate.calls == V{"submit CREATE TABLE a ()", "ended 1 status=0", "submit DROP TABLE a", "ended 2 status=1",
                          "submit CREATE TABLE b ()", "ended 3 status=0"});
  CHECK(s.server.queries() == V{"CREATE TABLE a ();", "CREATE TABLE b ();"});
}

TEST_CASE("sql console: a held statement waits, then runs once approved", "[console][sql]") {
  ServerRig s;
  s.gate.rules["DROP TABLE a"] = FakeCommandGate::Rule::hold;
  auto e = s.start(ChannelKind::shell, "", true);
  s.pump_until(*e, "db=> ");
  CHECK(s.pump(*e, "DROP TABLE a; CREATE TABLE b ();\r") == "DROP TABLE a; CREATE TABLE b ();\r\n");
  CHECK(s.pump(*e) == "");  // still held: nothing sent, no prompt
  CHECK(s.server.queries().empty());
  s.gate.approve(1);
  CHECK(s.pump_until(*e, "db=> ") == "DROP TABLE a;\r\nCREATE TABLE b ();\r\ndb=> ");
  CHECK(s.gate.calls == V{"submit DROP TABLE a", "decided #1", "ended 2 status=0", "submit CREATE TABLE b ()",
                          "ended 3 status=0"});
  CHECK(s.server.queries() == V{"DROP TABLE a;", "CREATE TABLE b ();"});
}

TEST_CASE("sql console: Ctrl-C withdraws a held statement; it never reaches the server", "[console][sql]") {
  ServerRig s;
  s.gate.rules["DROP TABLE a"] = FakeCommandGate::Rule::hold;
  auto e = s.start(ChannelKind::shell, "", true);
  s.pump_until(*e, "db=> ");
  s.pump(*e, "DROP TABLE a;\r");
  CHECK(s.pump_until(*e, "db=> ", "\x03") == "ERROR:  denied by policy: request #1 cancelled\r\ndb=> ");
  CHECK(s.gate.calls == V{"submit DROP TABLE a", "cancel #1", "ended 1 status=1"});
  CHECK(s.server.queries().empty());
}

TEST_CASE("sql script: without a pty, no CR; the first refusal ends the script", "[console][sql]") {
  ServerRig s;
  s.gate.rules["DROP TABLE a"] = FakeCommandGate::Rule::deny;
  auto e = s.start(ChannelKind::shell, "", false);
  e->write_input("CREATE TABLE a ();\nDROP TABLE a;\nCREATE TABLE b ();\n");
  e->send_eof();
  s.pump_until(*e, "\xff");  // to the end
  CHECK(s.out.out.empty());
  CHECK(s.gate.calls == V{"submit CREATE TABLE a ()", "ended 1 status=0", "submit DROP TABLE a", "ended 2 status=1"});
  CHECK(s.server.queries() == V{"CREATE TABLE a ();"});
  CHECK(e->exit_info().status == kSqlExitDenied);
}

TEST_CASE("sql exec: every statement of the line is decided on its own", "[console][sql]") {
  ServerRig s;
  auto e = s.start(ChannelKind::exec, "CREATE TABLE a (); CREATE TABLE b ()", false);
  CHECK(s.pump_until(*e, "\xff") == "CREATE TABLE a ();\nCREATE TABLE b ()\n");
  CHECK(s.gate.calls == V{"submit CREATE TABLE a ()", "ended 1 status=0", "submit CREATE TABLE b ()", "ended 2 status=0"});
  CHECK(e->exit_info().status == 0);
}
