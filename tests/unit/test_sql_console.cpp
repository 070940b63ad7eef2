// The SQL console's pieces: statement accumulation, the line editor, psql-like
// rendering, column masking and exec-line options.
#include <catch2/catch.hpp>

#include "filters/column_masker.h"
#include "sources/line_editor.h"
#include "sources/sql_input.h"
#include "targets/postgres/describe_queries.h"
#include "targets/postgres/pg_executor.h"
#include "targets/postgres/result_renderer.h"

using namespace bastion;

namespace {

std::string complete_after(std::initializer_list<const char*> chunks) {
  SqlInputBuffer b;
  std::string out;
  for (const char* c : chunks) {
    b.append(c);
    out += b.take_complete();
  }
  return out;
}

std::vector<Cell> row(std::initializer_list<const char*> v) {
  std::vector<Cell> out;
  for (const char* s : v) out.push_back(s ? Cell{s, false} : Cell{"", true});
  return out;
}

std::string render(const PrintOptions& o, const std::vector<ResultColumn>& cols,
                   const std::vector<std::vector<Cell>>& rows, std::size_t batch = 1000) {
  auto r = make_renderer(o, batch);
  std::string out;
  r->begin(cols, out);
  for (auto x : rows) r->row(x, out);
  r->end(rows.size(), out);
  return out;
}

}  // namespace

TEST_CASE("a statement is complete at a top-level semicolon only", "[sqlinput]") {
  CHECK(complete_after({"SELECT 1;"}) == "SELECT 1;");
  CHECK(complete_after({"SELECT 1"}) == "");
  CHECK(complete_after({"SELECT ';'"}) == "");
  CHECK(complete_after({"SELECT ';' ;"}) == "SELECT ';' ;");
  CHECK(complete_after({"SELECT 'it''s;' ;"}) == "SELECT 'it''s;' ;");
  CHECK(complete_after({"SELECT E'\\';' ;"}) == "SELECT E'\\';' ;");
  CHECK(complete_after({"SELECT \"a;b\" FROM t;"}) == "SELECT \"a;b\" FROM t;");
  CHECK(complete_after({"SELECT 1 -- no; really\n"}) == "");
  CHECK(complete_after({"SELECT /* ; /* nested ; */ ; */ 1;"}) == "SELECT /* ; /* nested ; */ ; */ 1;");
  CHECK(complete_after({"SELECT $$ ; $$;"}) == "SELECT $$ ; $$;");
  CHECK(complete_after({"SELECT $fn$ ; $x$ ; $fn$;"}) == "SELECT $fn$ ; $x$ ; $fn$;");
  CHECK(complete_after({"SELECT $1;"}) == "SELECT $1;");
  CHECK(complete_after({"SELECT (1;"}) == "");  // psql waits for the parenthesis too
  CHECK(complete_after({"SELECT 1; SELECT 2"}) == "SELECT 1;");
  // Split at every awkward point.
  CHECK(complete_after({"SELECT $", "fn$ ; $f", "n$", ";"}) == "SELECT $fn$ ; $fn$;");
  CHECK(complete_after({"SELECT 1 -", "- x;\n", ";"}) == "SELECT 1 -- x;\n;");
  CHECK(complete_after({"SELECT '", "'';'", ";"}) == "SELECT ''';';");
  CHECK(complete_after({"SELECT 1 /", "* ; *", "/ ;"}) == "SELECT 1 /* ; */ ;");
}

TEST_CASE("the continuation prompt says what is open", "[sqlinput]") {
  SqlInputBuffer b;
  CHECK(b.blank());
  b.append("SELECT 'abc");
  CHECK(b.pending() == '\'');
  b.clear();
  b.append("SELECT (1");
  CHECK(b.pending() == '(');
  b.clear();
  b.append("SELECT $$");
  CHECK(b.pending() == '$');
  b.clear();
  b.append("SELECT 1 /* x");
  CHECK(b.pending() == '*');
  b.clear();
  b.append("SELECT 1");
  CHECK(b.pending() == '-');
  CHECK(b.take_all() == "SELECT 1");
  CHECK(b.blank());
}

TEST_CASE("line editor: typing, editing keys, history", "[editor]") {
  LineEditor e;
  std::string out;
  std::vector<LineEditor::Event> ev;
  e.begin("db=> ", out);
  CHECK(out == "db=> ");
  std::string held;  // bytes the editor did not take yet (a split UTF-8 character)
  auto type = [&](std::string_view in) {
    held += in;
    std::size_t used = 0;
    while (used < held.size()) {
      const std::size_t n = e.feed(std::string_view(held).substr(used), out, ev);
      if (n == 0) break;
      used += n;
    }
    held.erase(0, used);
  };
  type("ELECT 1x\x7f\x01S\x05;\r");
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == LineEditor::Event::Kind::line);
  CHECK(ev[0].text == "SELECT 1;");
  e.add_history(ev[0].text);
  ev.clear();
  e.begin("db=> ", out);
  type("one two\x17three\r");  // Ctrl-W removes "two"
  CHECK(ev.at(0).text == "one three");
  e.add_history(ev[0].text);
  ev.clear();
  e.begin("db=> ", out);
  type("\x1b[A\x1b[A\r");  // Up twice: the older entry
  CHECK(ev.at(0).text == "SELECT 1;");
  ev.clear();
  e.begin("db=> ", out);
  type("abc\x1b[D\x1b[DX\x1b[3~\r");  // Left, Left, insert, Delete
  CHECK(ev.at(0).text == "aXc");
  ev.clear();
  e.begin("db=> ", out);
  type("half\x03");
  CHECK(ev.at(0).kind == LineEditor::Event::Kind::interrupt);
  ev.clear();
  e.begin("db=> ", out);
  type("\x04");
  CHECK(ev.at(0).kind == LineEditor::Event::Kind::eof);
  ev.clear();
  // CR LF is one Enter, even split across reads; UTF-8 split across reads waits.
  e.begin("db=> ", out);
  type("a\r");
  type("\nb");
  type("\xc3");
  type("\xa9\r");
  REQUIRE(ev.size() == 2);
  CHECK(ev[1].text == "b\xc3\xa9");
}

TEST_CASE("display width counts wide and combining characters", "[editor]") {
  CHECK(display_width("abc") == 3);
  CHECK(display_width("\xe6\x97\xa5\xe6\x9c\xac") == 4);  // 日本
  CHECK(display_width("e\xcc\x81") == 1);                 // e + combining acute
}

TEST_CASE("aligned output is psql's", "[render]") {
  PrintOptions o;
  const std::vector<ResultColumn> cols = {{"id", ResultColumn::Type::number}, {"name", ResultColumn::Type::text},
                                          {"note", ResultColumn::Type::text}};
  CHECK(render(o, cols, {row({"1", "alice", nullptr}), row({"22", "bob", "two\nlines"})}) ==
        " id | name  |  note  \n"
        "----+-------+--------\n"
        "  1 | alice | (null)\n"
        " 22 | bob   | two   +\n"
        "    |       | lines\n"
        "(2 rows)\n\n");
  CHECK(render(o, cols, {}) == " id | name | note \n----+------+------\n(0 rows)\n\n");
  o.title = "List of things";
  CHECK(render(o, {{"a", ResultColumn::Type::text}}, {row({"x"})}) ==
        "List of things\n a \n---\n x\n(1 row)\n\n");
}

TEST_CASE("batches keep the header once and count every row", "[render]") {
  PrintOptions o;
  const std::string out = render(o, {{"n", ResultColumn::Type::number}},
                                 {row({"1"}), row({"2"}), row({"100"})}, 2);
  CHECK(out == " n \n---\n 1\n 2\n 100\n(3 rows)\n\n");
}

TEST_CASE("expanded, csv and json", "[render]") {
  PrintOptions o;
  o.expanded = true;
  const std::vector<ResultColumn> cols = {{"id", ResultColumn::Type::number}, {"name", ResultColumn::Type::text}};
  CHECK(render(o, cols, {row({"1", "alice"})}) == "-[ RECORD 1 ]\nid   | 1\nname | alice\n\n");
  CHECK(render(o, cols, {}) == "(0 rows)\n\n");
  o.expanded = false;
  o.format = PrintOptions::Format::csv;
  CHECK(render(o, cols, {row({"1", "a,b"}), row({"2", "say \"hi\""}), row({nullptr, ""})}) ==
        "id,name\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n,\n");
  o.format = PrintOptions::Format::json;
  const std::vector<ResultColumn> jc = {{"n", ResultColumn::Type::number}, {"ok", ResultColumn::Type::boolean},
                                        {"doc", ResultColumn::Type::json}, {"t", ResultColumn::Type::text}};
  CHECK(render(o, jc, {row({"1.5", "t", "{\"a\": 1}", "x\"y"}), row({"NaN", "f", nullptr, "****"})}) ==
        "[\n{\"n\":1.5,\"ok\":true,\"doc\":{\"a\": 1},\"t\":\"x\\\"y\"},\n"
        "{\"n\":\"NaN\",\"ok\":false,\"doc\":null,\"t\":\"****\"}\n]\n");
  CHECK(render(o, jc, {}) == "[]\n");
}

TEST_CASE("column masks follow where a column comes from", "[mask]") {
  std::vector<ColumnMaskRule> rules = {
      {"", "email", ColumnMaskRule::Method::full, 0},
      {"customers", "ssn", ColumnMaskRule::Method::keep_last, 4},
      {"", "phone", ColumnMaskRule::Method::hash, 0},
  };
  ColumnMasker m(rules, true, "key");
  const std::vector<ResultColumn> cols = {{"id"}, {"contact"}, {"x"}, {"ssn"}, {"shout"}, {"phone"}};
  const std::vector<ColumnOrigin> origins = {
      {false, "customers", "\x01"},     // id: a table column that is not masked
      {false, "customers", "email"},    // email AS contact: the alias does not unmask it
      {false, "customers", "ssn"},      // ssn AS x
      {false, "employees", "\x01"},     // another table's ssn is not listed: only customers.ssn
      {true, "", ""},                   // upper(email): computed, the query reads a masked table
      {false, "customers", "phone"},
  };
  m.plan(cols, origins, true);
  auto r = row({"1", "a@example.com", "123-45-6789", "999", "A@EXAMPLE.COM", "555-1234"});
  m.apply(r);
  CHECK(r[0].value == "1");
  CHECK(r[1].value == "****");
  CHECK(r[2].value == "*******6789");
  CHECK(r[3].value == "999");  // employees.ssn: only customers.ssn is listed
  CHECK(r[4].value == "****");
  CHECK(r[5].value.starts_with("h:"));
  CHECK(r[5].value.size() == 18);
  auto again = row({"1", "", "", "", "", "555-1234"});
  m.apply(again);
  CHECK(again[5].value == r[5].value);  // stable: equal values stay comparable
  ColumnMasker other_key(rules, true, "another key");
  other_key.plan(cols, origins, true);
  auto r2 = row({"1", "", "", "", "", "555-1234"});
  other_key.apply(r2);
  CHECK(r2[5].value != r[5].value);
  CHECK(m.masked_names(cols) == std::vector<std::string>{"contact", "x", "shout", "phone"});

  // Computed columns of a query that reads no masked table stay visible; and "keep".
  m.plan({{"count"}}, {{true, "", ""}}, false);
  CHECK_FALSE(m.active());
  ColumnMasker keep(rules, false, "key");
  keep.plan({{"shout"}}, {{true, "", ""}}, true);
  CHECK_FALSE(keep.active());
  // NULL stays NULL; keep_last never cuts a UTF-8 character.
  ColumnMaskRule last2{"", "x", ColumnMaskRule::Method::keep_last, 2};
  CHECK(m.mask_value("h\xc3\xa9llo\xc3\xa9", last2) == "****o\xc3\xa9");
  CHECK(m.mask_value("a", last2) == "*");
}

TEST_CASE("exec line options", "[exec]") {
  auto o = parse_sql_exec_line("--csv --timing SELECT 1");
  CHECK(o.print.format == PrintOptions::Format::csv);
  CHECK(o.timing);
  CHECK(o.sql == "SELECT 1");
  o = parse_sql_exec_line("-x --continue-on-error");
  CHECK(o.print.expanded);
  CHECK_FALSE(o.stop_on_error);
  CHECK(o.sql.empty());
  o = parse_sql_exec_line("--frobnicate SELECT 1");
  CHECK(o.error.find("unknown option --frobnicate") != std::string::npos);
  o = parse_sql_exec_line("-- a comment\nSELECT 1");  // SQL that starts with a comment is SQL
  CHECK(o.sql == "-- a comment\nSELECT 1");
  o = parse_sql_exec_line("SELECT -1");
  CHECK(o.sql == "SELECT -1");
}

TEST_CASE("describe patterns cannot change the query", "[describe]") {
  std::string err;
  auto q = describe_query("dt", "cust*", err);
  REQUIRE(q);
  CHECK(q->sql.find("'^(cust.*)$'") != std::string::npos);
  CHECK_FALSE(describe_query("dt", "x'; DROP TABLE y; --", err));
  CHECK(err.find("invalid pattern") != std::string::npos);
  q = describe_query("d", "it's", err);  // a name goes in as a quoted literal
  REQUIRE(q);
  CHECK(q->sql.find("to_regclass('it''s')") != std::string::npos);
  CHECK_FALSE(describe_query("zz", "", err));
}

#include "targets/postgres/message_redaction.h"

TEST_CASE("server messages for the log lose every quoted value", "[redaction]") {
  using bastion::redact_server_message;
  CHECK(redact_server_message("22P02", "invalid input syntax for type integer: \"alice@example.com,bob@x.org\"") ==
        "invalid input syntax for type integer: \"…\"");
  CHECK(redact_server_message("23505", "Key (email)=(alice@example.com) already exists.") ==
        "Key (…)=(…) already exists.");
  CHECK(redact_server_message("22012", "division by zero") == "division by zero");
  CHECK(redact_server_message("42703", "column \"emial\" does not exist\nHINT: x") == "column \"…\" does not exist");
  CHECK(redact_server_message("22P02", "value 'abc") == "value '……");  // cut inside a value
  CHECK(redact_server_message("23505", "a (b (c) d) e") == "a (…) e");
  // What a statement's own code wrote (RAISE) is not kept at all.
  CHECK(redact_server_message("P0001", "found alice@example.com").empty());
  CHECK(redact_server_message("ABCDE", "custom").empty());
  CHECK(redact_server_message("", "no code").empty());
}
