// The executors that carry a console, driven as the session drives them
// (write_input, send_eof, pump_output) with a fake CommandGate: what reaches
// the gate, in which order, what the user sees and the exit status.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "approvals/approvals_executor.h"
#include "audit/sqlite_audit_store.h"
#include "capture_output.h"
#include "fake_command_gate.h"
#include "targets/kubectl/kubectl_executor.h"
#include "targets/kubectl/kubectl_settings.h"

using namespace bastion;
using bastion::test::CaptureOutput;
using bastion::test::FakeCommandGate;
using V = std::vector<std::string>;

namespace {

// Pumps until the executor says it is done (bounded: a child may need a moment).
bool pump_to_end(Executor& e, CaptureOutput& out) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (e.pump_output(out, 1 << 16)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::string pump(Executor& e, CaptureOutput& out, std::string_view input = {}) {
  if (!input.empty()) e.write_input(input);
  e.pump_output(out, 1 << 16);
  return out.take();
}

ExecRequest exec_request(ChannelKind kind, std::string text, bool pty, CommandGate* gate = nullptr) {
  ExecRequest r;
  r.kind = kind;
  r.text = std::move(text);
  if (pty) r.pty = PtyRequest{.term = "xterm", .cols = 80, .rows = 24};
  r.gate = gate;
  return r;
}

struct KubectlRig {
  TargetConfig target;
  FakeCommandGate gate;
  CaptureOutput out;
  KubectlRig() {
    target.name = "k8s";
    target.type = "kubectl";
    // echo stands in for kubectl: the argv it would get comes back as output.
    auto k = std::make_shared<KubectlSettings>();
    k->kubectl = "/bin/echo";
    k->sandbox = false;
    target.settings = k;
  }
  std::unique_ptr<KubectlExecutor> start(ChannelKind kind, const std::string& text, bool pty) {
    ExecRequest r = exec_request(kind, text, pty, &gate);
    if (geteuid() == 0) r.sandbox_uid = 65534;  // as root, kubectl never runs as root
    return std::make_unique<KubectlExecutor>(target, r, gate, "/tmp", nullptr);
  }
};

struct ApprovalsRig {
  std::filesystem::path dir;
  std::unique_ptr<SqliteAuditStore> store;
  Config cfg;
  CaptureOutput out;
  ApprovalsRig() {
    char tmpl[] = "/tmp/approvals-exec-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    dir = tmpl;
    std::string err;
    store = SqliteAuditStore::open(dir / "audit.db", err);
    REQUIRE(store);
  }
  ~ApprovalsRig() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<ApprovalsExecutor> start(ChannelKind kind, const std::string& text, bool pty) {
    auto cmds = std::make_unique<ApprovalCommands>(*store, cfg, ApprovalActor{.identity = "alice", .principals = {"alice"}},
                                                   [] {});
    return std::make_unique<ApprovalsExecutor>("approvals", exec_request(kind, text, pty), std::move(cmds));
  }
};

}  // namespace

TEST_CASE("kubectl exec: an allowed invocation runs once, with the target's namespace", "[console][kubectl]") {
  KubectlRig k;
  auto e = k.start(ChannelKind::exec, "get pods", false);
  REQUIRE(pump_to_end(*e, k.out));
  CHECK(k.out.out == "--namespace=default get pods\n");
  CHECK(e->exit_info().status == 0);
  CHECK(k.gate.calls == V{"submit get pods", "ended 1 status=0"});
}

TEST_CASE("kubectl exec: an argv the bastion always refuses never reaches the policy", "[console][kubectl]") {
  KubectlRig k;
  auto e = k.start(ChannelKind::exec, "config view --raw", false);
  REQUIRE(pump_to_end(*e, k.out));
  REQUIRE(k.gate.calls.size() == 2);
  CHECK(k.gate.calls[0].starts_with("refuse config view --raw: "));
  CHECK(k.gate.calls[1] == "ended 1 status=126");
  const std::string why = k.gate.calls[0].substr(std::string("refuse config view --raw: ").size());
  CHECK(k.out.err == "bastion: denied: " + why + "\n");
  CHECK(k.out.out.empty());
  CHECK(e->exit_info().status == kKubectlExitDenied);
}

TEST_CASE("kubectl script: a refused line is reported and the next still runs", "[console][kubectl]") {
  KubectlRig k;
  k.gate.rules["delete pod x"] = FakeCommandGate::Rule::deny;
  auto e = k.start(ChannelKind::shell, "", false);
  e->write_input("# a comment\ndelete pod x\n\nget ns\n");
  e->send_eof();
  REQUIRE(pump_to_end(*e, k.out));
  CHECK(k.gate.calls == V{"submit delete pod x", "ended 1 status=126", "submit get ns", "ended 2 status=0"});
  CHECK(k.out.err == "bastion: denied: no delete pod x\n");
  CHECK(k.out.out == "--namespace=default get ns\n");
  CHECK(e->exit_info().status == kKubectlExitDenied);  // a script reports the failure at its end
}

TEST_CASE("kubectl console: prompt, a refusal with CR LF, exit", "[console][kubectl]") {
  KubectlRig k;
  k.gate.rules["delete pod x"] = FakeCommandGate::Rule::deny;
  auto e = k.start(ChannelKind::shell, "", true);
  CHECK(pump(*e, k.out) == "k8s (default)> ");
  CHECK(pump(*e, k.out, "delete pod x\r") == "delete pod x\r\nbastion: denied: no delete pod x\r\nk8s (default)> ");
  CHECK(k.out.err.empty());
  CHECK(pump(*e, k.out, "exit\r") == "exit\r\n");
  CHECK_FALSE(e->pump_output(k.out, 1 << 16));
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("kubectl console: a held invocation waits; Ctrl-C withdraws it", "[console][kubectl]") {
  KubectlRig k;
  k.gate.rules["delete pod x"] = FakeCommandGate::Rule::hold;
  auto e = k.start(ChannelKind::shell, "", true);
  pump(*e, k.out);
  CHECK(pump(*e, k.out, "delete pod x\r") == "delete pod x\r\n");  // no prompt while held
  CHECK(pump(*e, k.out, "get ns\r") == "");                       // typed ahead: waits
  CHECK(pump(*e, k.out, "\x03") == "bastion: denied: request #1 cancelled\r\nk8s (default)> ");
  CHECK(k.gate.calls == V{"submit delete pod x", "cancel #1", "ended 1 status=126"});
}

TEST_CASE("kubectl console: a held invocation runs once approved", "[console][kubectl]") {
  KubectlRig k;
  k.gate.rules["get ns"] = FakeCommandGate::Rule::hold;
  auto e = k.start(ChannelKind::exec, "get ns", false);
  CHECK(pump(*e, k.out) == "");
  CHECK(pump(*e, k.out) == "");
  k.gate.approve(1);
  REQUIRE(pump_to_end(*e, k.out));
  CHECK(k.out.out == "--namespace=default get ns\n");
  CHECK(k.gate.calls == V{"submit get ns", "decided #1", "ended 2 status=0"});
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("approvals exec: one command, its status", "[console][approvals]") {
  ApprovalsRig a;
  auto e = a.start(ChannelKind::exec, "show x", false);
  CHECK_FALSE(e->pump_output(a.out, 1 << 16));
  CHECK(a.out.err.starts_with("\"x\" is not a request number"));
  CHECK(e->exit_info().status == 2);
}

TEST_CASE("approvals script: each line a command; the last one's status", "[console][approvals]") {
  ApprovalsRig a;
  auto e = a.start(ChannelKind::shell, "", false);
  e->write_input("show x\n  \nshow 'y\n");
  CHECK(e->pump_output(a.out, 1 << 16));
  e->write_input("help");
  e->send_eof();
  CHECK_FALSE(e->pump_output(a.out, 1 << 16));
  CHECK(a.out.err.starts_with("\"x\" is not a request number"));
  CHECK(a.out.err.find("\ncannot read this command line: ") != std::string::npos);
  CHECK(a.out.out.starts_with("commands:\n"));
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("approvals console: prompt, CR LF, exit", "[console][approvals]") {
  ApprovalsRig a;
  auto e = a.start(ChannelKind::shell, "", true);
  CHECK(pump(*e, a.out) == "approvals> ");
  const std::string shown = pump(*e, a.out, "show x\r");
  CHECK(shown.starts_with("show x\r\n\"x\" is not a request number"));
  CHECK(shown.ends_with("\r\napprovals> "));
  CHECK(shown.find("\n", 0) == shown.find("\r\n") + 1);  // every newline after a CR
  CHECK(a.out.err.empty());
  CHECK(pump(*e, a.out, "\x03") == "^C\r\napprovals> ");
  CHECK(pump(*e, a.out, "quit\r") == "quit\r\n");
  CHECK_FALSE(e->pump_output(a.out, 1 << 16));
  CHECK(e->exit_info().status == 0);
}

TEST_CASE("approvals console: Ctrl-D ends it well", "[console][approvals]") {
  ApprovalsRig a;
  auto e = a.start(ChannelKind::shell, "", true);
  pump(*e, a.out);
  e->write_input("\x04");
  CHECK_FALSE(e->pump_output(a.out, 1 << 16));
  CHECK(e->exit_info().status == 0);
}
