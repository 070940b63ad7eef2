// The wire proxy's pure parts: what a StartupMessage may ask for, the
// session's cancel keys, a statement's masks on DataRows, redaction of
// server messages, and the facts a policy and the audit row get.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "targets/postgres/sql_facts.h"
#include "targets/postgres/wire/pg_wire_cancel_keys.h"
#include "targets/postgres/wire/pg_wire_startup.h"
#include "targets/postgres/wire/pg_wire_statement.h"

using namespace bastion;
using namespace bastion::pgwire;

namespace {

StartupPacket packet(std::vector<std::pair<std::string, std::string>> params) {
  StartupPacket p;
  p.code = kProtocol3;
  p.params = std::move(params);
  return p;
}

}  // namespace

TEST_CASE("wire startup: the user is recorded, the database must be the target's") {
  auto v = check_startup(packet({{"user", "mallory"}, {"database", "shop"}, {"application_name", "psql"},
                                 {"client_encoding", "LATIN1"}, {"DateStyle", "ISO, DMY"}}),
                         "shop");
  REQUIRE(v.ok);
  CHECK(v.user == "mallory");
  CHECK(v.application_name == "psql");
  CHECK(v.settings == std::vector<std::pair<std::string, std::string>>{{"datestyle", "ISO, DMY"}});
  v = check_startup(packet({{"user", "x"}, {"database", "postgres"}}), "shop");
  CHECK_FALSE(v.ok);
  CHECK(v.sqlstate == "3D000");
  CHECK(v.message == "bastion: this target serves database \"shop\", not \"postgres\"");
  CHECK(check_startup(packet({{"user", "x"}}), "shop").ok);
}

TEST_CASE("wire startup: replication, options and other parameters are refused") {
  auto v = check_startup(packet({{"user", "x"}, {"replication", "database"}}), "shop");
  CHECK_FALSE(v.ok);
  CHECK(v.message == "bastion: replication connections are not allowed through the bastion");
  v = check_startup(packet({{"user", "x"}, {"options", "-c role=postgres"}}), "shop");
  CHECK_FALSE(v.ok);
  CHECK(v.sqlstate == "42501");
  CHECK(v.message.rfind("bastion: startup options are not allowed", 0) == 0);
  CHECK(check_startup(packet({{"user", "x"}, {"options", ""}}), "shop").ok);  // psql sends none; empty is nothing
  CHECK(check_startup(packet({{"user", "x"}, {"replication", "false"}}), "shop").ok);  // drivers may say so
  for (const char* side_door : {"role", "session_authorization", "search_path", "default_transaction_read_only"}) {
    v = check_startup(packet({{"user", "x"}, {side_door, "y"}}), "shop");
    CHECK_FALSE(v.ok);
    CHECK(v.message == std::string("bastion: the startup parameter \"") + side_door +
                           "\" is not allowed through the bastion (use SET, which the policy decides)");
  }
}

TEST_CASE("wire cancel keys: random, per registry, removed with their connection") {
  CancelKeys keys;
  int cancelled = 0;
  const auto a = keys.add([&] { ++cancelled; });
  const auto b = keys.add([&] { cancelled += 10; });
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);
  CHECK(a->first > 0);
  CHECK_FALSE(keys.cancel(a->first, a->second + 1));  // the key must match too
  CHECK(keys.cancel(a->first, a->second));
  CHECK(cancelled == 1);
  keys.remove(*a);
  CHECK_FALSE(keys.cancel(a->first, a->second));
  CancelKeys other;  // another session's registry knows nothing of these
  CHECK_FALSE(other.cancel(b->first, b->second));
  CHECK(keys.size() == 1);
}

TEST_CASE("wire statement: DataRows masked per column, fail closed without a plan") {
  WireStatement s;
  s.stmt.text = "SELECT id, email FROM customers";
  s.gate.decision = Decision::allow("");
  s.gate.decision.column_masks = {ColumnMaskRule{"", "email", ColumnMaskRule::Method::full, 0}};
  s.gate.decision.mask = {MaskRule{"sk_live_[0-9A-Za-z]+", "[key]"}};
  REQUIRE(prepare_masks(s, "k") == "");
  std::string out;
  // No RowDescription (an Execute nobody described): every column masked.
  REQUIRE(mask_data_row(s, std::string("\0\x02\0\0\0\x01" "1" "\0\0\0\x03" "a@b", 14), out));
  CHECK(out == encode_data_row({std::string("****"), std::string("****")}));
  // Catalog unavailable (null): every column masked too.
  std::vector<FieldDescription> fields(2);
  fields[0].name = "id", fields[0].table_oid = 16384, fields[0].column = 1, fields[0].type_oid = 23;
  fields[1].name = "note", fields[1].table_oid = 0, fields[1].type_oid = 25;
  CHECK(plan_result(s, fields, nullptr) == "");
  CHECK(s.masked_columns == "id,note");
  // A masked column in binary format cannot be masked: refused.
  fields[1].format = 1;
  CHECK(plan_result(s, fields, nullptr) ==
        "column \"note\" is masked and requested in binary format, which cannot be masked");
}

TEST_CASE("wire statement: under column masks, names a FETCH's text does not show are withheld") {
  WireStatement s;
  s.stmt.text = "FETCH ALL FROM leaky";
  s.stmt.kind = "fetch";
  s.gate.decision = Decision::allow("");
  s.gate.decision.column_masks = {ColumnMaskRule{"", "email", ColumnMaskRule::Method::full, 0}};
  REQUIRE(prepare_masks(s, "k") == "");
  std::vector<FieldDescription> fields(4);
  fields[0].name = "alice@example.com";  // SELECT 1 AS <a masked value>, through EXECUTE
  fields[1].name = "email", fields[1].table_oid = 16384, fields[1].column = 2;  // the table column's own name
  fields[2].name = "LEAKY", fields[2].table_oid = 16384, fields[2].column = 1;  // shown by the text
  fields[3].name = "bob@example.com", fields[3].table_oid = 16384, fields[3].column = 2;  // an alias from elsewhere
  const OriginResolver catalog = [](const std::vector<ColumnKey>&, OriginMap& out) {
    out[{16384, 1}] = ColumnOrigin{false, "customers", "id"};
    out[{16384, 2}] = ColumnOrigin{false, "customers", "email"};
    return true;
  };
  REQUIRE(plan_result(s, fields, catalog) == "");
  CHECK(s.names_withheld);
  CHECK(fields[0].name == "?column?");
  CHECK(fields[1].name == "email");
  CHECK(fields[2].name == "LEAKY");
  CHECK(fields[3].name == "?column?");
  // No catalog: only what the text shows survives.
  WireStatement t;
  t.stmt = s.stmt;
  t.gate.decision = s.gate.decision;
  REQUIRE(prepare_masks(t, "k") == "");
  std::vector<FieldDescription> f2(1);
  f2[0].name = "email", f2[0].table_oid = 16384, f2[0].column = 2;
  REQUIRE(plan_result(t, f2, nullptr) == "");
  CHECK(f2[0].name == "?column?");
  // A plain SELECT names its columns itself: untouched.
  WireStatement u;
  u.stmt.text = "SELECT 1 AS x";
  u.stmt.kind = "select";
  u.gate.decision = s.gate.decision;
  REQUIRE(prepare_masks(u, "k") == "");
  std::vector<FieldDescription> f3(1);
  f3[0].name = "whatever";
  REQUIRE(plan_result(u, f3, nullptr) == "");
  CHECK_FALSE(u.names_withheld);
  CHECK(f3[0].name == "whatever");
}

TEST_CASE("wire statement: output patterns apply to each text value") {
  WireStatement s;
  s.stmt.text = "SELECT note FROM t";
  s.gate.decision = Decision::allow("");
  s.gate.decision.mask = {MaskRule{"sk_live_[0-9A-Za-z]+", "[key]"}};
  REQUIRE(prepare_masks(s, "k") == "");
  std::vector<FieldDescription> fields(1);
  fields[0].name = "note";
  REQUIRE(plan_result(s, fields, nullptr) == "");
  std::string out;
  const std::string row = encode_data_row({std::string("a sk_live_abc1 b"), std::nullopt});
  REQUIRE(mask_data_row(s, std::string_view(row).substr(5), out));
  CHECK(out == encode_data_row({std::string("a [key] b"), std::nullopt}));
  fields[0].format = 1;
  CHECK(plan_result(s, fields, nullptr) == "output masks apply and column \"note\" is requested in binary format");
}

TEST_CASE("wire statement: COPY TO and derived objects refused under column masks") {
  WireStatement s;
  s.gate.decision = Decision::allow("");
  s.gate.decision.column_masks = {ColumnMaskRule{"", "email", ColumnMaskRule::Method::full, 0}};
  s.stmt.text = "COPY orders TO STDOUT";
  s.stmt.reads = {"orders"};
  CHECK(prepare_masks(s, "k") == "COPY ... TO cannot be masked; column masks apply to this statement");
  WireStatement v;
  v.gate.decision = s.gate.decision;
  v.stmt.text = "INSERT INTO scratch VALUES (1)";
  v.stmt.kind = "insert";
  CHECK(prepare_masks(v, "k") == "");  // reads nothing: nothing masked can be copied
}

TEST_CASE("wire statement: server messages under column masks keep severity and SQLSTATE only") {
  const Fields f = {{'S', "ERROR"}, {'V', "ERROR"}, {'C', "22P02"},
                    {'M', "invalid input syntax for type integer: \"alice@example.com\""}, {'D', "alice"}};
  const Fields r = redacted(f, "error");
  CHECK(r == make_fields("ERROR", "22P02", "the error text is withheld because the statement reads masked columns"));
}

TEST_CASE("wire facts: source and bound parameters for the policy and the audit row") {
  SqlFacts f;
  f.statement = "select";
  CHECK(nlohmann::json::parse(SqlCommandFacts(f).audit_details()).count("source") == 0);  // console rows as before
  f.source = "wire";
  f.params = {SqlParam{std::string("1"), false}, SqlParam{std::nullopt, false}, SqlParam{std::nullopt, true},
              SqlParam{std::string(2000, 'x'), false}};
  const auto j = nlohmann::json::parse(SqlCommandFacts(f).audit_details());
  CHECK(j["source"] == "wire");
  CHECK(j["params"][0] == "1");
  CHECK(j["params"][1].is_null());
  CHECK(j["params"][2] == nlohmann::json{{"binary", true}});
  CHECK(j["params"][3] == std::string(1024, 'x') + "... (2000 bytes)");
}

TEST_CASE("wire statement: the tree cache gives the same tree for the same text, and keeps only small ones") {
  TreeCache cache;
  StatementTree a, b, c;
  REQUIRE(cache.parse("SELECT email FROM customers WHERE id = $1", a));
  REQUIRE(cache.parse("SELECT email FROM customers WHERE id = $1", b));
  CHECK(a.tree() == b.tree());  // kept: not parsed again
  CHECK(b.stmt().has("SelectStmt"));
  // Another text is parsed, and replaces the entry.
  REQUIRE(cache.parse("DELETE FROM orders", c));
  CHECK(c.tree() != a.tree());
  CHECK(c.stmt().has("DeleteStmt"));
  StatementTree d;
  REQUIRE(cache.parse("SELECT email FROM customers WHERE id = $1", d));
  CHECK(d.tree() != a.tree());
  CHECK(d.stmt().has("SelectStmt"));
  // What does not parse is not kept, and fails every time.
  StatementTree e;
  CHECK_FALSE(cache.parse("SELEC nothing", e));
  CHECK_FALSE(cache.parse("SELEC nothing", e));
  CHECK_FALSE(e.stmt().present());
  // A tree past the bound is not kept: each parse makes its own.
  std::string big = "SELECT 1";
  while (big.size() < 40000) big += ", 1";
  StatementTree f, g;
  REQUIRE(cache.parse(big, f));
  REQUIRE(f.tree()->bytes() > TreeCache::kMaxBytes);
  REQUIRE(cache.parse(big, g));
  CHECK(f.tree() != g.tree());
}

TEST_CASE("wire statement: masks prepared through the tree cache judge the statement as a fresh parse does") {
  TreeCache cache;
  for (int i = 0; i < 2; ++i) {  // the second time from the cache
    WireStatement s;
    s.stmt.text = "COPY (SELECT email FROM customers) TO STDOUT";
    s.stmt.kind = "copy";
    s.stmt.reads = {"customers"};
    s.gate.decision = Decision::allow("");
    s.gate.decision.column_masks = {ColumnMaskRule{"", "email", ColumnMaskRule::Method::full, 0}};
    CHECK(prepare_masks(s, "k", nullptr, &cache) == "COPY ... TO cannot be masked; column masks apply to this statement");
  }
}
