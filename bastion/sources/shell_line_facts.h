// What the bastion knows about one shell line it decides (c.shell): where
// the text came from (read off the terminal screen, or a script on stdin),
// and what the line tracker saw around it. Informational: the text itself
// is in c.text and c.parts; a policy must not be more lenient because of
// any of these flags (a prompt can be faked).
#pragma once
#include <string>

#include "policy/command_facts.h"

namespace bastion {

struct ShellLine {
  std::string source = "screen";  // "screen" (pty, read off the screen model) | "script" (no pty, stdin)
  std::string prompt;             // the prompt text left of the line, as shown (screen only)
  bool prompt_known = true;       // false: the prompt boundary was lost; the whole screen line was decided
  bool nested = false;            // typed while an allowed line still runs (python3, psql, a y/n answer)
  std::string program;            // when nested: the program of the line that still runs
  bool hidden = false;            // typed with echo off (a password): text is empty, never recorded
  std::size_t hidden_chars = 0;   // how many characters were typed hidden
  bool pasted = false;            // part of a pasted block
  bool continued = false;         // joined from several physical lines (PS2, trailing \, open quote)
  bool fullscreen = false;        // asks to let a full-screen program (alternate screen) run undecided
};

class ShellLineFacts : public CommandFacts {
 public:
  explicit ShellLineFacts(ShellLine l) : line(std::move(l)) {}
  const char* field() const override { return "shell"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  ShellLine line;
};

}  // namespace bastion
