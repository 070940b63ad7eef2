// Target kinds as plug-ins: a kind defined only under tests/ (tests/kinds/
// echo) is read from the config, checked, parsed for policy tests and seen
// by policies through its own facts, with nothing outside its folder
// knowing it.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "config/config_check.h"
#include "echo_kind.h"
#include "policy/policy_chain.h"
#include "test_util.h"

using namespace bastion;

namespace {

struct EchoConfig {
  testutil::TempDir d;
  EchoConfig() {
    testutil::keygen(d, "host_key");
    testutil::keygen(d, "ca");
  }
  std::string write(const std::string& targets) {
    testutil::spit(d / "bastion.conf", "host_keys = { \"host_key\" }\nuser_ca_keys = \"ca.pub\"\ndata_dir = \"var\"\n"
                                       "targets = {\n" + targets + "\n}\n");
    return d / "bastion.conf";
  }
};

}  // namespace

TEST_CASE("a kind registered by a test is a config type like any other", "[kinds]") {
  const TargetKinds kinds = testkind::kinds_with_echo();
  EchoConfig c;
  std::string err;
  auto cfg = load_config(c.write("  e1 = { type = \"echo\", greeting = \"hi\", token = \"t0k\", allow = \"ops\",\n"
                                 "         credentials = { weak = { token = \"weak\" } } },"),
                         err, kinds);
  INFO(err);
  REQUIRE(cfg);
  const TargetConfig& t = cfg->targets.at("e1");
  CHECK(t.type == "echo");
  CHECK(&kind_of(t) == kinds.find("echo"));
  CHECK(t.credentials.size() == 2);
  CHECK(kind_of(t).commands_per_channel());
  // Its --check runs too.
  CHECK(check_config_files(*cfg) == std::vector<std::string>{"targets.e1: credential weak has a weak token"});

  const std::string f = c.d / "bastion.conf";
  CHECK_FALSE(load_config(c.write("  e1 = { type = \"echo\", token = \"t\", allow = \"ops\" },"), err, kinds));
  CHECK(err == f + ":5: targets.e1.greeting: required");
  CHECK_FALSE(load_config(c.write("  e1 = { type = \"echo\", greeting = \"hi\", token = \"t\", host = \"x\", allow = \"ops\" },"),
                          err, kinds));
  CHECK(err == f + ":5: targets.e1.host: unknown key");
  CHECK_FALSE(load_config(c.write("  e1 = { type = \"echo\", greeting = \"hi\", allow = \"ops\",\n"
                                  "         credentials = { a = { token = \"t\", user = \"u\" } } },"),
                          err, kinds));
  CHECK(err == f + ":6: targets.e1.credentials.a.user: unknown key (echo credentials take token)");
  // Without the registration line, the type is unknown, and the message lists what is known.
  const TargetKinds builtin = builtin_target_kinds();
  CHECK_FALSE(load_config(c.write("  e1 = { type = \"echo\", greeting = \"hi\", token = \"t\", allow = \"ops\" },"), err,
                          builtin));
  CHECK(err == f + ":5: targets.e1.type: unsupported target type \"echo\" (supported: ssh, postgres, kubectl, http)");
}

TEST_CASE("a kind's facts reach the policy and the audit details", "[kinds]") {
  const TargetKinds kinds = testkind::kinds_with_echo();
  const auto parsed = kinds.parse("echo", "rm -rf /", {{"loud", "true"}});
  REQUIRE(parsed);
  REQUIRE(parsed->facts);
  CHECK(std::string(parsed->facts->field()) == "echo");
  CHECK(parsed->facts->audit_details() == R"({"words":["rm","-rf","/"]})");
  CHECK_FALSE(kinds.parse("exec", "ls", {}));  // no kind parses exec lines
  CHECK(kinds.command_kinds() == std::vector<std::string>{"shell_line", "sftp", "sql", "kubectl", "kube_request", "http", "echo"});

  testutil::TempDir d;
  testutil::spit(d / "p.lua", "function on_command(c)\n"
                              "  if c.echo and c.echo.loud and c.echo.words[1] == 'rm' then return deny('loud rm') end\n"
                              "  if c.echo and #c.echo.words > 0 then return deny('words: ' .. #c.echo.words) end\n"
                              "  return deny('no facts')\nend\n");
  std::string err;
  auto src = load_policy_source(d / "p.lua", {}, err);
  REQUIRE(src);
  auto chain = PolicyChain::create(src, nullptr, Decision::Verdict::deny, err);
  REQUIRE(chain);
  CommandRequest req;
  req.kind = "echo";
  req.text = parsed->text;
  req.facts = parsed->facts;
  CHECK(chain->decide(req).reason == "loud rm");
  req.facts = kinds.parse("echo", "hello there", {})->facts;
  CHECK(chain->decide(req).reason == "words: 2");
  req.facts = nullptr;
  CHECK(chain->decide(req).reason == "no facts");
}
