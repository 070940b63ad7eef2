// The shared command console (sources/command_console.h) with a scripted
// interpreter, and the held command (sources/held_command.h) with a fake gate.
#include <catch2/catch.hpp>

#include "capture_output.h"
#include "fake_command_gate.h"
#include "sources/command_console.h"
#include "sources/held_command.h"

using namespace bastion;
using bastion::test::CaptureOutput;
using bastion::test::FakeCommandGate;

namespace {

// Logs what the console hands it; busy and finished as the test sets them.
class Recorder : public ConsoleInterpreter {
 public:
  std::vector<std::string> got;
  bool is_busy = false, is_finished = false;
  int prompts = 0;
  CommandConsole* console = nullptr;
  void on_line(const std::string& line) override {
    got.push_back("line:" + line);
    if (line == "busy") is_busy = true;
    if (line == "quit") is_finished = true;
    if (console) console->emit(Stream::out, "ran " + line + "\n");
  }
  void on_end_of_input() override {
    got.push_back("end");
    is_finished = true;
  }
  void on_interrupt() override { got.push_back("interrupt"); }
  void on_line_too_long() override {
    got.push_back("too long");
    is_finished = true;
  }
  std::string prompt() override { return "p" + std::to_string(++prompts) + "> "; }
  bool busy() const override { return is_busy; }
  bool finished() const override { return is_finished; }
};

struct Rig {
  Recorder interp;
  CommandConsole console;
  CaptureOutput out;
  Rig(CommandConsole::Input in, bool pty, std::size_t max_line = 0) : console(interp, in, pty, max_line) {
    interp.console = &console;
    console.attach(&out);
  }
  std::string step(std::string_view input = {}) {
    console.write_input(input);
    console.step();
    console.flush();
    return out.take();
  }
};
using V = std::vector<std::string>;

}  // namespace

TEST_CASE("console: the prompt, echo and editing, one line at a time", "[console]") {
  Rig r(CommandConsole::Input::editor, true);
  CHECK(r.step() == "p1> ");
  CHECK(r.step() == "");  // shown once until a line ends
  // "ab", Backspace, "c", Enter: the line is "ac"; its output, then the next prompt.
  CHECK(r.step("ab\x7f" "c\r") == "ab\rp1> a\x1b[Kc\r\nran ac\r\np2> ");
  CHECK(r.interp.got == V{"line:ac"});
}

TEST_CASE("console: lines typed ahead wait while the interpreter is busy", "[console]") {
  Rig r(CommandConsole::Input::editor, true);
  r.step();
  CHECK(r.step("busy\rnext\r") == "busy\r\nran busy\r\n");  // no prompt while busy
  CHECK(r.interp.got == V{"line:busy"});
  r.interp.is_busy = false;
  CHECK(r.step() == "p2> next\r\nran next\r\np3> ");
  CHECK(r.interp.got == V{"line:busy", "line:next"});
}

TEST_CASE("console: Ctrl-C abandons the line, Ctrl-D on an empty line ends input", "[console]") {
  Rig r(CommandConsole::Input::editor, true);
  r.step();
  CHECK(r.step("abc\x03") == "abc^C\r\np2> ");
  CHECK(r.step("\x04") == "");
  CHECK(r.interp.got == V{"interrupt", "end"});
  CHECK(r.step("more\r") == "");  // finished: nothing more is read
}

TEST_CASE("console: history recalls submitted lines", "[console]") {
  Rig r(CommandConsole::Input::editor, true);
  r.step("one\r");
  r.step("\x1b[A\r");  // Up, Enter
  CHECK(r.interp.got == V{"line:one", "line:one"});
}

TEST_CASE("console: a script is lines, the last one at end of input", "[console]") {
  Rig r(CommandConsole::Input::script, false);
  CHECK(r.step("one\ntw") == "ran one\n");  // no prompt, no echo, no CR
  CHECK(r.step("o\nthree") == "ran two\n");
  r.console.send_eof();
  CHECK(r.step() == "ran three\n");
  CHECK(r.interp.got == V{"line:one", "line:two", "line:three", "end"});
}

TEST_CASE("console: a script waits for a busy interpreter, then ends", "[console]") {
  Rig r(CommandConsole::Input::script, false);
  r.console.send_eof();
  r.step("busy\nafter\n");
  CHECK(r.interp.got == V{"line:busy"});
  r.interp.is_busy = false;
  r.step();
  CHECK(r.interp.got == V{"line:busy", "line:after", "end"});
}

TEST_CASE("console: a script line longer than the limit is dropped", "[console]") {
  Rig r(CommandConsole::Input::script, false, 8);
  r.step("12345678");
  CHECK(r.interp.got.empty());
  r.step("9");
  CHECK(r.interp.got == V{"too long"});
  CHECK(r.console.buffered() == 0);
}

TEST_CASE("console: whole lines waiting for a busy interpreter are not a long line", "[console]") {
  Rig r(CommandConsole::Input::script, false, 8);
  r.step("busy\nshort1\nshort2\nshort3\n");  // 21 bytes wait, each line short
  CHECK(r.interp.got == V{"line:busy"});
  r.step("tail");
  r.interp.is_busy = false;
  r.step("\n");
  CHECK(r.interp.got == V{"line:busy", "line:short1", "line:short2", "line:short3", "line:tail"});
  // An unfinished line behind waiting ones is still bounded.
  r.interp.is_busy = true;
  r.step("a\n123456789");
  CHECK(r.interp.got.back() == "too long");
}

TEST_CASE("console: output on a pty gets CR LF and shares one stream", "[console]") {
  Rig pty(CommandConsole::Input::none, true);
  pty.console.emit(Stream::err, "a\nb\n");
  pty.console.emit_raw(Stream::out, "raw\n");  // already a terminal's
  pty.console.flush();
  CHECK(pty.out.out == "a\r\nb\r\nraw\n");
  CHECK(pty.out.err.empty());
  CHECK(pty.console.produced() == 10);

  Rig plain(CommandConsole::Input::none, false);
  plain.console.emit(Stream::err, "a\n");
  plain.console.emit(Stream::out, "b\n");
  plain.console.flush();
  CHECK(plain.out.err == "a\n");
  CHECK(plain.out.out == "b\n");
}

TEST_CASE("console: output waits until a writer is attached", "[console]") {
  Recorder interp;
  CommandConsole c(interp, CommandConsole::Input::none, false);
  c.emit(Stream::out, "early\n");
  c.flush();  // nowhere to go yet
  CaptureOutput out;
  c.attach(&out);
  c.flush();
  CHECK(out.out == "early\n");
}

TEST_CASE("console: Ctrl-C in unread input is taken with what came with it", "[console]") {
  Rig r(CommandConsole::Input::editor, true);
  r.interp.is_busy = true;
  r.console.write_input("x");
  CHECK_FALSE(r.console.take_interrupt());
  r.console.write_input("y\x03z");
  CHECK(r.console.take_interrupt());
  CHECK(r.console.unread() == 0);
}

TEST_CASE("held command: polled until decided; an approval runs under a new audit row", "[console]") {
  FakeCommandGate gate;
  gate.rules["drop"] = FakeCommandGate::Rule::hold;
  const GateResult held = gate.submit(gate.request("sql", "drop"));
  REQUIRE(held.review_id == 1);
  HeldCommand h(gate, held);
  CHECK_FALSE(h.poll());
  gate.approve(1);
  const auto res = h.poll();
  REQUIRE(res);
  CHECK(res->decision.allowed());
  CHECK(res->command_id == 2);
}

TEST_CASE("held command: a refusal finishes the held audit row", "[console]") {
  FakeCommandGate gate;
  gate.rules["drop"] = FakeCommandGate::Rule::hold;
  HeldCommand h(gate, gate.submit(gate.request("sql", "drop")));
  gate.reject(1, "not now");
  const auto res = h.poll();
  REQUIRE(res);
  CHECK_FALSE(res->decision.allowed());
  CHECK(res->refusal == "not now");
  CHECK(res->command_id == 1);
}

TEST_CASE("held command: Ctrl-C withdraws it once and refuses it", "[console]") {
  FakeCommandGate gate;
  gate.rules["drop"] = FakeCommandGate::Rule::hold;
  HeldCommand h(gate, gate.submit(gate.request("sql", "drop")));
  h.cancel();
  h.cancel();
  const auto res = h.poll();
  REQUIRE(res);
  CHECK(res->refusal == "request #1 cancelled");
  CHECK(res->command_id == 1);
  CHECK(gate.calls == std::vector<std::string>{"submit drop", "cancel #1"});
}
