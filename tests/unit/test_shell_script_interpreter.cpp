// A shell channel without a pty (sources/shell_script_interpreter.h): what
// reaches the gate, in which order, what the target's stdin gets and when,
// with a fake gate and a fake target whose window the test sets. Also which
// exec lines are such a shell (targets/ssh/ssh_script_executor.h) and the
// policy's c.lines_decided.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

#include "capture_output.h"
#include "fake_command_gate.h"
#include "policy/lua_policy.h"
#include "sources/shell_script_interpreter.h"
#include "targets/ssh/ssh_script_executor.h"
#include "test_util.h"

using namespace bastion;
using bastion::test::CaptureOutput;
using bastion::test::FakeCommandGate;
using V = std::vector<std::string>;

namespace {

// The shell's stdin: takes up to `window` bytes a step (the test reopens it).
struct FakeStdin : ScriptTarget {
  std::string got;
  bool eof = false;
  std::size_t window = SIZE_MAX;
  std::size_t input_capacity() override { return eof ? 0 : window; }
  bool write_input(std::string_view data) override {
    REQUIRE(data.size() <= window);
    REQUIRE_FALSE(eof);
    got.append(data);
    if (window != SIZE_MAX) window -= data.size();
    return true;
  }
  void send_eof() override { eof = true; }
};

// Also keeps each submitted request's kind and c.shell facts, and masks
// the texts in `masked` with their pattern.
struct Gate : FakeCommandGate {
  V facts;
  std::map<std::string, std::string> masked;
  GateResult submit(const CommandRequest& req) override {
    facts.push_back(req.kind + " " + (req.facts ? std::string(req.facts->field()) + "=" + req.facts->audit_details() : "-"));
    GateResult g = FakeCommandGate::submit(req);
    if (masked.count(req.text)) {
      g.decision.verdict = Decision::Verdict::mask;
      g.decision.mask = {MaskRule{.pattern = masked[req.text], .replacement = "****"}};
    }
    return g;
  }
};

struct Rig {
  Gate gate;
  FakeStdin target;
  ShellScriptInterpreter script{gate, target};
  CaptureOutput out;
  // Input (and its end), then one step; returns the bastion's messages.
  std::string step(std::string_view input = {}, bool eof = false) {
    if (!input.empty()) {
      REQUIRE(input.size() <= script.input_capacity());
      script.write_input(input);
    }
    if (eof) script.send_eof();
    script.step(out);
    return out.take();
  }
};

}  // namespace

TEST_CASE("script: each line is decided, then sent on, in order", "[shell_script]") {
  Rig r;
  CHECK(r.step("echo a\necho b\n", true).empty());
  CHECK(r.target.got == "echo a\necho b\n");
  CHECK(r.target.eof);
  r.script.end(0);  // the shell's status ends the last row
  CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit echo b", "ended 2 status=0"});
  CHECK(r.gate.facts == V{"shell_line shell={\"source\":\"script\"}", "shell_line shell={\"source\":\"script\"}"});
  CHECK_FALSE(r.script.stopped());
}

TEST_CASE("script: a unit the shell runs whole is decided whole", "[shell_script]") {
  Rig r;
  const std::string loop = "for i in 1 2 3\ndo\n  echo $i > f$i\ndone";
  const std::string quote = "echo 'a\nb'";
  const std::string doc = "cat > f <<EOF\nrm -rf D\nEOF";
  const std::string doc_tabs = "cat <<-'X' | wc -l\n\tdata\n\tX";
  const std::string backslash = "echo x \\\n  y";
  const std::string pipe = "ls |\n  wc -l";
  const std::string cond = "if true; then\n  echo fi; fi";
  const std::string kase = "case $x in\n  a) echo esac;;\nesac";
  const std::string brace = "{\n  echo a\n}";
  const std::string all =
      loop + "\n" + quote + "\n" + doc + "\n" + doc_tabs + "\n" + backslash + "\n" + pipe + "\n" + cond + "\n" + kase +
      "\n" + brace + "\n" + "echo last\n";
  // Fed one byte at a time: nothing is decided before its unit is complete.
  for (char c : all) r.step(std::string_view(&c, 1));
  r.step({}, true);
  CHECK(r.target.got == all);
  CHECK(r.gate.calls == V{"submit " + loop, "ended 1 status=-1", "submit " + quote, "ended 2 status=-1",
                          "submit " + doc, "ended 3 status=-1", "submit " + doc_tabs, "ended 4 status=-1",
                          "submit " + backslash, "ended 5 status=-1", "submit " + pipe, "ended 6 status=-1",
                          "submit " + cond, "ended 7 status=-1", "submit " + kase, "ended 8 status=-1",
                          "submit " + brace, "ended 9 status=-1", "submit echo last"});
  const std::string joined = "shell_line shell={\"continued\":true,\"source\":\"script\"}";
  CHECK(r.gate.facts.front() == joined);
  CHECK(r.gate.facts.back() == "shell_line shell={\"source\":\"script\"}");
  CHECK(r.target.eof);
}

TEST_CASE("script: blank lines pass undecided; an unfinished unit at the end is decided as it is", "[shell_script]") {
  Rig r;
  r.step("\n  \necho 'open\n", true);
  CHECK(r.target.got == "\n  \necho 'open\n");
  CHECK(r.gate.calls == V{"submit echo 'open"});
  CHECK(r.target.eof);
}

TEST_CASE("script: a refused unit stops the script: nothing after it is sent, EOF, status 126", "[shell_script]") {
  Rig r;
  r.gate.rules["rm -rf D"] = FakeCommandGate::Rule::deny;
  CHECK(r.step("echo a\nrm -rf D\necho c\n") == "bastion: denied: no rm -rf D\n");
  CHECK(r.target.got == "echo a\n");
  CHECK(r.target.eof);
  CHECK(r.script.stopped());
  // What comes later is read and dropped, never decided.
  CHECK(r.script.input_capacity() > 0);
  CHECK(r.step("echo d\n", true).empty());
  r.script.end(0);
  CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit rm -rf D", "ended 2 status=126"});
  CHECK(r.target.got == "echo a\n");
}

TEST_CASE("script: a held unit keeps later lines waiting until it is decided", "[shell_script]") {
  Rig r;
  r.gate.rules["sudo x"] = FakeCommandGate::Rule::hold;
  CHECK(r.step("echo a\nsudo x\necho c\n", true).empty());
  CHECK(r.target.got == "echo a\n");
  CHECK(r.script.holding());
  r.step();
  CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit sudo x"});
  CHECK_FALSE(r.target.eof);

  SECTION("approved: it runs, then the rest") {
    r.gate.approve(1);
    r.step();
    CHECK(r.target.got == "echo a\nsudo x\necho c\n");
    CHECK(r.target.eof);
    CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit sudo x", "decided #1", "ended 3 status=-1",
                            "submit echo c"});
  }
  SECTION("refused: the script stops there") {
    r.gate.reject(1, "not now");
    CHECK(r.step() == "bastion: denied: not now\n");
    CHECK(r.target.got == "echo a\n");
    CHECK(r.target.eof);
    CHECK(r.script.stopped());
    CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit sudo x", "decided #1", "ended 2 status=126"});
  }
  SECTION("the channel ends while it waits: the review is withdrawn") {
    r.script.end(std::nullopt);
    CHECK(r.gate.calls == V{"submit echo a", "ended 1 status=-1", "submit sudo x", "cancel #1"});
    CHECK(r.target.got == "echo a\n");
  }
}

TEST_CASE("script: the target's window paces the lines; input waits in the client's window", "[shell_script]") {
  Rig r;
  r.target.window = 4;
  r.step("echo abc\necho d\n");
  CHECK(r.target.got == "echo");
  CHECK(r.gate.calls == V{"submit echo abc"});  // the next waits for this one to be taken
  r.target.window = 100;
  r.step();
  CHECK(r.target.got == "echo abc\necho d\n");

  // A long stream of lines: never more than two lines' worth buffered.
  r.target.window = 0;
  const std::string line = "data 0123456789abcdef\n";
  const std::size_t total = 2'000'000, before = r.target.got.size();
  std::size_t fed = 0;
  for (int steps = 0; fed < total || r.target.got.size() - before < fed; ++steps) {
    REQUIRE(steps < 10000);
    while (fed < total && r.script.input_capacity() >= line.size()) {
      r.script.write_input(line);
      fed += line.size();
    }
    r.script.step(r.out);
    REQUIRE(fed - (r.target.got.size() - before) <= 2 * kScriptMaxLine + line.size());
    r.target.window = 8192;  // the target reads
  }
  CHECK(r.target.got.size() - before == fed);
  CHECK(r.out.take().empty());
}

TEST_CASE("script: a masked unit's patterns stay for the rest of the channel", "[shell_script]") {
  Rig r;
  r.gate.masked["cat a"] = "k=\\S+";
  r.gate.masked["cat b"] = "p=\\S+";
  r.step("echo 1\ncat a\necho 2\n");
  auto patterns = [&] {
    V v;
    for (const MaskRule& m : r.script.masks()) v.push_back(m.pattern);
    return v;
  };
  CHECK(patterns() == V{"k=\\S+"});
  r.step("cat b\necho 3\n");
  CHECK(patterns() == V{"k=\\S+", "p=\\S+"});
  CHECK(r.target.got == "echo 1\ncat a\necho 2\ncat b\necho 3\n");
}

TEST_CASE("script: a unit of very many lines costs bounded time, and nothing in it goes undecided", "[shell_script]") {
  Rig r;
  std::string loop = "for i in 1; do";
  for (int i = 0; i < 25000; ++i) loop += "\nx";
  loop += "\ndone";
  const auto t0 = std::chrono::steady_clock::now();
  std::string input = loop + "\necho after\n";
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = std::min(r.script.input_capacity(), input.size() - at);
    r.step(std::string_view(input).substr(at, n));
    at += n;
  }
  r.step({}, true);
  // Asked after every line, this took over 30 s.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK(r.target.got == input);
  REQUIRE_FALSE(r.gate.calls.empty());
  CHECK(r.gate.calls.front().rfind("submit " + loop, 0) == 0);  // whole; what follows may be joined to it
  CHECK_FALSE(r.script.stopped());
}

TEST_CASE("script: a line or a unit above 64 KiB is refused and stops the script", "[shell_script]") {
  SECTION("one line") {
    Rig r;
    r.step("echo a\n");
    CHECK(r.step(std::string(kScriptMaxLine + 1, 'x')) ==
          "bastion: line too long for the bastion (64 KiB); the rest of the input was not run\n");
    CHECK(r.target.got == "echo a\n");
    CHECK(r.target.eof);
    CHECK(r.script.stopped());
    CHECK(r.gate.calls ==
          V{"submit echo a", "ended 1 status=-1", "refuse : line too long for the bastion (64 KiB)", "ended 2 status=126"});
  }
  SECTION("one whole line, newline included") {
    Rig r;
    CHECK(r.step("echo a\n" + std::string(kScriptMaxLine + 1, 'x') + "\necho b\n") ==
          "bastion: line too long for the bastion (64 KiB); the rest of the input was not run\n");
    CHECK(r.target.got == "echo a\n");
    CHECK(r.gate.calls ==
          V{"submit echo a", "ended 1 status=-1", "refuse : line too long for the bastion (64 KiB)", "ended 2 status=126"});
  }
  SECTION("joined lines") {
    Rig r;
    std::string msg;
    r.step("echo '\n");
    const std::string line(1000, 'y');
    for (int i = 0; i < 70 && msg.empty(); ++i) msg = r.step(line + "\n");
    CHECK(msg == "bastion: command too long for the bastion (64 KiB); the rest of the input was not run\n");
    CHECK(r.target.got.empty());
    CHECK(r.target.eof);
    CHECK(r.gate.calls == V{"refuse " + ("echo '\n" + line + "\n" + line).substr(0, 1024) + ": command too long for the bastion (64 KiB)",
                            "ended 1 status=126"});
  }
}

TEST_CASE("which channels are a shell reading its lines from stdin", "[shell_script]") {
  auto exec = [](const std::string& text, bool pty = false) {
    ExecRequest req;
    req.kind = ChannelKind::exec;
    req.text = text;
    if (pty) req.pty = PtyRequest{.term = "xterm", .cols = 80, .rows = 24};
    return decides_stdin_lines(req);
  };
  for (const char* yes : {"bash", "sh", "dash", "/bin/bash", "/usr/bin/sh", "busybox sh", "bash -s",
                          "bash -l", "sh -e", "bash -x", "bash -ex", "bash --noprofile --norc",
                          "bash -o posix", "bash -o pipefail -s", "  bash  "})
    CHECK(exec(yes));
  for (const char* no : {"bash script.sh", "bash -c 'rm -rf D'", "bash -c \"$(cat)\"", "sh -s arg", "env bash",
                         "sudo bash", "nice bash", "exec bash", "bash < x", "cat x | sh", "bash; rm x", "bash &",
                         "$SHELL", "b'ash' x", "./bash", "python3", "busybox ash", "busybox sh -c x", "bash -o",
                         "bash -o 'a b'", "bash --rcfile x", "bash -O extglob", "", "bash $(x)", "bash\nrm x",
                         "cat > /tmp/f",
                         // interactive or with history: prompts, histchars and aliases the bastion cannot see
                         "bash -i", "sh -i", "bash -si", "bash -o history -o histexpand", "bash -o histexpand",
                         "bash -o emacs", "bash +o braceexpand", "bash -o allexport",
                         // another grammar than the parser's
                         "zsh", "ksh", "/bin/zsh"})
    CHECK_FALSE(exec(no));
  CHECK_FALSE(exec("bash", true));  // a pty: the terminal's line tracker decides
  ExecRequest shell;
  shell.kind = ChannelKind::shell;
  CHECK(decides_stdin_lines(shell));
  shell.pty = PtyRequest{.term = "xterm", .cols = 80, .rows = 24};
  CHECK_FALSE(decides_stdin_lines(shell));
  ExecRequest sftp;
  sftp.kind = ChannelKind::subsystem;
  sftp.text = "sftp";
  CHECK_FALSE(decides_stdin_lines(sftp));
}

TEST_CASE("the policy sees c.lines_decided on the channel's request", "[shell_script]") {
  testutil::TempDir d;
  testutil::spit(d / "p.lua", R"(
function on_command(c)
  if c.lines_decided == true then return deny("lines") end
  if c.lines_decided == false then return deny("whole") end
  return deny("missing")
end)");
  std::string error;
  auto src = load_policy_source(d / "p.lua", {}, error);
  REQUIRE(src);
  auto p = LuaPolicy::create(src, error);
  REQUIRE(p);
  CommandRequest req;
  req.kind = "exec";
  req.text = "bash";
  CHECK(p->on_command(req)->reason == "whole");
  req.lines_decided = true;
  CHECK(p->on_command(req)->reason == "lines");
}
