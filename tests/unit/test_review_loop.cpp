// The review loop's pieces: an approver's console hears of new requests it
// may decide (ApprovalCommands::arrivals), printed above the line being
// edited, which is redrawn as typed (LineEditor::print_above,
// CommandConsole::notify); the chat form of the webhook (webhook_text).
#include <catch2/catch.hpp>

#include "approvals/approval_commands.h"
#include "approvals/webhook.h"
#include "audit/sqlite_audit_store.h"
#include "capture_output.h"
#include "common/brace_template.h"
#include "common/time_util.h"
#include "sources/command_console.h"
#include "sources/line_editor.h"
#include "test_util.h"

using namespace bastion;
using V = std::vector<std::string>;

namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15 08:00:00Z

ApprovalRequest held(const std::string& requester, const std::string& text, std::vector<std::string> approvers) {
  ApprovalRequest r;
  r.kind = "command";
  r.session_id = "s1";
  r.requester = requester;
  r.target = "web1";
  r.command_kind = "exec";
  r.command_text = text;
  r.reason = "held";
  r.approvers = std::move(approvers);
  r.created_at = kNow;
  r.expires_at = kNow + 600;
  return r;
}

class Quiet : public ConsoleInterpreter {
 public:
  void on_line(const std::string&) override {}
  void on_end_of_input() override {}
  std::string prompt() override { return "approvals> "; }
  bool busy() const override { return false; }
  bool finished() const override { return false; }
};

}  // namespace

TEST_CASE("line editor: a line printed above the edited one, which is redrawn", "[review][editor]") {
  LineEditor ed;
  std::string out, echo;
  std::vector<LineEditor::Event> ev;
  ed.begin("approvals> ", out);
  ed.feed("appro\x1b[D\x1b[D", echo, ev);  // typed, cursor moved back two
  out.clear();
  ed.print_above("bastion: new request #3", out);
  CHECK(out == "\r\x1b[Kbastion: new request #3\r\n\rapprovals> appro\x1b[K\x1b[2D");
  CHECK(ed.line() == "appro");
  // Editing goes on where it was.
  echo.clear();
  ed.feed("X\r", echo, ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].text == "appXro");
}

TEST_CASE("console: notify on a pty goes above the prompt; without one to stderr", "[review][console]") {
  Quiet q;
  test::CaptureOutput out;
  CommandConsole pty(q, CommandConsole::Input::editor, true);
  pty.attach(&out);
  pty.step();
  pty.write_input("li");
  pty.step();
  pty.notify("bastion: new request #4");
  pty.flush();
  CHECK(out.take() == "approvals> li\r\x1b[Kbastion: new request #4\r\n\rapprovals> li\x1b[K");
  CommandConsole script(q, CommandConsole::Input::script, false);
  script.attach(&out);
  script.notify("bastion: new request #5");
  script.flush();
  CHECK(out.err == "bastion: new request #5\n");
}

TEST_CASE("arrivals: only new requests the approver may decide, each once", "[review][approvals]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  Config cfg;
  ApprovalCommands bob(*store, cfg, ApprovalActor{"bob", {"oncall"}, false}, [] {});
  ApprovalRequest before = held("alice", "echo before", {"oncall"});
  REQUIRE(store->create_request(before, err));
  int64_t after = 0;
  CHECK(bob.arrivals(after, kNow).size() == 1);  // the console starts by taking what is there
  CHECK(after == before.id);
  ApprovalRequest mine = held("bob", "echo mine", {"oncall"});          // four eyes: not his to decide
  ApprovalRequest others = held("alice", "echo dba", {"dba-lead"});     // not his principal
  ApprovalRequest his = held("alice", "echo <!channel>\x1b[2K", {"oncall"});
  for (ApprovalRequest* r : {&mine, &others, &his}) REQUIRE(store->create_request(*r, err));
  const std::string id = std::to_string(his.id);
  CHECK(bob.arrivals(after, kNow + 5) ==
        V{"bastion: new request #" + id + "  pending  alice  web1 exec: echo <!channel>\\x1b[2K  (held)  5s ago  "
          "[0/1 approvals; approvers: oncall]; approve " + id + " or deny " + id + " --reason ..."});
  CHECK(after == his.id);
  CHECK(bob.arrivals(after, kNow + 6).empty());  // told once
}

TEST_CASE("arrivals: a request behind 250 decided ones is still announced, once", "[review][approvals][i16]") {
  // The console used to read the newest 200 requests every second: one
  // arriving with more than 200 others in the same poll was never told.
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  Config cfg;
  ApprovalCommands bob(*store, cfg, ApprovalActor{"bob", {"oncall"}, false}, [] {});
  int64_t after = 0;
  CHECK(bob.arrivals(after, kNow).empty());
  ApprovalRequest first = held("alice", "echo first", {"oncall"});
  REQUIRE(store->create_request(first, err));
  for (int i = 0; i < 250; ++i) {
    ApprovalRequest r = held("alice", "echo " + std::to_string(i), {"oncall"});
    REQUIRE(store->create_request(r, err));
    REQUIRE(store->transition(r.id, ApprovalState::pending, ApprovalState::denied, kNow, "carol", "no", 0, err));
  }
  const V lines = bob.arrivals(after, kNow + 1);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("bastion: new request #" + std::to_string(first.id) + "  pending  alice  web1 exec: echo first", 0) == 0);
  CHECK(after == first.id + 250);
  CHECK(bob.arrivals(after, kNow + 2).empty());
}

TEST_CASE("arrivals: an idle poll reads only past the last id; consoles that can approve nothing do not poll",
          "[review][approvals][i16]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  // 250 decided requests and one pending: the pending one, past the old
  // "newest 200" window, is still found, and each is read once.
  ApprovalRequest first = held("alice", "echo first", {"oncall"});
  REQUIRE(store->create_request(first, err));
  for (int i = 0; i < 250; ++i) {
    ApprovalRequest r = held("alice", "echo " + std::to_string(i), {"oncall"});
    REQUIRE(store->create_request(r, err));
    REQUIRE(store->transition(r.id, ApprovalState::pending, ApprovalState::denied, kNow, "bob", "no", 0, err));
  }
  int64_t after = 0;
  std::vector<ApprovalRequest> got = store->pending_after(after, err);
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == first.id);
  CHECK(after == first.id + 250);
  CHECK(store->pending_after(after, err).empty());  // idle: nothing loaded
  CHECK(after == first.id + 250);
  ApprovalRequest next = held("alice", "echo next", {"oncall"});
  REQUIRE(store->create_request(next, err));
  got = store->pending_after(after, err);
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == next.id);
  CHECK(after == next.id);
  CHECK(err.empty());

  // Whose console polls: an approver of some target, an admin, or anyone
  // when a policy (whose review may name anyone) is configured.
  Config cfg;
  cfg.targets["web1"].name = "web1";
  cfg.targets["web1"].approvers = {"oncall"};
  CHECK(ApprovalCommands(*store, cfg, ApprovalActor{"bob", {"oncall"}, false}, [] {}).may_approve_something());
  CHECK_FALSE(ApprovalCommands(*store, cfg, ApprovalActor{"eve", {"dev"}, false}, [] {}).may_approve_something());
  CHECK(ApprovalCommands(*store, cfg, ApprovalActor{"admin:root", {}, true}, [] {}).may_approve_something());
}

TEST_CASE("webhook text: a chat message from a template, escaped for Slack", "[review][webhook]") {
  ApprovalRequest r = held("alice", "rm -rf /tmp/x && echo <!channel>", {"oncall", "ops"});
  r.id = 12;
  const std::string tmpl = ":lock: {requester} asks to run `{command}` on {target} ({reason}); "
                           "approve: ssh approvals@bastion approve {id} ({event}, times out {expires_at}) {{ok}}";
  CHECK(Webhook::chat_payload(tmpl, r, "created") ==
        R"({"text":":lock: alice asks to run `rm -rf /tmp/x &amp;&amp; echo &lt;!channel&gt;` on web1 (held); )"
        R"(approve: ssh approvals@bastion approve 12 (created, times out 2027-01-15T08:10:00Z) {ok}"})");
}

TEST_CASE("brace templates: unknown names and lone braces are errors", "[review][webhook]") {
  const std::vector<std::string_view> names{"id", "event"};
  CHECK(brace_template_error("{id} {event} {{x}}", names).empty());
  CHECK(brace_template_error("{comand}", names) == "unknown placeholder {comand} (known: {id} {event})");
  CHECK(brace_template_error("a {id", names) == "an unclosed { at character 3");
  CHECK(brace_template_error("a } b", names) == "a lone } at character 3 (write }} for a brace)");
  CHECK(brace_template_expand("{id}-{{", [](std::string_view n) { return "<" + std::string(n) + ">"; }) == "<id>-{");
}
