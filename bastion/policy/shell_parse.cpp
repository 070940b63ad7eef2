#include "policy/shell_parse.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

namespace bastion {
namespace {

// $'..' is decoded statically; $".." is translated at run time.
constexpr unsigned kExpands = kWordLocale | kWordParam | kWordSubst | kWordArith;

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

bool in(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// A wrapper's option grammar. Anything not listed is an unknown option,
// which fails closed: the parser cannot tell where the command starts.
struct Grammar {
  std::string_view flags;     // short options without a value
  std::string_view valued;    // short options with a value (attached or the next word)
  std::string_view attached;  // short options whose value, if any, is attached only (xargs -i)
  std::initializer_list<std::string_view> long_flags;
  std::initializer_list<std::string_view> long_valued;
  bool numeric = false;       // nice -5, nice --5
  bool plus_options = false;  // sh +x, +o name
};

struct Options {
  std::size_t next = 0;                                      // first word after the options
  std::vector<std::pair<std::string, std::string>> seen;     // {"-u", "root"}, {"--login", ""}
  std::string error;
  bool has(std::string_view name) const {
    return std::any_of(seen.begin(), seen.end(), [&](const auto& o) { return o.first == name; });
  }
  std::string value(std::string_view name) const {
    for (const auto& o : seen)
      if (o.first == name) return o.second;
    return {};
  }
};

Options parse_options(const std::vector<std::string>& argv, std::size_t i, const Grammar& g) {
  Options o;
  while (i < argv.size()) {
    const std::string& w = argv[i];
    const bool plus = g.plus_options && w.size() > 1 && w[0] == '+';
    if (w.size() < 2 || (w[0] != '-' && !plus)) break;
    if (w == "--") {
      ++i;
      break;
    }
    ++i;
    if (g.numeric && all_digits(std::string_view(w).substr(w[1] == '-' ? 2 : 1))) {
      o.seen.emplace_back("-n", w.substr(w[1] == '-' ? 2 : 1));
      continue;
    }
    if (w[1] == '-' && !plus) {
      const auto eq = w.find('=');
      const std::string name = w.substr(0, eq);
      const std::string_view bare = std::string_view(name).substr(2);
      if (in(bare, g.long_flags)) {
        o.seen.emplace_back(name, eq == std::string::npos ? "" : w.substr(eq + 1));
      } else if (in(bare, g.long_valued)) {
        if (eq != std::string::npos) {
          o.seen.emplace_back(name, w.substr(eq + 1));
        } else if (i < argv.size()) {
          o.seen.emplace_back(name, argv[i++]);
        } else {
          o.error = "option " + name + " needs a value";
          break;
        }
      } else {
        o.error = "unknown option " + name;
        break;
      }
      continue;
    }
    for (std::size_t k = 1; k < w.size(); ++k) {
      const std::string name = std::string(1, w[0]) + w[k];
      if (g.flags.find(w[k]) != std::string_view::npos) {
        o.seen.emplace_back(name, "");
      } else if (g.attached.find(w[k]) != std::string_view::npos) {
        o.seen.emplace_back(name, w.substr(k + 1));
        break;
      } else if (g.valued.find(w[k]) != std::string_view::npos) {
        if (k + 1 < w.size()) {
          o.seen.emplace_back(name, w.substr(k + 1));
        } else if (i < argv.size()) {
          o.seen.emplace_back(name, argv[i++]);
        } else {
          o.error = "option " + name + " needs a value";
        }
        break;
      } else {
        o.error = "unknown option " + name;
        break;
      }
    }
    if (!o.error.empty()) break;
  }
  o.next = i;
  return o;
}

// clang-format off
const Grammar kEnv{"i0v", "uCS", "", {"ignore-environment", "null", "debug"}, {"unset", "chdir", "split-string"}};
const Grammar kNice{"", "n", "", {}, {"adjustment"}, true};
const Grammar kIonice{"t", "cnpPu", "", {"ignore"}, {"class", "classdata", "pid", "pgid", "uid"}};
const Grammar kTimeout{"v", "sk", "", {"preserve-status", "foreground", "verbose"}, {"signal", "kill-after"}};
const Grammar kSetsid{"cfw", "", "", {"ctty", "fork", "wait"}, {}};
const Grammar kStdbuf{"", "ioe", "", {}, {"input", "output", "error"}};
const Grammar kNohup{"", "", "", {}, {}};
const Grammar kTime{"pavq", "fo", "", {"portability", "append", "verbose", "quiet"}, {"format", "output"}};
const Grammar kCommand{"pvV", "", "", {}, {}};
const Grammar kExec{"cl", "a", "", {}, {}};
const Grammar kXargs{"0rtpxo", "adEILnPs", "eil",
                     {"null", "no-run-if-empty", "verbose", "interactive", "exit", "open-tty", "replace", "eof", "max-lines"},
                     {"arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"}};
const Grammar kSudo{"EHnkbSAPlivesKVN", "ugDChprtTUR", "",
                    {"login", "shell", "edit", "non-interactive", "reset-timestamp", "remove-timestamp", "background",
                     "preserve-env", "set-home", "stdin", "askpass", "list", "validate", "preserve-groups", "bell"},
                    {"user", "group", "chdir", "close-from", "host", "prompt", "role", "type", "command-timeout",
                     "other-user", "chroot"}};
const Grammar kDoas{"nsL", "uC", "", {}, {}};
const Grammar kSu{"lmpPf", "cgGsw", "", {"login", "preserve-environment", "pty"},
                  {"command", "session-command", "group", "supp-group", "shell", "whitelist-environment"}};
const Grammar kRunuser{"lmpPf", "cgGsuw", "", {"login", "preserve-environment", "pty"},
                       {"command", "session-command", "group", "supp-group", "shell", "user", "whitelist-environment"}};
const Grammar kWatch{"bcCdegptwx", "nq", "", {"beep", "color", "no-color", "differences", "errexit", "chgexit", "precise", "no-title", "no-wrap", "exec"},
                     {"interval", "equexit"}};
const Grammar kFlock{"sexnoFu", "wE", "", {"shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose"},
                     {"timeout", "wait", "conflict-exit-code"}};
const Grammar kChroot{"", "", "", {"skip-chdir"}, {"userspec", "groups"}};
const Grammar kTaskset{"apc", "", "", {"all-tasks", "pid", "cpu-list"}, {}};
const Grammar kChrt{"bdfioramRpv", "TPD", "", {"batch", "deadline", "fifo", "idle", "other", "rr", "all-tasks", "max", "pid", "reset-on-fork", "verbose"},
                    {"sched-runtime", "sched-period", "sched-deadline"}};
const Grammar kNsenter{"aFZ", "tSGW", "muinpCUTrw",
                       {"all", "mount", "uts", "ipc", "net", "pid", "cgroup", "user", "time", "preserve-credentials", "root", "wd", "no-fork", "follow-context"},
                       {"target", "setuid", "setgid", "wdns"}};
const Grammar kUnshare{"frc", "RwSG", "muinpUCT",
                       {"mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time", "fork", "map-root-user", "map-current-user", "map-auto",
                        "kill-child", "mount-proc", "keep-caps"},
                       {"map-user", "map-group", "map-users", "map-groups", "propagation", "setgroups", "root", "wd", "setuid", "setgid",
                        "monotonic", "boottime"}};
const Grammar kScript{"aefq", "IOBTmcEo", "t", {"append", "return", "flush", "force", "quiet", "timing"},
                      {"log-in", "log-out", "log-io", "log-timing", "logging-format", "command", "echo", "output-limit"}};
const Grammar kSetpriv{"d", "", "", {"dump", "nnp", "no-new-privs", "clear-groups", "keep-groups", "init-groups", "reset-env"},
                       {"ambient-caps", "inh-caps", "bounding-set", "ruid", "euid", "rgid", "egid", "reuid", "regid", "groups",
                        "securebits", "pdeathsig", "selinux-label", "apparmor-profile", "landlock-access", "landlock-rule", "seccomp-filter"}};
const Grammar kRuncon{"c", "turl", "", {"compute"}, {"type", "user", "role", "range"}};
const Grammar kShell{"abcefhiklmnprstuvxBCEHPl", "oO", "", {"login", "norc", "noprofile", "posix", "restricted", "verbose", "noediting", "debugger"},
                     {"rcfile", "init-file"}, false, true};
// clang-format on

bool is_shell(std::string_view n) { return in(n, {"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "rbash"}); }

bool is_interpreter(std::string_view n) {
  auto starts = [&](std::string_view p) { return n.substr(0, p.size()) == p; };
  return starts("python") || starts("perl") || starts("ruby") || starts("php") || starts("lua") || starts("tclsh") ||
         in(n, {"node", "nodejs", "awk", "gawk", "mawk", "nawk", "expect", "ed", "wish", "source", "."});
}

// Names whose assignment changes what later commands run or how they parse.
bool is_sensitive_name(std::string_view name) {
  // PS2/PS3 and MAILPATH are expanded (command substitution included) by
  // an interactive shell; LANG/LC_ALL/LC_CTYPE change how bash reads the
  // next line (a GBK character may end in `\`); EXECIGNORE, BASH_COMPAT and
  // POSIXLY_CORRECT change which program or grammar later lines get;
  // histchars makes `%:1` a history expansion (only `!` is flagged).
  return in(name, {"PATH", "IFS", "ENV", "BASH_ENV", "PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "SHELLOPTS",
                   "BASHOPTS", "CDPATH", "GLOBIGNORE", "LANG", "LC_ALL", "LC_CTYPE", "MAILPATH", "MAIL", "EXECIGNORE",
                   "BASH_COMPAT", "POSIXLY_CORRECT", "histchars"}) ||
         name.substr(0, 3) == "LD_";
}

std::string assigned_name(const std::string& word) {
  std::size_t k = 0;
  while (k < word.size() && (std::isalnum(static_cast<unsigned char>(word[k])) || word[k] == '_')) ++k;
  return word.substr(0, k);
}

class Analyser {
 public:
  explicit Analyser(std::vector<SimpleCommand>& extra) : extra_(extra) {}

  void run(SimpleCommand& p, int budget) {
    p_ = &p;
    budget_ = budget;
    anywhere();
    unwrap();
    writes();
    if (!p.opaque.empty()) p.program.clear();  // an opaque part has no trustworthy program
  }

 private:
  SimpleCommand& p() { return *p_; }
  const std::vector<std::string>& argv() { return p_->argv; }
  unsigned flags(std::size_t i) { return i < p_->word_flags.size() ? p_->word_flags[i] : 0; }
  void opaque(std::string why) {
    if (std::find(p().opaque.begin(), p().opaque.end(), why) == p().opaque.end()) p().opaque.push_back(std::move(why));
  }

  // Constructs that make the whole part unresolvable wherever they appear.
  void anywhere() {
    for (const auto& why : p().scan_opaque) opaque(why);
    for (std::size_t i = 0; i < argv().size(); ++i) {
      const unsigned f = flags(i);
      if (f & kWordIfs) opaque("$IFS changes word splitting");
      if (f & kWordArithCode) opaque("arithmetic on a variable or substitution");
      if (f & kWordHistory) opaque("history expansion");
      if (f & kWordParamAssign) p().changes_shell = true;  // ${PROMPT_COMMAND:=..}
      if (f & kWordAssign) {
        const std::string name = assigned_name(argv()[i]);
        if (name == "IFS") opaque("assignment of IFS");
        if (is_sensitive_name(name)) p().changes_shell = true;
      }
    }
    if (p().defines_function) p().changes_shell = true;
    // A here-document body is data: only what runs code or changes the
    // shell while it is expanded counts ($(..) in it are parts of their own).
    const unsigned b = p().heredoc_flags;
    if (b & kWordArithCode) opaque("arithmetic on a variable or substitution");
    if (b & kWordHistory) opaque("history expansion");
    if (b & kWordParamAssign) p().changes_shell = true;
  }

  // Why word i cannot be the program name as written, or "".
  std::string command_word_problem(std::size_t i) {
    const unsigned f = flags(i);
    const std::string& w = argv()[i];
    if (f & kWordAnsiC) return "ANSI-C quoting in command position";
    if (f & kWordLocale) return "locale translation $\"..\" in command position";
    if (f & kWordBrace) return "brace expansion in command position";
    if (f & kWordSubst) return "command substitution in command position";
    if (f & kWordArith) return "arithmetic expansion in command position";
    if (f & kWordParam) return "parameter expansion in command position";
    if ((f & kWordGlob) && w != "[" && w != "[[") return "glob in command position";
    if (base_name(w).empty()) return "empty command name";
    return {};
  }

  void set_program(std::size_t i) {
    p().program = base_name(argv()[i]);
    p().args.assign(argv().begin() + static_cast<std::ptrdiff_t>(i), argv().end());
    for (std::size_t k = i + 1; k < argv().size(); ++k) {
      if (flags(k) & (kExpands | kWordBrace)) p().dynamic_args = true;
      if (flags(k) & kWordGlob) p().globs = true;
    }
  }

  // Walks wrappers from the first word to the real program.
  void unwrap() {
    std::size_t i = 0;
    // Reserved words before a command (`! rm`, `then rm`, `{ rm`) are not the program.
    while (i < argv().size() && (flags(i) & kWordAssign || is_keyword_prefix(i))) ++i;
    while (i < argv().size()) {
      if (std::string why = command_word_problem(i); !why.empty()) return opaque(std::move(why));
      if (rewritten_by_xargs(i)) return opaque(kXargsRewrites);
      const std::string name = base_name(argv()[i]);
      if (name == "busybox" && i + 1 < argv().size()) {  // busybox APPLET ...
        p().wrappers.push_back(name);
        ++i;
        continue;
      }
      const Grammar* g = wrapper_grammar(name);
      if (!g) return program(i, name);
      Options o = parse_options(argv(), i + 1, *g);
      if (!o.error.empty()) return opaque(name + ": " + o.error);
      if (name == "env" && (o.has("-S") || o.has("--split-string"))) return opaque("env -S splits a string");
      if (name == "command" && (o.has("-v") || o.has("-V"))) return set_program(i);
      if (name == "ionice" && (o.has("-p") || o.has("-P") || o.has("-u") || o.has("--pid") || o.has("--pgid") || o.has("--uid")))
        return set_program(i);
      if (name == "sudo" || name == "doas") {
        p().sudo = true;
        p().sudo_user = o.has("-u") ? o.value("-u") : o.has("--user") ? o.value("--user") : "root";
        if (o.has("-e") || o.has("--edit")) {
          set_program(i);  // sudoedit FILE...: edits as root, runs nothing else
          p().program = "sudoedit";
          p().args.assign(argv().begin() + static_cast<std::ptrdiff_t>(o.next), argv().end());
          p().args.insert(p().args.begin(), "sudoedit");
          return;
        }
        if (o.next >= argv().size() && (o.has("-i") || o.has("-s") || o.has("--login") || o.has("--shell"))) {
          set_program(i);
          p().interpreter = true;  // an interactive shell as another user
          return;
        }
      }
      std::size_t next = o.next;
      if (name == "env") {
        if (next < argv().size() && argv()[next] == "-") ++next;  // like -i
        while (next < argv().size() && argv()[next].find('=') != std::string::npos) {
          if (assigned_name(argv()[next]) == "IFS") opaque("assignment of IFS");
          if (is_sensitive_name(assigned_name(argv()[next]))) p().changes_shell = true;
          ++next;
        }
      }
      if (name == "timeout") ++next;  // DURATION
      // Wrappers that act on a process id or only report run nothing.
      if ((name == "taskset" && (o.has("-p") || o.has("--pid"))) ||
          (name == "chrt" && (o.has("-p") || o.has("--pid") || o.has("-m") || o.has("--max"))) ||
          (name == "setpriv" && (o.has("-d") || o.has("--dump"))))
        return set_program(i);
      // Positionals eaten before the command: FILE, NEWROOT, MASK, PRIORITY, CONTEXT.
      if (in(name, {"flock", "chroot", "taskset", "chrt"})) ++next;
      if (name == "runcon" && !(o.has("-t") || o.has("-u") || o.has("-r") || o.has("-l") || o.has("--type") ||
                                o.has("--user") || o.has("--role") || o.has("--range")))
        ++next;
      if (name == "watch" && !o.has("-x") && !o.has("--exec")) {  // sh -c "the words joined"
        set_program(i);
        return joined(o.next, "watch");
      }
      if (name == "flock" && next < argv().size() && (argv()[next] == "-c" || argv()[next] == "--command")) {
        set_program(i);
        if (next + 2 != argv().size()) return;  // flock refuses: exactly one command string
        if (flags(next + 1) & (kExpands | kWordBrace | kWordGlob)) return opaque("flock -c with a dynamic string");
        return nested(argv()[next + 1], "flock -c");
      }
      if (name == "setpriv") {
        for (const char* uid : {"--reuid", "--ruid", "--euid"})
          if (o.has(uid)) p().sudo = true, p().sudo_user = o.value(uid);
      }
      if (name == "chroot" && o.has("--userspec")) {
        const std::string spec = o.value("--userspec");
        p().sudo = true;
        p().sudo_user = spec.substr(0, spec.find(':'));
      }
      if (name == "exec" && next >= argv().size() && !p().redirects.empty())
        return opaque("exec with only redirections");
      if (next >= argv().size()) {
        if (name == "xargs") {  // runs echo by default
          p().wrappers.push_back(name);
          p().via = "xargs";
          p().program = "echo";
          p().args = {"echo"};
          p().dynamic_args = true;
          return;
        }
        set_program(i);  // the wrapper alone: it is the program
        // ... and these start an interactive shell ($SHELL) without a command.
        if (in(name, {"chroot", "nsenter", "unshare"})) p().interpreter = true;
        return;
      }
      for (std::size_t k = i + 1; k < next; ++k)
        if (rewritten_by_xargs(k)) return opaque(kXargsRewrites);
      p().wrappers.push_back(name);
      if (name == "xargs") {
        p().via = "xargs";
        p().dynamic_args = true;
        // -I STR (-i[STR], --replace[=STR]) rewrites the words after its
        // command, so `xargs -I ls nice ls` may run anything. Every STR
        // given counts (in xargs the last wins).
        for (const auto& [opt, value] : o.seen)
          if (opt == "-I" || opt == "-i" || opt == "--replace")
            xargs_replace_.push_back(value.empty() && opt != "-I" ? "{}" : value);
      }
      i = next;
    }
  }

  static constexpr const char* kXargsRewrites = "xargs -I rewrites the words that choose the program";
  bool rewritten_by_xargs(std::size_t k) {
    return std::any_of(xargs_replace_.begin(), xargs_replace_.end(),
                       [&](const std::string& r) { return !r.empty() && argv()[k].find(r) != std::string::npos; });
  }

  // A reserved word the scanner left in front of a command (quoting is not
  // told apart, so `"if" x` also counts as x: stricter, not looser).
  bool is_keyword_prefix(std::size_t i) {
    return i + 1 < argv().size() &&
           in(argv()[i], {"!", "{", "if", "then", "elif", "else", "while", "until", "do", "coproc"});
  }

  static const Grammar* wrapper_grammar(std::string_view n) {
    if (n == "env") return &kEnv;
    if (n == "nice") return &kNice;
    if (n == "ionice") return &kIonice;
    if (n == "timeout") return &kTimeout;
    if (n == "setsid") return &kSetsid;
    if (n == "stdbuf") return &kStdbuf;
    if (n == "nohup") return &kNohup;
    if (n == "time") return &kTime;
    if (n == "command") return &kCommand;
    if (n == "exec") return &kExec;
    if (n == "xargs") return &kXargs;
    if (n == "sudo") return &kSudo;
    if (n == "doas") return &kDoas;
    if (n == "watch") return &kWatch;
    if (n == "flock") return &kFlock;
    if (n == "chroot") return &kChroot;
    if (n == "taskset") return &kTaskset;
    if (n == "chrt") return &kChrt;
    if (n == "nsenter") return &kNsenter;
    if (n == "unshare") return &kUnshare;
    if (n == "setpriv") return &kSetpriv;
    if (n == "runcon") return &kRuncon;
    return nullptr;
  }

  // The real program is argv[i]: record it, then look inside what it runs.
  void program(std::size_t i, const std::string& name) {
    set_program(i);
    if (is_shell(name)) return shell(i, name);
    if (name == "eval") return eval(i);
    if (name == "su" || name == "runuser") return su(i, name);
    if (name == "find") return find(i);
    if (name == "script") return script(i);
    if (name == "let") return opaque("let evaluates arithmetic on variables");
    if (name == "[[") return double_bracket(i);
    if (in(name, {"alias", "bind", "trap", "set", "shopt", "enable", "function", "unalias"})) p().changes_shell = true;
    if (in(name, {"export", "declare", "typeset", "hash", "readonly", "unset"})) {
      for (std::size_t k = i + 1; k < argv().size(); ++k)
        if (argv()[k] == "-f" || argv()[k] == "-p" || is_sensitive_name(assigned_name(argv()[k])))
          p().changes_shell = true;
    }
    if (is_interpreter(name)) interpreter(i);
  }

  // A script interpreter: the code it runs is opaque to the parser.
  void interpreter(std::size_t i) {
    p().interpreter = true;
    bool inline_code = false;
    bool file = false;
    for (std::size_t k = i + 1; k < argv().size(); ++k) {
      const std::string& a = argv()[k];
      if (a == "-") break;
      if (a.size() > 1 && a[0] == '-') {
        if (a.find_first_of("cemErf", 1) != std::string::npos) inline_code = true;
        continue;
      }
      file = true;
      break;
    }
    const std::string name = base_name(argv()[i]);
    const bool needs_code_arg = in(name, {"awk", "gawk", "mawk", "nawk", "source", "."});
    if (!inline_code && !file && !needs_code_arg) stdin_script();
  }

  void stdin_script() {
    p().reads_script = true;
    if (p().piped_in) p().pipe_into_shell = true;
  }

  void shell(std::size_t i, const std::string& name) {
    const Options o = parse_options(argv(), i + 1, kShell);
    if (!o.error.empty()) return opaque(name + ": " + o.error);
    if (!o.has("-c")) {
      p().interpreter = true;
      if (o.next >= argv().size() || o.has("-s")) stdin_script();
      return;
    }
    if (o.next >= argv().size()) return opaque(name + " -c without a command string");
    if (flags(o.next) & (kExpands | kWordBrace | kWordGlob)) return opaque(name + " -c with a dynamic string");
    nested(argv()[o.next], name + " -c");
  }

  void eval(std::size_t i) { joined(i + 1, "eval"); }

  // eval and watch join their words with spaces and run the result as code.
  void joined(std::size_t from, const std::string& via) {
    std::string text;
    for (std::size_t k = from; k < argv().size(); ++k) {
      if (flags(k) & (kExpands | kWordBrace | kWordGlob)) return opaque(via + " with dynamic arguments");
      if (k > from) text += ' ';
      text += argv()[k];
    }
    if (!text.empty()) nested(text, via);
  }

  // script [-c STR] [FILE]: runs STR with $SHELL -c, or an interactive shell.
  // Its options may follow the file (getopt permutes).
  void script(std::size_t i) {
    std::size_t k = i + 1;
    Options all;
    while (k < argv().size()) {
      Options o = parse_options(argv(), k, kScript);
      if (!o.error.empty()) return opaque("script: " + o.error);
      for (auto& seen : o.seen) all.seen.push_back(std::move(seen));
      k = o.next + (o.next < argv().size() ? 1 : 0);  // skip the log file
    }
    if (!all.has("-c") && !all.has("--command")) {
      p().interpreter = true;
      return;
    }
    for (std::size_t w = i + 1; w < argv().size(); ++w)
      if (flags(w) & (kExpands | kWordBrace | kWordGlob)) return opaque("script -c with a dynamic string");
    nested(all.has("-c") ? all.value("-c") : all.value("--command"), "script -c");
  }

  void su(std::size_t i, const std::string& name) {
    const Options o = parse_options(argv(), i + 1, name == "su" ? kSu : kRunuser);
    if (!o.error.empty()) return opaque(name + ": " + o.error);
    p().sudo = true;
    std::size_t next = o.next;
    if (next < argv().size() && argv()[next] == "-") ++next;  // su - user
    const std::string cmd = o.has("-c") ? o.value("-c") : o.value("--command");
    if (name == "runuser" && o.has("-u") && cmd.empty()) {  // runuser -u U [--] CMD
      p().sudo_user = o.value("-u");
      if (next < argv().size() && argv()[next] == "--") ++next;
      if (next >= argv().size()) return;
      p().wrappers.push_back(name);
      if (std::string why = command_word_problem(next); !why.empty()) return opaque(std::move(why));
      // Recursion here is bounded: each level eats `runuser -u U` words,
      // and the guard stops chains built to exhaust the stack.
      if (++program_depth_ > kShellMaxDepth) return opaque("nesting too deep");
      return program(next, base_name(argv()[next]));
    }
    p().sudo_user = next < argv().size() ? argv()[next] : "root";
    if (!o.has("-c") && !o.has("--command")) {
      p().interpreter = true;  // an interactive shell as another user
      return;
    }
    nested(cmd, name + " -c");
  }

  // find ... -exec CMD ... ; and its kin run CMD once per file.
  void find(std::size_t i) {
    for (std::size_t k = i + 1; k < argv().size(); ++k) {
      if (!in(argv()[k], {"-exec", "-execdir", "-ok", "-okdir"})) continue;
      SimpleCommand sub;
      sub.depth = p().depth + 1;
      sub.via = "find -exec";
      std::size_t e = k + 1;
      for (; e < argv().size() && argv()[e] != ";" && argv()[e] != "+"; ++e) {
        sub.argv.push_back(argv()[e]);
        sub.word_flags.push_back(flags(e));
      }
      if (sub.argv.empty()) return opaque("find -exec without a command");
      if (sub.argv[0].find("{}") != std::string::npos) return opaque("find -exec runs a found file");
      child(std::move(sub));
      k = e;
    }
  }

  void double_bracket(std::size_t i) {
    for (std::size_t k = i + 1; k < argv().size(); ++k) {
      if (!in(argv()[k], {"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})) continue;
      if (k < 1 || k + 1 >= argv().size() || !all_digits(argv()[k - 1]) || !all_digits(argv()[k + 1]))
        return opaque("[[ ]] compares arithmetic on variables");
    }
  }

  // Code given as a string (bash -c, eval, su -c): its parts follow the
  // line's own parts, one level deeper, with `via` saying how they run.
  void nested(const std::string& text, std::string via) {
    if (budget_ <= 0) return opaque("nesting too deep");
    ShellParse sub = parse_shell(text);
    if (!sub.error.empty()) return opaque(via + ": " + sub.error);
    for (auto& part : sub.parts) {
      part.depth += p().depth + 1;
      part.via = via;
      child(std::move(part));
    }
  }

  void child(SimpleCommand sub) {
    if (budget_ <= 0) return opaque("nesting too deep");
    std::vector<SimpleCommand> grand;
    Analyser(grand).run(sub, budget_ - 1);
    extra_.push_back(std::move(sub));
    for (auto& g : grand) extra_.push_back(std::move(g));
  }

  void writes() {
    const auto& r = p().redirects;
    auto is_op = [](const std::string& s) {
      return !s.empty() && s.find_first_not_of("<>&|") == std::string::npos;
    };
    for (std::size_t k = 0; k < r.size(); ++k) {
      if (!is_op(r[k])) continue;
      const std::string& op = r[k];
      const std::string target = k + 1 < r.size() && !is_op(r[k + 1]) ? r[k + 1] : "";
      if (op.find('>') == std::string::npos) continue;
      if (op.back() == '&' && (all_digits(target) || target == "-")) continue;  // fd duplication
      if (!target.empty()) p().writes.push_back(target);
    }
  }

  std::vector<SimpleCommand>& extra_;
  SimpleCommand* p_ = nullptr;
  int budget_ = 0;
  int program_depth_ = 0;
  std::vector<std::string> xargs_replace_;  // xargs -I's strings once an xargs wrapper took them
};

}  // namespace

ShellParse parse_command(std::string_view line) {
  ShellParse out = parse_shell(line);
  std::vector<SimpleCommand> extra;
  for (auto& part : out.parts) Analyser(extra).run(part, kShellMaxDepth);
  for (auto& e : extra) out.parts.push_back(std::move(e));
  return out;
}

std::string shell_audit_details(const ShellParse& parse) {
  nlohmann::json opaque = nlohmann::json::array();
  for (std::size_t i = 0; i < parse.parts.size(); ++i) {
    const SimpleCommand& p = parse.parts[i];
    if (p.opaque.empty()) continue;
    opaque.push_back({{"part", i + 1}, {"argv", p.argv}, {"reasons", p.opaque}});
  }
  if (opaque.empty() && parse.error.empty()) return {};
  nlohmann::json j = nlohmann::json::object();
  if (!opaque.empty()) j["opaque"] = std::move(opaque);
  if (!parse.error.empty()) j["parse_error"] = parse.error;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
