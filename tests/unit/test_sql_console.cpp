// The SQL console's pieces: statement accumulation, the line editor, psql-like
// rendering, column masking and exec-line options.
#include <catch2/catch.hpp>

#include "targets/postgres/column_masker.h"
#include "sources/line_editor.h"
#include "targets/postgres/sql_input.h"
#include "targets/postgres/describe_queries.h"
#include "targets/postgres/pg_executor.h"
#include "targets/postgres/result_renderer.h"

using namespace bastion;

namespace {

// What the splitter hands out for these lines: statements as "S:text",
// backslash commands as "M:text".
std::vector<std::string> split(std::initializer_list<const char*> lines, bool std_strings = true,
                               const SqlInputBuffer::Variables& vars = {}, std::string* rest = nullptr) {
  SqlInputBuffer b;
  b.set_standard_strings(std_strings);
  std::vector<SqlInputItem> items;
  for (const char* l : lines) b.feed_line(l, vars, items);
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back((i.kind == SqlInputItem::Kind::meta ? "M:" : "S:") + i.text);
  if (rest) *rest = b.take_all();
  return out;
}
using V = std::vector<std::string>;

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

TEST_CASE("a statement ends at a top-level semicolon only, with psql's text", "[sqlinput]") {
  CHECK(split({"SELECT 1;"}) == V{"S:SELECT 1;"});
  CHECK(split({"SELECT 1"}).empty());
  CHECK(split({"SELECT ';'"}).empty());
  CHECK(split({"SELECT ';' ;"}) == V{"S:SELECT ';' ;"});
  CHECK(split({"SELECT 'it''s;' ;"}) == V{"S:SELECT 'it''s;' ;"});
  CHECK(split({"SELECT E'\\';' ;"}) == V{"S:SELECT E'\\';' ;"});
  CHECK(split({"SELECT \"a;b\" FROM t;"}) == V{"S:SELECT \"a;b\" FROM t;"});
  CHECK(split({"SELECT 1 -- no; really"}).empty());
  CHECK(split({"SELECT /* ; /* nested ; */ ; */ 1;"}) == V{"S:SELECT /* ; /* nested ; */ ; */ 1;"});
  CHECK(split({"SELECT $$ ; $$;"}) == V{"S:SELECT $$ ; $$;"});
  CHECK(split({"SELECT $fn$ ; $x$ ; $fn$;"}) == V{"S:SELECT $fn$ ; $x$ ; $fn$;"});
  CHECK(split({"SELECT $1, a$b$ ;"}) == V{"S:SELECT $1, a$b$ ;"});  // a parameter; a name with '$'
  CHECK(split({"SELECT (1;"}).empty());  // psql waits for the parenthesis too
  CHECK(split({"SELECT 1 AS a; SELECT 2 AS b;"}) == V{"S:SELECT 1 AS a;", "S:SELECT 2 AS b;"});
  CHECK(split({"SELECT 1 \\; SELECT 2;"}) == V{"S:SELECT 1 ; SELECT 2;"});  // "\;" is psql's way to send both at once
  // Lines join with "\n"; leading blanks and "--" comments are not sent
  // (psql 15), later ones are; block comments are.
  CHECK(split({"  -- leading", "SELECT 1,", "-- inside", "  2;"}) == V{"S:SELECT 1,\n-- inside\n  2;"});
  CHECK(split({"/* lead */ SELECT 1;"}) == V{"S:/* lead */ SELECT 1;"});
  CHECK(split({"SELECT 1 -- c", ";"}) == V{"S:SELECT 1 -- c\n;"});
  // A CR ends a "--" comment, for psql and the server alike.
  CHECK(split({"SELECT 1 -- c\rDROP TABLE x; SELECT 2;"}) == V{"S:SELECT 1 -- c\rDROP TABLE x;", "S:SELECT 2;"});
  std::string rest;
  CHECK(split({"SELECT 1; SELECT", "2"}, true, {}, &rest) == V{"S:SELECT 1;"});
  CHECK(rest == "SELECT\n2");
}

TEST_CASE("BEGIN ATOMIC bodies stay in their CREATE FUNCTION/PROCEDURE", "[sqlinput]") {
  CHECK(split({"CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql", "BEGIN ATOMIC", "  SELECT a + 1;", "END;",
               "SELECT f(1);"}) ==
        V{"S:CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + 1;\nEND;", "S:SELECT f(1);"});
  CHECK(split({"create or replace procedure p() language sql begin atomic insert into t values (1); "
               "delete from t; end; CALL p();"}) ==
        V{"S:create or replace procedure p() language sql begin atomic insert into t values (1); delete from t; end;",
          "S:CALL p();"});
  // CASE ... END inside the body does not close it.
  CHECK(split({"CREATE FUNCTION s(a int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a < 0 THEN 'n' "
               "ELSE 'p' END; END; SELECT 1;"}) ==
        V{"S:CREATE FUNCTION s(a int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a < 0 THEN 'n' "
          "ELSE 'p' END; END;",
          "S:SELECT 1;"});
  // Only in a routine: a transaction block splits as usual.
  CHECK(split({"BEGIN; SELECT 1; END;"}) == V{"S:BEGIN;", "S:SELECT 1;", "S:END;"});
  CHECK(split({"SELECT 'begin'; SELECT 1;"}) == V{"S:SELECT 'begin';", "S:SELECT 1;"});
}

TEST_CASE("a backslash command after a comment is a backslash command", "[sqlinput]") {
  CHECK(split({"-- list the tables", "\\dt", "SELECT 1;"}) == V{"M:\\dt", "S:SELECT 1;"});
  CHECK(split({"SELECT 1; \\x"}) == V{"S:SELECT 1;", "M:\\x"});
  CHECK(split({"SELECT '\\x';"}) == V{"S:SELECT '\\x';"});  // in a string it is text
  std::string rest;
  CHECK(split({"SELECT", "\\x", "1;"}, true, {}, &rest) == V{"M:\\x", "S:SELECT\n1;"});
  CHECK(split({"SELECT 1", "; '' \\x", "2;"}) == V{"S:SELECT 1\n;", "M:\\x", "S:'' \n2;"});
}

TEST_CASE("standard_conforming_strings off: backslash escapes a quote", "[sqlinput]") {
  CHECK(split({"SELECT 'it\\'s; here'; SELECT 2;"}, false) == V{"S:SELECT 'it\\'s; here';", "S:SELECT 2;"});
  // The same text with standard strings is another split: psql's too.
  CHECK(split({"SELECT 'it\\'s; here'; SELECT 2;"}, true) == V{"S:SELECT 'it\\'s;"});
  CHECK(split({"SELECT 'a\\'; SELECT 2;"}, true) == V{"S:SELECT 'a\\';", "S:SELECT 2;"});
  // E'' takes escapes whatever the setting; B'' and U&'' never.
  CHECK(split({"SELECT E'x\\';y';"}, true) == V{"S:SELECT E'x\\';y';"});
  CHECK(split({"SELECT U&'x\\'; SELECT 2;"}, false) == V{"S:SELECT U&'x\\';", "S:SELECT 2;"});
  // B'' ends at its first quote: the quote after it opens another string.
  CHECK(split({"SELECT B'1''a\\'; b'; SELECT 2;"}, false) == V{"S:SELECT B'1''a\\'; b';", "S:SELECT 2;"});
  bool national = false;
  CHECK(with_escape_string_literals("SELECT 'a\\'', x'1F', E'b', int4'1', $$'$$ -- 'c'", national) ==
        "SELECT E'a\\'', x'1F', E'b', int4 E'1', $$'$$ -- 'c'");
  CHECK(with_escape_string_literals("SELECT :'a\\'',('b')", national) == "SELECT : E'a\\'',( E'b')");
  CHECK(with_escape_string_literals("SELECT 4E0$$'$$, 1.5'x'", national) == "SELECT 4E0$$'$$, 1.5 E'x'");
  CHECK(with_escape_string_literals("SELECT $7E0$$'x'", national) == "SELECT $7E0$$ E'x'");  // $7, then a name
  CHECK_FALSE(national);
  with_escape_string_literals("SELECT N'a\\b'", national);
  CHECK(national);
}

TEST_CASE("psql variables are interpolated before anything is decided", "[sqlinput]") {
  const SqlInputBuffer::Variables vars = {{"n", "5"}, {"t", "it's"}, {"two", "1; DROP TABLE x"}};
  CHECK(split({"SELECT :n, :'t', :\"t\", :{?n}, :{?nope}, :nope, 'x:n', a::int;"}, true, vars) ==
        V{"S:SELECT 5, 'it''s', \"it's\", TRUE, FALSE, :nope, 'x:n', a::int;"});
  // A plain :name is lexed as if typed: its ';' ends a statement, as in psql.
  CHECK(split({"SELECT :two;"}, true, vars) == V{"S:SELECT 1;", "S:DROP TABLE x;"});
  // Where psql's lexer and the server's disagree, the split is the server's:
  // "FALSE$$" and "nope$$" are names, not a name and a dollar quote.
  CHECK(split({"SELECT :{?nope}$$; SELECT 2; $$;"}, true, vars) == V{"S:SELECT FALSE$$;", "S:SELECT 2;"});
  CHECK(split({"SELECT :nope$$; SELECT 2; $$;"}, true, vars) == V{"S:SELECT :nope$$;", "S:SELECT 2;"});
  CHECK(psql_quote_literal("a\\b'c") == " E'a\\\\b''c'");
  // Interpolation cannot make a short line huge.
  SqlInputBuffer b;
  std::vector<SqlInputItem> items;
  const SqlInputBuffer::Variables big = {{"big", std::string(SqlInputBuffer::kMaxText / 4, 'x')}};
  b.feed_line("SELECT :big, :big, :big, :big, :big;", big, items);
  CHECK(b.too_long());
  b.clear();
  CHECK_FALSE(b.too_long());
  CHECK(psql_quote_identifier("a\"b") == "\"a\"\"b\"");
}

TEST_CASE("the continuation prompt says what is open", "[sqlinput]") {
  SqlInputBuffer b;
  std::vector<SqlInputItem> items;
  CHECK(b.blank());
  b.feed_line("SELECT 'abc", {}, items);
  CHECK(b.pending() == '\'');
  b.clear();
  b.feed_line("SELECT (1", {}, items);
  CHECK(b.pending() == '(');
  b.clear();
  b.feed_line("SELECT $$", {}, items);
  CHECK(b.pending() == '$');
  b.clear();
  b.feed_line("SELECT 1 /* x", {}, items);
  CHECK(b.pending() == '*');
  b.clear();
  b.feed_line("-- only a comment", {}, items);
  CHECK(b.blank());
  b.feed_line("SELECT 1", {}, items);
  CHECK(b.pending() == '-');
  CHECK(b.take_all() == "SELECT 1");
  CHECK(b.blank());
  CHECK(items.empty());
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
        " id | name  | note  \n"
        "----+-------+-------\n"
        "  1 | alice | \n"
        " 22 | bob   | two  +\n"
        "    |       | lines\n"
        "(2 rows)\n\n");
  CHECK(render(o, cols, {}) == " id | name | note \n----+------+------\n(0 rows)\n\n");
  o.title = "List of things";
  CHECK(render(o, {{"a", ResultColumn::Type::text}}, {row({"x"})}) ==
        "List of things\n a \n---\n x\n(1 row)\n\n");
}

TEST_CASE("values show as psql shows them: NULL, control characters, TABs, no columns", "[render]") {
  CHECK(psql_display_text("esc\x1b[31mred") == "esc\\x1B[31mred");
  CHECK(psql_display_text("cr\rhere\x7f") == "cr\\rhere\\x7F");
  CHECK(psql_display_text("a\tb\tlonger\tc") == "a       b       longer  c");
  CHECK(psql_display_text("x\n\ty") == "x\n        y");  // TAB stops count from the line's start
  CHECK(psql_display_text("\xc2\x85 \xe6\x97\xa5\t.") == "\\u0085 \xe6\x97\xa5       .");  // widths 6, 1, 2
  PrintOptions o;
  CHECK(render(o, {}, {{}}) == "--\n(1 row)\n\n");
  CHECK(render(o, {}, {{}, {}}) == "--\n(2 rows)\n\n");
  CHECK(render(o, {{"v", ResultColumn::Type::text}}, {row({"\x1b]0;title\x07"})}) ==
        "        v         \n------------------\n \\x1B]0;title\\x07\n(1 row)\n\n");
  o.null_display = "X";
  CHECK(render(o, {{"n", ResultColumn::Type::number}, {"m", ResultColumn::Type::text}},
               {row({nullptr, "two\nlines"})}) ==
        " n |   m   \n---+-------\n X | two  +\n   | lines\n(1 row)\n\n");
  // The last column pads nothing once its value has no more lines.
  CHECK(render(PrintOptions{}, {{"m", ResultColumn::Type::text}, {"n", ResultColumn::Type::number}},
               {row({"a\nb", "2"})}) == " m | n \n---+---\n a+| 2\n b | \n(1 row)\n\n");
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

TEST_CASE("csv quotes a field exactly when psql does", "[render][i17]") {
  PrintOptions o;
  o.format = PrintOptions::Format::csv;
  const std::vector<ResultColumn> cols = {{"v", ResultColumn::Type::text}};
  // Quoted: a comma, a quote, a line feed, a carriage return, or exactly "\.".
  CHECK(render(o, cols, {row({"a,"}), row({"\"x"}), row({"a\nb"}), row({"a\rb"}), row({"\\."})}) ==
        "v\n\"a,\"\n\"\"\"x\"\n\"a\nb\"\n\"a\rb\"\n\"\\.\"\n");
  // Not quoted: tabs, blanks, other control bytes, UTF-8, "\." with more.
  CHECK(render(o, cols, {row({"a\tb c"}), row({"\x01\x7f"}), row({"\xc3\xa9"}), row({"\\.x"}), row({"."})}) ==
        "v\na\tb c\n\x01\x7f\n\xc3\xa9\n\\.x\n.\n");
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
  auto r = [](const char* state, const char* msg, const char* ctx = "") {
    return bastion::redact_server_message(state, msg, ctx);
  };
  CHECK(r("22P02", "invalid input syntax for type integer: \"alice@example.com,bob@x.org\"") ==
        "invalid input syntax for type integer: \"…\"");
  CHECK(r("23505", "Key (email)=(alice@example.com) already exists.") == "Key (…)=(…) already exists.");
  CHECK(r("22012", "division by zero") == "division by zero");
  CHECK(r("42703", "column \"emial\" does not exist\nHINT: x") == "column \"…\" does not exist");
  CHECK(r("22P02", "value 'abc") == "value '……");  // cut inside a value
  CHECK(r("23505", "a (b (c) d) e") == "a (…) e");
  // What code in the database may have written is not kept at all: RAISE
  // (any level, any SQLSTATE it chooses), anything raised inside a function.
  CHECK(r("P0001", "found alice@example.com").empty());
  CHECK(r("00000", "found alice@example.com").empty());  // RAISE NOTICE
  CHECK(r("22P02", "found alice@example.com", "PL/pgSQL function inline_code_block line 1 at RAISE").empty());
  CHECK(r("ABCDE", "custom").empty());
  CHECK(r("", "no code").empty());
}
