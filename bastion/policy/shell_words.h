// Shell-like tokenizing for policy decisions. Not a shell: it finds the
// words and every simple command a line could run, so a policy can check
// each part of `ls; rm -rf /`, `a && $(b)` or `x | sh`.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

struct SimpleCommand {
  std::vector<std::string> argv;       // words, quotes removed, redirections excluded
  std::vector<std::string> redirects;  // e.g. ">", "/etc/passwd"
  int depth = 0;                       // 0 top level; >0 inside $( ), ` `, <( ) or ( )
};

struct ShellParse {
  std::vector<std::string> words;   // every word and operator token in order
  std::vector<SimpleCommand> parts; // every simple command, nested ones included
  std::string error;                // e.g. "unterminated quote"; parts are best effort
};

// Caps keep a hostile line cheap: beyond them parsing stops with an error.
constexpr std::size_t kShellMaxInput = 64 * 1024;
constexpr int kShellMaxDepth = 16;

ShellParse parse_shell(std::string_view line);

}  // namespace bastion
