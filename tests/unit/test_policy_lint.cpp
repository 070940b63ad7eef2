// `bastionctl policy check` (policy_lint), the context `policy test` prints
// (context_text), and case files refusing fields nothing reads.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "policy/context_text.h"
#include "policy/policy_cases.h"
#include "policy/policy_library.h"
#include "policy/policy_lint.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("policy check: a misspelt hook is named with the hook it was meant to be", "[policy][lint]") {
  const auto p = hook_problems({"helper", "on_comand", "on_session"});
  REQUIRE(p.size() == 1);
  CHECK(p[0] == "unknown hook on_comand; did you mean on_command? (hooks: on_session, on_command)");
  CHECK(hook_problems({"onSession", "on_command"}) ==
        std::vector<std::string>{"unknown hook onSession; did you mean on_session? (hooks: on_session, on_command)"});
  // Far from any hook but named like one: still not a hook.
  CHECK(hook_problems({"on_connect_attempt", "on_command"}) ==
        std::vector<std::string>{"unknown hook on_connect_attempt (hooks: on_session, on_command)"});
  CHECK(hook_problems({"on_session", "on_command", "classify"}).empty());
}

TEST_CASE("policy check: a policy without any hook never decides", "[policy][lint]") {
  CHECK(hook_problems({"helper"}) ==
        std::vector<std::string>{"defines no hook (on_session or on_command): it never decides anything"});
}

TEST_CASE("policy check: column mask methods are checked where written", "[policy][lint]") {
  const auto s = scan_policy_text(
      "-- columns = { a = \"nope\" } in a comment is no mask\n"
      "local doc = [[ columns = { b = \"nope\" } ]]\n"
      "return allow{ mask = { columns = { \"email\", card = \"hash\", [\"users.ssn\"] = \"last:4\",\n"
      "  phone = \"last4\", x = 'partial', y = \"last:1000\", z = \"full\" } } }\n",
      "p.lua");
  CHECK(s.mask_problems == std::vector<std::string>{
                               "p.lua:4: mask column method \"last4\" is not full, hash or last:N (N 0-999)",
                               "p.lua:4: mask column method \"partial\" is not full, hash or last:N (N 0-999)",
                               "p.lua:4: mask column method \"last:1000\" is not full, hash or last:N (N 0-999)"});
}

TEST_CASE("policy check: review calls and whether they name approvers", "[policy][lint]") {
  const auto s = scan_policy_text(
      "local function review_helper() end\n"
      "-- review{ reason = 'comment' }\n"
      "if a then return review{ reason = \"x\", approvers = { \"oncall\" } } end\n"
      "if b then return review(\"y\") end\n"
      "if c then return review \"z\" end\n"
      "if d then return review{ reason = \"nested {\", extra = { 1 } } end\n"
      "function M.review(x) return x end\n",
      "p.lua");
  REQUIRE(s.reviews.size() == 4);
  CHECK((s.reviews[0].line == 3 && s.reviews[0].names_approvers));
  CHECK((s.reviews[1].line == 4 && !s.reviews[1].names_approvers));
  CHECK((s.reviews[2].line == 5 && !s.reviews[2].names_approvers));
  CHECK((s.reviews[3].line == 6 && !s.reviews[3].names_approvers));
}

TEST_CASE("policy check: approvers given as a variable the checker cannot see", "[policy][lint]") {
  // A global nobody sets is nil at run time: a review without approvers
  // that used to pass as one with them. Locals, parameters, loop variables
  // and assigned globals are seen; nil is no approvers at all.
  const auto s = scan_policy_text(
      "ONCALL = { \"oncall\" }\n"
      "local dbas, sres = { \"dba\" }, { \"sre\" }\n"
      "function on_command(c, extra)\n"
      "  if c.a then return review{ approvers = some_undefined_variable } end\n"
      "  if c.b then return review{ approvers = ONCALL } end\n"
      "  if c.c then return review{ approvers = dbas, reason = \"x\" } end\n"
      "  if c.d then return review{ approvers = sres } end\n"
      "  if c.e then return review{ approvers = extra } end\n"
      "  for _, who in ipairs(c.x) do return review{ approvers = who } end\n"
      "  if c.f then return review{ approvers = nil } end\n"
      "  if c.g then return review{ approvers = c.session.approvers } end\n"
      "  if c.h then return review{ approvers = pick(c) } end\n"
      "  return review{ approvers = Undefined; reason = \"y\" }\n"
      "end\n",
      "p.lua");
  REQUIRE(s.reviews.size() == 10);
  CHECK((s.reviews[0].names_approvers && s.reviews[0].unseen_approvers_variable == "some_undefined_variable"));
  for (int i : {1, 2, 3, 4, 5, 7, 8}) CHECK(s.reviews[i].unseen_approvers_variable.empty());
  CHECK((!s.reviews[6].names_approvers && s.reviews[6].unseen_approvers_variable.empty()));  // nil
  CHECK(s.reviews[9].unseen_approvers_variable == "Undefined");
  PolicySource src;
  src.path = "/etc/bastion/p.lua";
  src.text = "function on_command(c) return review{ approvers = oncal } end\n";
  CHECK(review_approver_warnings(src) ==
        std::vector<std::string>{"p.lua:1: approvers is a variable the checker cannot see (oncal); make sure it "
                                 "names principals"});
}

TEST_CASE("policy test: the context shows what the policy reads", "[policy][context]") {
  CommandRequest req;
  req.kind = "exec";
  req.text = "ls; rm -rf /";
  req.session.target = "web1";
  req.session.target_labels = {{"env", "prod"}};
  const auto lines = command_context_lines(req);
  CHECK(has(lines, "c.programs = { \"ls\", \"rm\" }"));
  CHECK(has(lines, "c.parts[2].argv = { \"rm\", \"-rf\", \"/\" }"));
  CHECK(has(lines, "c.target.labels.env = \"prod\""));
  CHECK(has(lines, "c.kind = \"exec\""));
  // A target kind's facts: c.sql for a statement.
  const TargetKinds kinds = builtin_target_kinds();
  const auto parsed = kinds.parse("sql", "DELETE FROM people", {});
  REQUIRE(parsed);
  req.kind = "sql";
  req.text = parsed->text;
  req.facts = parsed->facts;
  const auto sql = command_context_lines(req);
  CHECK(has(sql, "c.sql.statement = \"delete\""));
  CHECK(has(sql, "c.sql.writes = { \"people\" }"));
}

TEST_CASE("policy cases: a misspelt field is refused with its case", "[policy][cases]") {
  testutil::TempDir d;
  write(d / "p.lua", "function on_command(c) return allow() end\n");
  write(d / "ok.cases.lua", "cases = { { name = \"a\", command = \"ls\", expect = \"allow\" },\n"
                            "  { name = \"sftp\", kind = \"sftp\", op = \"remove\", path = \"/x\", expect = \"allow\" } }\n");
  write(d / "bad.cases.lua", "cases = {\n  { name = \"a\", command = \"ls\", expect = \"allow\" },\n"
                             "  { name = \"b\", command = \"ls\", expcet = \"deny\" },\n}\n");
  write(d / "badopt.cases.lua",
        "cases = { { name = \"k\", kind = \"kubectl\", command = \"get pods\", namspace = \"x\", expect = \"allow\" } }\n");
  const TargetKinds kinds = builtin_target_kinds();
  std::ostringstream out;
  std::string err;
  CHECK(run_policy_cases(d / "p.lua", d / "ok.cases.lua", kinds, out, err) == 0);
  CHECK(out.str() == "2 passed, 0 failed\n");
  CHECK(run_policy_cases(d / "p.lua", d / "bad.cases.lua", kinds, out, err) == -1);
  CHECK(err == d / "bad.cases.lua" + ": case 2 (b): unknown field \"expcet\"; did you mean expect?");
  CHECK(run_policy_cases(d / "p.lua", d / "badopt.cases.lua", kinds, out, err) == -1);
  CHECK(err == d / "badopt.cases.lua" +
                   ": case 1 (k): unknown field \"namspace\"; did you mean namespace? (kind kubectl also takes: namespace)");
}

TEST_CASE("policy test --config: each kind names what its exec channel decides", "[policy][context]") {
  const TargetKinds kinds = builtin_target_kinds();
  CHECK(kinds.find("ssh")->exec_command_kind() == "exec");
  CHECK(kinds.find("postgres")->exec_command_kind() == "sql");
  CHECK(kinds.find("kubectl")->exec_command_kind() == "kubectl");
  CHECK(kinds.option_names("sftp") == std::set<std::string>{"attrs", "mode", "op", "path", "to"});
  CHECK(kinds.option_names("kubectl") == std::set<std::string>{"namespace"});
  CHECK(kinds.option_names("exec").empty());
}

TEST_CASE("policy check judges a mask pattern with the masking filter's memory bound", "[policy][lint]") {
  // A decision refuses a pattern the filter could not compile (1 MiB for
  // RE2); `policy check` said such patterns were fine (it allowed 8 MiB).
  const std::string big = R"(\pL{300})";
  CHECK_FALSE(bastion::mask_pattern_error(big).empty());
  CHECK(bastion::mask_pattern_error(R"(\d{16})").empty());
  const auto scan = bastion::scan_policy_text("return allow{ mask = { \"" + std::string(R"(\\pL{300})") + "\" } }\n", "p.lua");
  REQUIRE(scan.mask_problems.size() == 1);
  CHECK(scan.mask_problems[0].rfind("p.lua:1: mask pattern \"\\pL{300}\" does not compile: ", 0) == 0);
}
