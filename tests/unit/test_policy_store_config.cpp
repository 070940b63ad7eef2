// `policy = "store:NAME"` (issue 20's policy store): the configuration
// loader resolves it through a PolicyStoreReader, compiles the stored
// version with its module snapshot (no files), and every decision names the
// version it came from. Without the store: an error where the
// configuration is about to run (fail closed), a null policy flagged as
// unread for tools that only read the audit.
#include <filesystem>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "policy/lua_policy.h"
#include "policy/policy_library.h"
#include "policy/policy_chain.h"
#include "policy/policy_store.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

// The store as the loader sees it: names to their active version.
class FakeStore final : public PolicyStoreReader {
 public:
  std::map<std::string, StoredPolicy> active;
  int reads = 0;
  std::vector<std::string> signers;  // what the loader passed last
  bool active_policy(const std::string& name, const std::vector<std::string>& trusted, StoredPolicy& out,
                     std::string& error) override {
    ++reads;
    signers = trusted;
    const auto it = active.find(name);
    if (it == active.end()) return error = "policy store: no policy named \"" + name + "\"", false;
    out = it->second;
    return true;
  }
  bool active_versions(const std::vector<std::string>& names, std::vector<int64_t>& out, std::string&) override {
    out.clear();
    for (const auto& n : names) out.push_back(active.count(n) ? active.at(n).version : 0);
    return true;
  }
};

StoredPolicy stored(const std::string& name, int64_t version, const std::string& text,
                    std::map<std::string, std::string> modules = {}) {
  return {.name = name, .version = version, .text = text, .modules = std::move(modules), .hash = sha256_hex(text),
          .pushed_by = "root", .pushed_at = "2026-12-01T00:00:00Z", .note = ""};
}

constexpr const char* kSigner = "SHA256:7z4RqOqKa39vkCmJo0FUc7ahvnGuTNeQtd0Du45V7lY";

std::shared_ptr<const Config> load(testutil::TempDir& d, const std::string& global, const std::string& target_policy,
                                   std::string& err, PolicyStoreReader* store, bool check_files = true,
                                   const std::string& signers = std::string("\"") + kSigner + "\"") {
  if (!std::filesystem::exists(d / "host_key"))
    for (const char* k : {"host_key", "ca", "web1_key"}) testutil::keygen(d, k);
  testutil::spit(d / "known_hosts", "[127.0.0.1]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
  testutil::spit(d / "bastion.conf",
                 "host_keys = { \"host_key\" }\nuser_ca_keys = \"ca.pub\"\ndata_dir = \"var\"\n" +
                     (global.empty() ? "" : "policy = \"" + global + "\"\n") +
                     "targets = { web1 = { type = \"ssh\", host = \"10.0.0.5\", user = \"u\", "
                     "identity = \"web1_key\", known_hosts = \"known_hosts\", allow = { \"ops\" }" +
                     (target_policy.empty() ? "" : ", policy = \"" + target_policy + "\"") + " } }\n" +
                     (signers.empty() ? "" : "policy_signers = { " + signers + " }\n"));
  static const TargetKinds kinds = builtin_target_kinds();
  return load_config(d / "bastion.conf", err, kinds, check_files, store);
}

CommandRequest command(const std::string& text) {
  SessionRequest s;
  s.identity = "alice";
  s.target = "web1";
  return CommandRequest{.session = s, .kind = "exec", .text = text};
}

}  // namespace

TEST_CASE("store:NAME loads the active version with its modules, and decisions name it", "[config][policy-store]") {
  testutil::TempDir d;
  FakeStore store;
  const std::string text = "local rules = import(\"rules\")\n"
                           "function on_command(c)\n"
                           "  if c.text:find(\"^rm\") then return deny(\"no rm here\") end\n"
                           "  return rules.check(c)\n"
                           "end\n";
  store.active["guard"] = stored("guard", 3, text,
                                 {{"rules", "local M = {}\nfunction M.check(c)\n  return allow()\nend\nreturn M\n"}});
  std::string err;
  const auto c = load(d, "store:guard", "store:guard", err, &store);
  INFO(err);
  REQUIRE(c);
  REQUIRE(c->policy);
  CHECK(c->policy->version == "store:guard@3");
  CHECK(c->policy->path == "store:guard@3");
  CHECK(c->policy->hash == sha256_hex(text));
  CHECK(c->targets.at("web1").policy == c->policy);  // one name, read and compiled once
  CHECK(store.reads == 1);
  CHECK(c->store_policies == std::map<std::string, int64_t>{{"guard", 3}});
  CHECK_FALSE(c->store_policies_unread);
  CHECK(c->policy_files().empty());  // nothing on disk to watch

  auto chain = PolicyChain::create(c->policy, nullptr, Decision::Verdict::deny, err);
  REQUIRE(chain);
  const Decision d1 = chain->decide(command("rm -rf /"));
  CHECK(d1.verdict == Decision::Verdict::deny);
  CHECK(d1.reason == "no rm here");
  CHECK(d1.source == "store:guard@3:3");
  CHECK(d1.policy_hash == sha256_hex(text));
  const Decision d2 = chain->decide(command("ls"));
  CHECK(d2.verdict == Decision::Verdict::allow);
  CHECK(d2.source == "store:guard@3/rules.lua:3");
}

TEST_CASE("store:NAME that cannot be read is a configuration error where it would run", "[config][policy-store]") {
  testutil::TempDir d;
  const std::string f = d / "bastion.conf";
  FakeStore store;
  std::string err;
  CHECK_FALSE(load(d, "store:missing", "", err, &store));
  CHECK(err == f + ":4: policy: store:missing: policy store: no policy named \"missing\"");
  CHECK_FALSE(load(d, "", "store:missing", err, &store));
  CHECK(err == f + ":4: targets.web1.policy: store:missing: policy store: no policy named \"missing\"");
  // Names are checked before the store is asked.
  CHECK_FALSE(load(d, "store:../etc/x", "", err, &store));
  CHECK(err == f + ":4: policy: store:../etc/x: a policy name is 1 to 32 letters, digits, '_', '.' or '-', "
                   "starting with a letter or digit");
  CHECK(store.reads == 2);  // the two missing names above; the bad one was never asked for
  // A stored version that does not compile (the limits here are this
  // configuration's) is refused like a broken file.
  store.active["broken"] = stored("broken", 2, "function on_command(c)\n  return allow(\nend\n");
  CHECK_FALSE(load(d, "store:broken", "", err, &store));
  CHECK(err.starts_with(f + ":4: policy: store:broken@2:3: "));
  // Text that is not what its hash says (an edited row) is not run.
  store.active["edited"] = stored("edited", 1, "function on_command(c) return allow() end\n");
  store.active["edited"].text = "function on_command(c) return allow() end -- edited\n";
  CHECK_FALSE(load(d, "store:edited", "", err, &store));
  CHECK(err == f + ":4: policy: store:edited@1: stored text does not match its hash");

  // No store at all: bastiond, --check and `config check` load with
  // check_files and must never run without the named policy.
  CHECK_FALSE(load(d, "store:guard", "", err, nullptr));
  CHECK(err == f + ":4: policy: store:guard: the policy store was not read");
  // Readers of the audit (no decisions) get the rest, the policy flagged unread.
  const auto c = load(d, "store:guard", "", err, nullptr, false);
  REQUIRE(c);
  CHECK_FALSE(c->policy);
  CHECK(c->store_policies_unread);
  CHECK(c->store_policies == std::map<std::string, int64_t>{{"guard", 0}});
}

TEST_CASE("store:NAME needs policy_signers, which the loader hands the store", "[config][policy-store]") {
  testutil::TempDir d;
  const std::string f = d / "bastion.conf";
  FakeStore store;
  store.active["guard"] = stored("guard", 1, "function on_command(c) return allow() end\n");
  std::string err;
  // Without trusted keys nothing stored may run: refused before the store is read.
  CHECK_FALSE(load(d, "store:guard", "", err, &store, true, ""));
  CHECK(err == f + ":4: policy: store:guard: a stored policy needs policy_signers, the fingerprints of the keys "
                   "that may sign pushes (bastionctl policy keygen prints the line)");
  CHECK_FALSE(load(d, "store:guard", "", err, nullptr, false, ""));  // the audit readers too
  CHECK(store.reads == 0);
  CHECK_FALSE(load(d, "store:guard", "", err, &store, true, "\"SHA256:short\""));
  CHECK(err == f + ":6: policy_signers: expected fingerprints: \"SHA256:\" and 43 base64 characters each, as "
                   "bastionctl policy keygen prints");
  const std::string other = "SHA256:ciRjx/V+3gNLJMYS1NoFt59d1svLqwlHGeorKy3P2qg";
  const auto c = load(d, "store:guard", "", err, &store, true, std::string("\"") + kSigner + "\", \"" + other + "\"");
  INFO(err);
  REQUIRE(c);
  CHECK(c->policy_signers == std::vector<std::string>{kSigner, other});
  CHECK(store.signers == c->policy_signers);
  // A configuration without stored policies needs none.
  CHECK(load(d, "", "", err, &store, true, ""));
}

TEST_CASE("policy store names", "[policy-store]") {
  for (const auto& ok : std::vector<std::string>{"a", "deny-rm", "prod.web_1", "9lives", std::string(32, 'x')})
    CHECK_FALSE(policy_name_problem(ok));
  for (const auto& bad : std::vector<std::string>{"", "-x", ".hidden", "_x", "a/b", "a b", "a@2", "a:b",
                                                  std::string(33, 'x'), "caf\xc3\xa9"})
    CHECK(policy_name_problem(bad));
  CHECK(stored_policy_label("guard", 12) == "store:guard@12");
  std::map<std::string, std::string> m;
  std::string err;
  REQUIRE(modules_from_json(*modules_to_json({{"b", "x\n"}, {"a", "\"q\""}}), m, err));
  CHECK(m == std::map<std::string, std::string>{{"a", "\"q\""}, {"b", "x\n"}});
  CHECK_FALSE(modules_to_json({{"a", "\xff"}}));
  CHECK_FALSE(modules_from_json("[1]", m, err));
}
