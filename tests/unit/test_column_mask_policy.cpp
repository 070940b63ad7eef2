// The column-mask options a policy sets (derived, allow_derived_objects), how
// two policies' options combine, and how the masker applies them.
#include <catch2/catch.hpp>

#include "targets/postgres/column_masker.h"
#include "policy/lua_policy.h"
#include "policy/policy_library.h"
#include "test_util.h"

using namespace bastion;

namespace {

std::optional<Decision> decide(const std::string& mask) {
  testutil::TempDir d;
  testutil::spit(d / "p.lua", "function on_command(c) return allow{ mask = " + mask + " } end");
  std::string error;
  auto src = load_policy_source(d / "p.lua", {}, error);
  REQUIRE(src);
  auto p = LuaPolicy::create(src, error);
  REQUIRE(p);
  CommandRequest r;
  r.session.identity = "alice";
  r.session.principals = {"ops"};
  r.session.target = "db";
  r.kind = "sql";
  r.text = "SELECT 1";
  return p->on_command(r);
}

Decision masking(bool allow_derived_objects) {
  Decision d = Decision::allow();
  d.column_masks.push_back({"", "email", ColumnMaskRule::Method::full, 0});
  d.allow_derived_objects = allow_derived_objects;
  return d;
}

}  // namespace

TEST_CASE("allow_derived_objects is read from the mask and defaults to false", "[policy][mask]") {
  auto d = decide("{ columns = { \"email\" } }");
  REQUIRE(d);
  CHECK_FALSE(d->allow_derived_objects);
  d = decide("{ columns = { \"email\" }, allow_derived_objects = true }");
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::mask);
  CHECK(d->allow_derived_objects);
  d = decide("{ columns = { \"email\" }, allow_derived_objects = \"yes\" }");  // a mistake denies
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::deny);
  CHECK(d->reason.find("policy error") == 0);
}

TEST_CASE("derived objects are allowed only if every policy that masks columns says so", "[policy][mask]") {
  CHECK(combine(masking(true), masking(true))->allow_derived_objects);
  CHECK_FALSE(combine(masking(true), masking(false))->allow_derived_objects);
  CHECK_FALSE(combine(masking(false), masking(true))->allow_derived_objects);
  CHECK(combine(masking(true), Decision::allow())->allow_derived_objects);  // the other masks nothing
  CHECK(combine(Decision::allow(), masking(true))->allow_derived_objects);
}

TEST_CASE("a computed column is masked only when it may carry a masked value", "[mask]") {
  ColumnMasker m({{"", "email", ColumnMaskRule::Method::full, 0}}, true, "k");
  const std::vector<ResultColumn> cols = {{"count"}, {"upper"}, {"email"}, {"name"}};
  std::vector<ColumnOrigin> o(4);
  o[0].may_carry_masked = false;                       // count(*)
  o[1].may_carry_masked = true;                        // upper(email)
  o[2] = ColumnOrigin{false, "customers", "email"};    // the column itself
  o[3] = ColumnOrigin{false, "customers", "name"};
  m.plan(cols, o, true);
  CHECK(m.masked_names(cols) == std::vector<std::string>{"upper", "email"});
  CHECK(m.derived_names(cols) == std::vector<std::string>{"upper"});
  std::vector<Cell> row(4);
  row[0].value = "3", row[1].value = "ALICE@X", row[2].value = "alice@x", row[3].value = "alice";
  m.apply(row);
  CHECK(row[0].value == "3");
  CHECK(row[1].value == "****");
  CHECK(row[2].value == "****");
  CHECK(row[3].value == "alice");
  CHECK(m.masks_name("EMAIL"));
  CHECK_FALSE(m.masks_name("name"));
  // derived = "keep": computed columns are never masked, whatever they carry.
  ColumnMasker keep({{"", "email", ColumnMaskRule::Method::full, 0}}, false, "k");
  keep.plan(cols, o, true);
  CHECK(keep.masked_names(cols) == std::vector<std::string>{"email"});
  CHECK(keep.derived_names(cols).empty());
}
