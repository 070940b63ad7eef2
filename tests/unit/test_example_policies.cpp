// The shipped example policies (policies/*.lua) on the facts a policy case
// cannot set yet: c.shell (hidden, nested, fullscreen) and c.sftp.
#include <catch2/catch.hpp>

#include <memory>

#include "policy/lua_policy.h"
#include "policy/policy_library.h"
#include "sources/shell_line_facts.h"

using namespace bastion;

namespace {

// c.sftp as the sftp gate describes an operation (op, path, mode list).
class FakeSftpFacts : public CommandFacts {
 public:
  FakeSftpFacts(std::string op, std::vector<std::string> mode) : op_(std::move(op)), mode_(std::move(mode)) {}
  const char* field() const override { return "sftp"; }
  void describe(FactWriter& out) const override {
    out.text("op", op_);
    out.text("path", "/etc/hosts");
    out.list("mode", mode_);
  }
  std::string audit_details() const override { return "{}"; }

 private:
  std::string op_;
  std::vector<std::string> mode_;
};

struct Example {
  std::shared_ptr<const PolicySource> src;
  std::string error;
  explicit Example(const char* name) {
    src = load_policy_source(std::string(BASTION_POLICIES_DIR) + "/" + name, PolicyLimits{}, error);
  }
  std::string decide(const std::string& kind, const std::string& text, std::shared_ptr<const CommandFacts> facts,
                     const std::string& principal = "ops", const std::string& env = "prod") {
    auto p = LuaPolicy::create(src, error);
    REQUIRE(p);
    CommandRequest r;
    r.session.identity = "alice";
    r.session.principals = {principal};
    r.session.target = "web1";
    r.session.target_labels = {{"env", env}};
    r.kind = kind;
    r.text = text;
    r.facts = std::move(facts);
    const auto d = p->on_command(r);
    return d ? std::string(d->name()) + ":" + d->reason : "nil";
  }
};

std::shared_ptr<const CommandFacts> line(bool hidden, bool nested, const std::string& program = "",
                                         bool fullscreen = false) {
  ShellLine l;
  l.hidden = hidden;
  l.nested = nested;
  l.program = program;
  l.fullscreen = fullscreen;
  return std::make_shared<ShellLineFacts>(l);
}

std::shared_ptr<const CommandFacts> sftp(const std::string& op, std::vector<std::string> mode = {}) {
  return std::make_shared<FakeSftpFacts>(op, std::move(mode));
}

const std::string kHiddenRefused =
    "deny:input typed without echo is allowed only at a password prompt (sudo, su, ssh, mysql, psql, passwd, gpg)";

}  // namespace

TEST_CASE("default.lua: hidden shell lines only at a password prompt", "[policy][examples]") {
  Example p("default.lua");
  REQUIRE(p.src);
  CHECK(p.decide("shell_line", "", line(true, true, "sudo")) == "allow:");
  CHECK(p.decide("shell_line", "", line(true, true, "psql")) == "allow:");
  CHECK(p.decide("shell_line", "", line(true, false)) == kHiddenRefused);
  CHECK(p.decide("shell_line", "", line(true, true, "python3")) == kHiddenRefused);
  CHECK(p.decide("shell_line", "", line(true, false), "ops", "test") == kHiddenRefused);
}

TEST_CASE("default.lua: nested lines are never judged more leniently", "[policy][examples]") {
  Example p("default.lua");
  REQUIRE(p.src);
  const std::string rm_denied =
      "deny:`rm` is not on the production allow-list; ask for access with "
      "`ssh access@bastion request web1 --for 30m --reason ...`";
  CHECK(p.decide("shell_line", "rm -rf /srv", line(false, true, "psql")) == rm_denied);
  CHECK(p.decide("shell_line", "rm -rf /srv", line(false, true, "sudo")) == rm_denied);
  CHECK(p.decide("shell_line", "rm -rf /srv", line(false, false)) == rm_denied);
  CHECK(p.decide("shell_line", "ls", line(false, true, "bash")) == "allow:");
  CHECK(p.decide("shell_line", "top", line(false, false, "top", true)) ==
        "deny:full-screen programs are not available on production");
  CHECK(p.decide("shell_line", "vim x", line(false, false, "vim", true), "ops", "test") == "allow:");
}

TEST_CASE("default.lua: sftp on production reads files only", "[policy][examples]") {
  Example p("default.lua");
  REQUIRE(p.src);
  CHECK(p.decide("sftp", "open /etc/hosts read", sftp("open", {"read"})) == "allow:");
  CHECK(p.decide("sftp", "open /etc/hosts read,write", sftp("open", {"read", "write"})) ==
        "deny:sftp open for write changes files (production is read-only over sftp)");
  CHECK(p.decide("sftp", "open /etc/hosts write,create,truncate", sftp("open", {"write", "create", "truncate"})) ==
        "deny:sftp open for write changes files (production is read-only over sftp)");
  CHECK(p.decide("sftp", "open /etc/hosts append", sftp("open", {"append"})) ==
        "deny:sftp open for append changes files (production is read-only over sftp)");
  CHECK(p.decide("sftp", "open /etc/hosts", sftp("open")) ==
        "deny:sftp open without read (production is read-only over sftp)");
  for (const char* op : {"remove", "rename", "mkdir", "rmdir", "setstat", "symlink", "hardlink"}) {
    CAPTURE(op);
    CHECK(p.decide("sftp", std::string(op) + " /etc/hosts", sftp(op)) ==
          "deny:sftp " + std::string(op) + " changes files (production is read-only over sftp)");
    CHECK(p.decide("sftp", std::string(op) + " /tmp/x", sftp(op), "ops", "test") == "allow:");
  }
  CHECK(p.decide("sftp", "remove /etc/hosts", nullptr) ==
        "deny:this sftp operation cannot be analysed (production is read-only over sftp)");
}

TEST_CASE("readonly.lua: viewers read over sftp, nothing else", "[policy][examples]") {
  Example p("readonly.lua");
  REQUIRE(p.src);
  CHECK(p.decide("sftp", "open /etc/hosts read", sftp("open", {"read"}), "viewer") == "allow:");
  CHECK(p.decide("sftp", "open /etc/hosts write", sftp("open", {"write"}), "viewer") ==
        "deny:read-only access: sftp open for write changes files");
  CHECK(p.decide("sftp", "remove /etc/hosts", sftp("remove"), "viewer") ==
        "deny:read-only access: sftp remove changes files");
  CHECK(p.decide("shell_line", "", line(true, false), "viewer") == "deny:read-only access: " + kHiddenRefused.substr(5));
}
