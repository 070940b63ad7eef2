// Shell-like tokenizing for policy decisions. Not a shell: it finds the
// words and every simple command a line could run, so a policy can check
// each part of `ls; rm -rf /`, `a && $(b)` or `x | sh`.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

// What the scanner saw in a word before quotes were removed (bit set): the
// analysis (policy/shell_parse) decides from these what it cannot resolve.
enum WordFlag : unsigned {
  kWordAnsiC = 1u << 0,      // $'..' outside quotes (decoded into the word)
  kWordBrace = 1u << 1,      // unquoted {a,b} or {1..3}
  kWordGlob = 1u << 2,       // unquoted * ? [
  kWordParam = 1u << 3,      // $x, ${..}, $1, $@ ... (quoted or not)
  kWordSubst = 1u << 4,      // $( ) or backquotes
  kWordArith = 1u << 5,      // $(( ))
  kWordIfs = 1u << 6,        // $IFS or ${IFS..}
  kWordHistory = 1u << 7,    // ! history expansion, or ^a^b at the line start
  kWordArithCode = 1u << 8,  // arithmetic that names a variable or runs a substitution
  kWordAssign = 1u << 9,     // NAME=value (NAME unquoted)
  kWordLocale = 1u << 10,    // $".." outside quotes: translated at run time
  kWordParamAssign = 1u << 11,  // ${x=v} or ${x:=v}: assigns x, a side effect on later lines
};

struct SimpleCommand {
  std::vector<std::string> argv;       // words, quotes removed, redirections excluded
  std::vector<std::string> redirects;  // e.g. ">", "/etc/passwd"
  int depth = 0;                       // 0 top level; >0 inside $( ), ` `, <( ) or ( )
  // Scanner facts for the analysis; not shown to policies as such.
  std::vector<unsigned> word_flags;    // parallel to argv
  bool piped_in = false;               // follows | or |&
  bool defines_function = false;       // name() ...
  std::vector<std::string> scan_opaque;  // e.g. "arithmetic command (( ))", "extglob"
  unsigned heredoc_flags = 0;          // WordFlag bits seen in its unquoted here-document bodies

  // Analysis (policy/shell_parse.cpp, filled by parse_command only).
  std::string program;                 // basename of the real program; empty when opaque or none
  std::vector<std::string> args;       // the real program's argv
  std::vector<std::string> wrappers;   // outermost first, e.g. {"sudo", "env"}
  bool sudo = false;                   // runs as another user (sudo, doas, su -c, runuser)
  std::string sudo_user;               // "root" unless -u
  std::vector<std::string> opaque;     // every reason this part cannot be resolved statically
  bool dynamic_args = false;           // an argument expands at run time
  bool globs = false;                  // unquoted * ? [ in an argument
  std::vector<std::string> writes;     // redirect targets that create or modify a file
  bool interpreter = false;            // runs code the parser cannot read
  bool reads_script = false;           // a shell/interpreter reading its program from stdin
  bool pipe_into_shell = false;        // reads_script and fed by a pipe or redirect
  std::string via;                     // "bash -c", "eval", "su -c", "find -exec" for unwrapped parts
  bool changes_shell = false;          // alias, function, trap, set, PATH=... change later lines
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
