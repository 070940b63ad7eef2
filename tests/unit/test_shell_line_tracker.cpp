// The pty shell line tracker (sources/shell_line_tracker.h) with a fake
// gate and a scripted target: what reaches the target, when, and what the
// gate was asked.
#include <catch2/catch.hpp>

#include <memory>

#include "fake_command_gate.h"
#include "sources/shell_line_tracker.h"

using namespace bastion;
using bastion::test::FakeCommandGate;

namespace {

// Keeps the facts of each request too.
class FactsGate : public FakeCommandGate {
 public:
  std::vector<ShellLine> facts;
  GateResult submit(const CommandRequest& req) override {
    keep(req);
    return FakeCommandGate::submit(req);
  }
  GateResult submit_request(const CommandRequest& req) override {
    keep(req);
    GateResult g = FakeCommandGate::submit_request(req);
    const auto it = rules.find("fullscreen " + req.text);
    if (it != rules.end() && it->second == Rule::deny) g.decision = Decision::deny("no fullscreen");
    return g;
  }

 private:
  void keep(const CommandRequest& req) {
    const auto* f = dynamic_cast<const ShellLineFacts*>(req.facts.get());
    facts.push_back(f ? f->line : ShellLine{});
  }
};

struct Rig {
  FactsGate gate;
  double t = 100;
  ShellLineTracker tr{gate, 80, 24, [this] { return t; }};
  std::string sent, shown;

  void collect() {
    sent += tr.take_to_target(1 << 20);
    shown += tr.take_to_client();
  }
  void out(const std::string& s) {
    if (tr.target_output(s)) shown += s;
    collect();
  }
  void key(const std::string& s) {
    tr.client_input(s);
    collect();
  }
  void tick(double dt) {
    t += dt;
    tr.step();
    collect();
  }
  // A key the shell echoes as itself.
  void type(const std::string& s) {
    for (char c : s) {
      key(std::string(1, c));
      out(std::string(1, c));
      t += 0.05;
    }
  }
};

}  // namespace

TEST_CASE("shell lines: a typed line is decided before its Enter goes on", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("ls -l");
  r.key("\r");
  CHECK(r.sent == "ls -l\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit ls -l"});
  CHECK(r.gate.facts[0].prompt == "$ ");
  CHECK_FALSE(r.gate.facts[0].nested);
  CHECK_FALSE(r.gate.facts[0].hidden);
}

TEST_CASE("shell lines: the Enter waits for the echo of the keys before it", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.key("id\r");  // one read: keys and Enter
  CHECK(r.sent == "id");
  r.tick(0.001);
  CHECK(r.sent == "id");  // no echo yet: not decided
  CHECK(r.gate.calls.empty());
  CHECK(r.tr.wants_wakeup_ms() == 2);
  r.out("id");
  r.tick(0.001);
  CHECK(r.sent == "id");  // not quiet yet
  r.tick(0.005);
  CHECK(r.sent == "id\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit id"});
}

TEST_CASE("shell lines: no echo at all is decided at the timeout", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.key("ab\r");
  r.tick(0.04);
  CHECK(r.sent == "ab");
  r.tick(0.02);  // past 50 ms
  CHECK(r.sent == "ab\r");
}

TEST_CASE("shell lines: the line is read off the screen (edited, recalled)", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("echo b");
  // Left x1, insert 'a': readline redraws the tail.
  r.key("\x1b[D");
  r.out("\b");
  r.key("a");
  r.out("ab\b");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit echo ab"});
  // History recall: no printable key, the line comes from the screen.
  r.out("\r\nab\r\n$ ");
  r.t += 0.1;
  r.key("\x1b[A");
  r.out("echo ab");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit echo ab", "ended 1 status=-1", "submit echo ab"});
  CHECK(r.gate.facts[1].nested == false);
}

TEST_CASE("shell lines: a denied line is cleared, never submitted, the prompt comes back", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me now"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("deny_me now");
  r.key("\r");
  CHECK(r.sent == "deny_me now\x05\x15");
  CHECK(r.gate.calls == std::vector<std::string>{"submit deny_me now", "ended 1 status=-1"});
  // The shell's redraw of the cleared line is withheld from the client.
  const std::string before = r.shown;
  r.out("\r\x1b[K$ ");
  CHECK(r.shown == before);
  r.tick(0.01);
  CHECK(r.shown == before + "\r\nbastion: denied: no deny_me now\r\n$\x1b[K\r\x1b[2C");
  // The next line is decided as usual.
  r.t += 0.1;
  r.type("ls");
  r.key("\r");
  CHECK(r.sent == "deny_me now\x05\x15ls\r");
}

TEST_CASE("shell lines: keys typed after a held Enter wait, in order", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.key("ls\rpw");
  CHECK(r.sent == "ls");
  r.key("d");
  CHECK(r.sent == "ls");
  r.out("ls");
  r.tick(0.01);
  CHECK(r.sent == "ls\rpwd");
}

TEST_CASE("shell lines: Ctrl-C drops a held line and resets (JumpServer #13149)", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.key("ls\r\x03");  // Enter not yet decided, then Ctrl-C
  CHECK(r.sent == "ls\x03");
  r.tick(1);
  CHECK(r.gate.calls.empty());
  r.out("ls^C\r\n$ ");
  r.t += 0.1;
  r.type("ls");
  r.key("\x03");
  r.out("^C\r\n$ ");
  r.t += 0.1;
  r.type("deny_me");
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit deny_me", "ended 1 status=-1"});
  CHECK(r.sent.find('\r') == std::string::npos);
}

TEST_CASE("shell lines: a review holds the Enter; Ctrl-C cancels it", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["reboot"] = FakeCommandGate::Rule::hold;
  r.out("$ ");
  r.type("reboot");
  r.key("\r");
  r.tick(1);
  CHECK(r.sent == "reboot");
  r.key("x\x03");
  CHECK(r.gate.calls == std::vector<std::string>{"submit reboot", "cancel #1", "ended 1 status=-1"});
  CHECK(r.sent == "reboot\x03");
  CHECK(r.shown.find("bastion: approval request cancelled; nothing was run") != std::string::npos);
}

TEST_CASE("shell lines: an approved review lets the Enter and the queue go", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["reboot"] = FakeCommandGate::Rule::hold;
  r.out("$ ");
  r.type("reboot");
  r.key("\rls");
  r.tick(0.01);
  CHECK(r.sent == "reboot");
  r.gate.approve(1);
  r.tick(0.01);
  CHECK(r.sent == "reboot\rls");
}

TEST_CASE("shell lines: a pasted block is all-or-nothing", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.key("touch a\rdeny_me\rtouch c\r");
  r.out("touch a");
  r.tick(0.01);
  CHECK(r.sent == "touch a\x05\x15");
  CHECK(r.gate.calls ==
        std::vector<std::string>{"submit touch a", "submit deny_me", "ended 2 status=-1", "ended 1 status=-1"});
  CHECK(r.gate.facts[0].pasted);
  CHECK(r.gate.facts[1].pasted);
  r.out("\r\x1b[K$ ");
  r.tick(0.01);
  CHECK(r.shown.find("bastion: denied: no deny_me (pasted line: deny_me); nothing was run") != std::string::npos);

  Rig ok;
  ok.out("$ ");
  ok.key("touch a\rtouch b\rtouch c\rls");
  ok.out("touch a");
  ok.tick(0.01);
  CHECK(ok.sent == "touch a\rtouch b\rtouch c\rls");
  CHECK(ok.gate.calls == std::vector<std::string>{"submit touch a", "submit touch b", "submit touch c",
                                                  "ended 1 status=-1", "ended 2 status=-1"});
}

TEST_CASE("shell lines: bracketed paste fills the buffer; decided at the user's Enter", "[shell_line_tracker]") {
  Rig r;
  r.out("\x1b[?2004h$ ");
  r.key("\x1b[200~echo 1\recho 2\x1b[201~");
  CHECK(r.sent == "\x1b[200~echo 1\recho 2\x1b[201~");
  r.out("echo 1\r\necho 2");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit echo 1\necho 2"});
  CHECK(r.sent.back() == '\r');
}

TEST_CASE("shell lines: echo off gives a hidden line without its text", "[shell_line_tracker]") {
  Rig r;
  r.out("Password: ");
  r.key("s3cret\r");
  r.tick(0.1);
  CHECK(r.sent == "s3cret\r");
  REQUIRE(r.gate.calls == std::vector<std::string>{"submit "});
  CHECK(r.gate.facts[0].hidden);
  CHECK(r.gate.facts[0].hidden_chars == 6);
}

TEST_CASE("shell lines: a wrapped line is joined", "[shell_line_tracker]") {
  FactsGate gate;
  double t = 0;
  ShellLineTracker tr(gate, 10, 5, [&] { return t; });
  tr.target_output("$ ");
  tr.client_input("echo abcdefghij");
  tr.target_output("echo abcdefghij");
  t += 0.1;
  tr.client_input("\r");
  CHECK(gate.calls == std::vector<std::string>{"submit echo abcdefghij"});
}

TEST_CASE("shell lines: continuation fragments and the joined text", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("echo 'a");
  r.key("\r");
  r.out("\r\n> ");
  r.t += 0.1;
  r.type("b'");
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit echo 'a", "ended 1 status=-1", "submit b'",
                                                 "submit echo 'a\nb'", "ended 2 status=-1"});
  CHECK_FALSE(r.gate.facts[1].nested);
  CHECK(r.gate.facts[2].continued);
  CHECK(r.sent == "echo 'a\rb'\r");
}

TEST_CASE("shell lines: alternate screen of an allowed program suspends; at a prompt it does not",
          "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("vim");
  r.key("\r");
  r.out("\r\n\x1b[?1049h\x1b[H~\r\n~");
  r.tick(0.01);
  CHECK(r.gate.calls == std::vector<std::string>{"submit vim", "request vim", "request ended 2 status=-1"});
  CHECK(r.gate.facts[1].fullscreen);
  CHECK(r.gate.facts[1].program == "vim");
  r.key(":wq");
  r.out(":wq");
  r.t += 0.1;
  r.key("\r");  // vim's own Enter: not a shell line
  CHECK(r.sent == "vim\r:wq\r");
  r.out("\x1b[?1049l\r\n$ ");
  r.t += 0.1;
  r.type("deny_me");
  r.key("\r");
  CHECK(r.gate.calls.back() == "ended 3 status=-1");
  CHECK(r.gate.calls[r.gate.calls.size() - 2] == "submit deny_me");

  // A printf of the switch: the prompt comes back inside it, nothing suspended.
  Rig p;
  p.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  p.out("$ ");
  p.type("printf x");
  p.key("\r");
  p.out("\r\n\x1b[?1049h$ ");
  p.tick(0.01);
  p.type("deny_me");
  p.key("\r");
  CHECK(p.sent.find("deny_me\r") == std::string::npos);
  CHECK(p.gate.calls[p.gate.calls.size() - 2] == "submit deny_me");
}

TEST_CASE("shell lines: a prompt changed by cd still ends the running line", "[shell_line_tracker]") {
  // Otherwise `cd` would stay "running" and a printf of the alternate
  // screen would be asked as a full-screen request for it.
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("root@vm:/root# ");
  r.type("cd /tmp");
  r.key("\r");
  r.out("\r\nroot@vm:/tmp# ");
  r.t += 0.1;
  r.type("printf x");
  r.key("\r");
  CHECK_FALSE(r.gate.facts[1].nested);
  r.out("\r\n\x1b[?1049hroot@vm:/tmp# ");
  r.tick(0.01);
  CHECK(r.gate.facts[2].fullscreen);
  CHECK(r.gate.facts[2].program == "printf");
  r.t += 0.1;
  r.type("deny_me");
  r.key("\r");
  CHECK(r.gate.calls[r.gate.calls.size() - 2] == "submit deny_me");
  CHECK(r.sent.find("deny_me\r") == std::string::npos);
  // And a free full-screen program showing the shell's prompt again at Enter.
  Rig v;
  v.out("root@vm:/root# ");
  v.type("vim");
  v.key("\r");
  v.out("\r\n\x1b[?1049h\x1b[H~");
  v.tick(0.01);
  v.type("x");  // starts a line inside vim
  v.out("\x1b[Hroot@vm:/srv# ");  // vim gone, the prompt on the alternate screen
  v.t += 0.1;
  v.type("deny_me");
  v.key("\r");
  // The 'x' went to vim, not to the shell: the keys make "xdeny_me", the
  // screen shows another line. Which one the shell holds cannot be told:
  // refused (fail closed), never let through undecided.
  CHECK(v.gate.calls[v.gate.calls.size() - 2].rfind("refuse root@vm:/srv# deny_me: the line on the screen is not", 0) == 0);
  CHECK(v.sent.find("deny_me\r") == std::string::npos);
}

TEST_CASE("shell lines: a line repainted by another program is refused", "[shell_line_tracker]") {
  // A background job redraws the prompt row with an innocent line while
  // the user types plain keys: the shell holds the keys, not the screen.
  Rig r;
  r.out("$ ");
  r.type("touch deny_me");
  r.out("\r\x1b[K$ echo hi");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls[r.gate.calls.size() - 2].rfind("refuse echo hi: the line on the screen is not", 0) == 0);
  CHECK(r.sent.find('\r') == std::string::npos);
  // Keys typed before the prompt appeared, echoed early and redrawn after
  // it: the screen ends with what was typed, and that is what is decided.
  Rig t;
  t.type("echo ok");
  t.out("echo ok\r\n$ echo ok");
  t.t += 0.1;
  t.key("\r");
  CHECK(t.gate.calls.back() == "submit echo ok");
  CHECK_FALSE(t.gate.facts.back().prompt_known);
  CHECK(t.sent.back() == '\r');
}

TEST_CASE("shell lines: a denied full-screen request keeps deciding lines", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["fullscreen top"] = FakeCommandGate::Rule::deny;
  r.gate.rules["q"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("top");
  r.key("\r");
  r.out("\r\n\x1b[?1049h\x1b[Htop - 10:00");
  r.tick(0.01);
  r.key("q");
  r.out("q");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls.back() == "ended 3 status=-1");
  CHECK(r.sent.find("q\r") == std::string::npos);
}

TEST_CASE("shell lines: nested lines carry the running program", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("python3");
  r.key("\r");
  r.out("\r\nPython 3.11\r\n>>> ");
  r.t += 0.1;
  r.type("1+1");
  r.key("\r");
  REQUIRE(r.gate.facts.size() == 2);
  CHECK(r.gate.facts[1].nested);
  CHECK(r.gate.facts[1].program == "python3");
  CHECK(r.gate.facts[1].prompt == ">>> ");
  r.out("\r\n2\r\n>>> ");
  r.t += 0.1;
  r.key("\x04");  // Ctrl-D on an empty line: not a line
  r.out("\r\n$ ");
  r.t += 0.1;
  r.type("ls");
  r.key("\r");
  REQUIRE(r.gate.facts.size() == 3);
  CHECK_FALSE(r.gate.facts[2].nested);
}

TEST_CASE("shell lines: Ctrl-D on a non-empty line is decided like Enter", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("deny_me");
  r.key("\x04");
  CHECK(r.sent == "deny_me\x05\x15");
}

TEST_CASE("shell lines: unreadable lines are refused", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.key("x");
  r.out("x\xff");
  r.t += 0.1;
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{
                            "refuse x\xef\xbf\xbd: the line holds bytes that are not UTF-8; the bastion cannot read it",
                            "ended 1 status=-1"});
  CHECK(r.sent == "x\x05\x15");
  Rig big;
  big.tr.resize(600, 24);
  big.out("$ ");
  big.type("ls");
  big.key("\r");
  CHECK(big.sent == "ls\x05\x15");
}

TEST_CASE("shell lines: the open row ends at the next decided line and at end()", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("sleep 1");
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit sleep 1"});
  r.tr.end();
  CHECK(r.gate.calls == std::vector<std::string>{"submit sleep 1", "ended 1 status=-1"});
}

TEST_CASE("shell lines: a paste bracket the shell did not ask for is just keys", "[shell_line_tracker]") {
  // dash, or bash with bracketed paste off: the CR after ESC[200~ runs the line.
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("\x1b[?2004h\x1b[?2004l$ ");
  r.key("\x1b[200~deny_me\r");
  CHECK(r.sent == "\x1b[200~deny_me");
  r.out("deny_me");
  r.tick(0.01);
  CHECK(r.sent == "\x1b[200~deny_me\x05\x15");
}

TEST_CASE("shell lines: CR inside an escape sequence still submits", "[shell_line_tracker]") {
  Rig r;
  r.gate.rules["deny_me"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("deny_me");
  r.key("\x1b[\r");
  r.tick(0.1);
  CHECK(r.sent == "deny_me\x1b[\x05\x15");
}

TEST_CASE("shell lines: keys typed after a denied line are dropped", "[shell_line_tracker]") {
  // `cd /data` denied must not leave `rm -rf *` to run somewhere else.
  Rig r;
  r.gate.rules["cd /data"] = FakeCommandGate::Rule::deny;
  r.out("$ ");
  r.type("cd /data");
  r.key("\rrm -rf *\r");
  CHECK(r.sent == "cd /data\x05\x15");
  r.key("x");
  r.out("\r\x1b[K$ ");
  r.tick(0.01);
  CHECK(r.sent == "cd /data\x05\x15");
  CHECK(r.gate.calls == std::vector<std::string>{"submit cd /data", "ended 1 status=-1"});
}

TEST_CASE("shell lines: a for loop over PS2 is decided per line and joined", "[shell_line_tracker]") {
  Rig r;
  r.out("$ ");
  r.type("for i in 1 2; do");
  r.key("\r");
  r.out("\r\n> ");
  r.t += 0.1;
  r.type("touch f$i");
  r.key("\r");
  r.out("\r\n> ");
  r.t += 0.1;
  r.type("done");
  r.key("\r");
  CHECK(r.gate.calls == std::vector<std::string>{"submit for i in 1 2; do", "ended 1 status=-1", "submit touch f$i",
                                                 "ended 2 status=-1", "submit done",
                                                 "submit for i in 1 2; do\ntouch f$i\ndone", "ended 3 status=-1"});
  CHECK(r.gate.facts[3].continued);
  CHECK_FALSE(r.gate.facts[2].nested);
  CHECK(r.sent == "for i in 1 2; do\rtouch f$i\rdone\r");
}

#include "targets/ssh/ssh_kind.h"

TEST_CASE("shell lines: the ssh kind parses shell_line for policy tests and cases", "[shell_line_tracker]") {
  const SshKind kind;
  CHECK(kind.command_kinds() == std::vector<std::string>({"shell_line", "sftp"}));
  const ParsedCommand p = kind.parse_command(
      "shell_line", "1+1", {{"nested", "true"}, {"program", "python3"}, {"fullscreen", "false"}});
  CHECK(p.text == "1+1");
  const auto* f = dynamic_cast<const ShellLineFacts*>(p.facts.get());
  REQUIRE(f);
  CHECK(f->line.nested);
  CHECK(f->line.program == "python3");
  CHECK_FALSE(f->line.fullscreen);
  CHECK_FALSE(f->line.hidden);
  // A hidden line's text never reaches the policy.
  const ParsedCommand h = kind.parse_command("shell_line", "s3cret", {{"hidden", "true"}});
  CHECK(h.text.empty());
  CHECK(dynamic_cast<const ShellLineFacts*>(h.facts.get())->line.hidden_chars == 6);
}
