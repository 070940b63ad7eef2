#include <catch2/catch.hpp>

#include "policy/shell_parse.h"

using bastion::parse_command;
using bastion::parse_shell;
using bastion::ShellParse;
using bastion::SimpleCommand;
using V = std::vector<std::string>;

namespace {
// The first reason of the first opaque part, or "" when none is opaque.
std::string opaque(const std::string& line) {
  for (const auto& p : parse_command(line).parts)
    if (!p.opaque.empty()) return p.opaque.front();
  return "";
}
SimpleCommand part(const std::string& line, std::size_t i = 0) {
  const ShellParse p = parse_command(line);
  REQUIRE(p.parts.size() > i);
  return p.parts[i];
}
}  // namespace

TEST_CASE("parse_command keeps every field parse_shell gives", "[shell_parse]") {
  for (const char* line : {"ls -la /tmp", "echo 'a b' \"c d\" e\\ f", "ls; rm -rf /", "a && b || c | d & e",
                           "(cd /x && rm y)", "echo $(rm -rf /) `shutdown now`", "cat <(ls) >(wc) 2>&1 > out",
                           "$'rm' {a,b} /bin/r? rm${IFS}x", "echo 'x", "env -i nice -n5 rm -rf D", "x=1 y=2 env"}) {
    CAPTURE(line);
    const ShellParse old = parse_shell(line);
    const ShellParse now = parse_command(line);
    CHECK(now.words == old.words);
    CHECK(now.error == old.error);
    REQUIRE(now.parts.size() == old.parts.size());
    for (std::size_t i = 0; i < old.parts.size(); ++i) {
      CHECK(now.parts[i].argv == old.parts[i].argv);
      CHECK(now.parts[i].redirects == old.parts[i].redirects);
      CHECK(now.parts[i].depth == old.parts[i].depth);
    }
  }
}

TEST_CASE("constructs the shell expands at run time in command position are opaque", "[shell_parse]") {
  CHECK(opaque("$'rm' -rf D") == "ANSI-C quoting in command position");
  CHECK(opaque("$'\\x72\\x6d' -rf D") == "ANSI-C quoting in command position");
  CHECK(opaque("$\"rm\" -rf D") == "locale translation $\"..\" in command position");
  CHECK(opaque("{rm,-rf,D}") == "brace expansion in command position");
  CHECK(opaque("{1..3}") == "brace expansion in command position");
  CHECK(opaque("/bin/r? -rf D") == "glob in command position");
  CHECK(opaque("/bin/r[m] -rf D") == "glob in command position");
  CHECK(opaque("/bin/* -rf D") == "glob in command position");
  CHECK(opaque("@(rm) -rf D") == "extglob pattern");
  CHECK(opaque("!(x) -rf D") == "extglob pattern");
  CHECK(opaque("X=rm; $X -rf D") == "parameter expansion in command position");
  CHECK(opaque("${X} -rf D") == "parameter expansion in command position");
  CHECK(opaque("\"$X\" -rf D") == "parameter expansion in command position");
  CHECK(opaque("$(echo rm) -rf D") == "command substitution in command position");
  CHECK(opaque("`echo rm` -rf D") == "command substitution in command position");
  CHECK(opaque("$((1)) -rf D") == "arithmetic expansion in command position");
  CHECK(opaque("'' -rf D") == "empty command name");
  CHECK(opaque("/bin/ -rf D") == "empty command name");
  // After unwrapping too.
  CHECK(opaque("env $X -rf D") == "parameter expansion in command position");
  CHECK(opaque("sudo {rm,x}") == "brace expansion in command position");
}

TEST_CASE("constructs that are opaque anywhere in a part", "[shell_parse]") {
  CHECK(opaque("rm${IFS}-rf${IFS}D") == "$IFS changes word splitting");
  CHECK(opaque("echo a$IFS") == "$IFS changes word splitting");
  CHECK(opaque("echo \"${IFS}\"") == "$IFS changes word splitting");
  CHECK(opaque("IFS=/ x") == "assignment of IFS");
  CHECK(opaque("env IFS=/ x") == "assignment of IFS");
  CHECK(opaque(": $(( $(rm -rf D) ))") == "arithmetic on a variable or substitution");
  CHECK(opaque("x='a[$(rm -rf D)]'; echo $((x))") == "arithmetic on a variable or substitution");
  CHECK(opaque("echo ${x:1}") == "arithmetic on a variable or substitution");
  CHECK(opaque("echo ${a[i]}") == "arithmetic on a variable or substitution");
  CHECK(opaque("((x++))") == "arithmetic command (( ))");
  CHECK(opaque("let x=y") == "let evaluates arithmetic on variables");
  CHECK(opaque("[[ $x -eq 1 ]]") == "[[ ]] compares arithmetic on variables");
  CHECK(opaque("!!") == "history expansion");
  CHECK(opaque("echo !$") == "history expansion");
  CHECK(opaque("echo \"!-2\"") == "history expansion");
  CHECK(opaque("^rm^ls") == "history expansion");
  CHECK(opaque("bash -c \"$x\"") == "bash -c with a dynamic string");
  CHECK(opaque("eval \"$x\"") == "eval with dynamic arguments");
  CHECK(opaque("eval rm $(echo x)") == "eval with dynamic arguments");
  CHECK(opaque("env -S 'rm -rf D'") == "env -S splits a string");
  CHECK(opaque("env --split-string='rm -rf D'") == "env -S splits a string");
  CHECK(opaque("nice --bogus rm") == "nice: unknown option --bogus");
  CHECK(opaque("timeout -Z 5 rm") == "timeout: unknown option -Z");
  CHECK(opaque("sudo -Q rm") == "sudo: unknown option -Q");
  CHECK(opaque("exec 3<>/dev/tcp/h/1") == "exec with only redirections");
  CHECK(opaque("bash -c 'echo \"x'") == "bash -c: unterminated double quote");
  std::string deep = "rm x";
  for (int i = 0; i < 20; ++i) deep = "eval " + deep;
  CHECK(opaque(deep) == "nesting too deep");
  // Unterminated constructs stay a parse error, as before.
  CHECK(parse_command("echo 'x").error == "unterminated single quote");
}

TEST_CASE("what the parser resolves statically is not opaque", "[shell_parse]") {
  for (const char* line : {"rm -rf D", "'r'm -rf D", "\\rm -rf D", "\"rm\" -rf D", "r\"\"m -rf D", "/bin/rm -rf D",
                           "A=1 rm -rf D", "~/bin/rm -rf D"}) {
    CAPTURE(line);
    const SimpleCommand p = part(line);
    CHECK(p.opaque.empty());
    CHECK(p.program == "rm");
    CHECK(p.args.size() == 3);
  }
  CHECK(part("echo $'a\\tb'").opaque.empty());
  CHECK_FALSE(part("echo $'a\\tb'").dynamic_args);  // decoded statically
  CHECK(part("echo $\"a\"").dynamic_args);            // translated at run time
  CHECK(part("echo $((1+2))").opaque.empty());
  CHECK(part("echo ${x:-d} \"$HOME\"").opaque.empty());
  CHECK(part("[[ 1 -eq 1 ]]").opaque.empty());
  CHECK(part("[ ! -f x ]").opaque.empty());
  CHECK(part("test a != b").opaque.empty());
  CHECK(part("echo 'a!b'").opaque.empty());
  CHECK(part("echo $? $#").opaque.empty());
  CHECK_FALSE(part("echo $? $#").globs);
  CHECK(part("rm *.log").globs);
  CHECK_FALSE(part("rm '*.log'").globs);
  CHECK(part("x=1").program.empty());
  CHECK(part("x=1").opaque.empty());
}

TEST_CASE("wrappers are unwrapped to the real program", "[shell_parse]") {
  struct Row {
    const char* line;
    V wrappers;
    V args;
  };
  const std::vector<Row> rows = {
      {"env -i rm -rf D", {"env"}, {"rm", "-rf", "D"}},
      {"env A=1 rm -rf D", {"env"}, {"rm", "-rf", "D"}},
      {"env -i -u X -C /tmp -- A=1 B=2 rm D", {"env"}, {"rm", "D"}},
      {"env - rm D", {"env"}, {"rm", "D"}},
      {"nice -n5 rm D", {"nice"}, {"rm", "D"}},
      {"nice -n 5 rm D", {"nice"}, {"rm", "D"}},
      {"nice -5 rm D", {"nice"}, {"rm", "D"}},
      {"nice --adjustment=3 rm D", {"nice"}, {"rm", "D"}},
      {"ionice -c3 rm D", {"ionice"}, {"rm", "D"}},
      {"ionice -c 2 -n 7 -t rm D", {"ionice"}, {"rm", "D"}},
      {"timeout 5 rm D", {"timeout"}, {"rm", "D"}},
      {"timeout -s KILL -k 1 --preserve-status --foreground 5s rm D", {"timeout"}, {"rm", "D"}},
      {"setsid rm D", {"setsid"}, {"rm", "D"}},
      {"setsid -c -f -w rm D", {"setsid"}, {"rm", "D"}},
      {"stdbuf -o0 rm D", {"stdbuf"}, {"rm", "D"}},
      {"stdbuf -oL -e 0 --input=0 rm D", {"stdbuf"}, {"rm", "D"}},
      {"nohup rm D", {"nohup"}, {"rm", "D"}},
      {"time -p rm D", {"time"}, {"rm", "D"}},
      {"/usr/bin/time -f %e -o out -a -v rm D", {"time"}, {"rm", "D"}},
      {"command -p rm D", {"command"}, {"rm", "D"}},
      {"exec rm D", {"exec"}, {"rm", "D"}},
      {"exec -c -l -a name rm D", {"exec"}, {"rm", "D"}},
      {"sudo env nice -n1 rm D", {"sudo", "env", "nice"}, {"rm", "D"}},
      {"sudo -u bob -E -H -- rm D", {"sudo"}, {"rm", "D"}},
      {"doas -n -u bob rm D", {"doas"}, {"rm", "D"}},
      {"busybox rm -rf D", {"busybox"}, {"rm", "-rf", "D"}},
      {"runuser -u bob -- rm D", {"runuser"}, {"rm", "D"}},
      {"watch -x rm D", {"watch"}, {"rm", "D"}},
      {"watch -n 2 -d --exec rm D", {"watch"}, {"rm", "D"}},
      {"flock /tmp/l rm D", {"flock"}, {"rm", "D"}},
      {"flock -n -w 3 -E 9 /tmp/l rm D", {"flock"}, {"rm", "D"}},
      {"chroot / rm D", {"chroot"}, {"rm", "D"}},
      {"chroot --skip-chdir --groups=a,b / rm D", {"chroot"}, {"rm", "D"}},
      {"taskset 0x3 rm D", {"taskset"}, {"rm", "D"}},
      {"taskset -c 0-1 rm D", {"taskset"}, {"rm", "D"}},
      {"chrt 5 rm D", {"chrt"}, {"rm", "D"}},
      {"chrt -f -R 10 rm D", {"chrt"}, {"rm", "D"}},
      {"nsenter -t 1 -m -u -i -n -p rm D", {"nsenter"}, {"rm", "D"}},
      {"nsenter --target=1 --mount=/proc/1/ns/mnt -r/ rm D", {"nsenter"}, {"rm", "D"}},
      {"unshare -f -r -m --propagation private rm D", {"unshare"}, {"rm", "D"}},
      {"unshare -Uf --mount-proc rm D", {"unshare"}, {"rm", "D"}},
      {"setpriv --nnp --clear-groups rm D", {"setpriv"}, {"rm", "D"}},
      {"runcon system_u:system_r:unconfined_t:s0 rm D", {"runcon"}, {"rm", "D"}},
      {"runcon -t unconfined_t -u u rm D", {"runcon"}, {"rm", "D"}},
      {"nice chroot / timeout 5 rm D", {"nice", "chroot", "timeout"}, {"rm", "D"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.line);
    const SimpleCommand p = part(r.line);
    CHECK(p.opaque == V{});
    CHECK(p.wrappers == r.wrappers);
    CHECK(p.program == r.args[0]);
    CHECK(p.args == r.args);
  }
  // Lookups and wrappers alone are the program themselves.
  // Reserved words in front of a command are not the program.
  CHECK(part("! rm D").args == V{"rm", "D"});
  CHECK(part("if true; then rm D; fi", 1).args == V{"rm", "D"});
  CHECK(part("while x; do rm D; done", 1).args == V{"rm", "D"});
  CHECK(part("{ rm D; }").args == V{"rm", "D"});
  CHECK(part("busybox").program == "busybox");
  CHECK(part("busybox busybox rm D").wrappers == V{"busybox", "busybox"});
  std::string chain;
  for (int i = 0; i < 40; ++i) chain += "runuser -u a -- ";
  CHECK(opaque(chain + "rm D") == "nesting too deep");
  CHECK(part("command -v rm").program == "command");
  CHECK(part("command -v rm").wrappers.empty());
  CHECK(part("ionice -p 123").program == "ionice");
  CHECK(part("env").program == "env");
  CHECK(part("sudo -l").program == "sudo");
  CHECK(part("taskset -p 0x3 123").program == "taskset");
  CHECK(part("chrt -p 123").program == "chrt");
  CHECK(part("chrt -m").program == "chrt");
  CHECK(part("setpriv -d").program == "setpriv");
  CHECK(part("flock 9").program == "flock");
  CHECK(part("flock /tmp/l").args == V{"flock", "/tmp/l"});
  // Without a command these start an interactive shell.
  for (const char* line : {"chroot /srv/jail", "nsenter -t 1 -a", "unshare -r", "script", "script -q /dev/null"}) {
    CAPTURE(line);
    CHECK(part(line).interpreter);
  }
  CHECK(opaque("flock --bogus F rm") == "flock: unknown option --bogus");
  CHECK(opaque("chroot -x / rm") == "chroot: unknown option -x");
  CHECK(opaque("taskset -z 1 rm") == "taskset: unknown option -z");
  CHECK(opaque("nsenter -Q rm") == "nsenter: unknown option -Q");
  CHECK(opaque("unshare --nope rm") == "unshare: unknown option --nope");
  CHECK(opaque("watch -Z rm") == "watch: unknown option -Z");
  CHECK(opaque("script -Z") == "script: unknown option -Z");
  CHECK(opaque("runcon -Z x rm") == "runcon: unknown option -Z");
  CHECK(opaque("setpriv --bogus rm") == "setpriv: unknown option --bogus");
}

TEST_CASE("watch, flock -c and script -c run a string as shell code", "[shell_parse]") {
  struct Row {
    const char* line;
    const char* program;
    const char* via;
    V args;
  };
  for (const Row& r : {Row{"watch rm -rf D", "watch", "watch", {"rm", "-rf", "D"}},
                       Row{"watch -n 1 'rm -rf D'", "watch", "watch", {"rm", "-rf", "D"}},
                       Row{"flock /tmp/l -c 'rm -rf D'", "flock", "flock -c", {"rm", "-rf", "D"}},
                       Row{"flock -n /tmp/l --command 'rm -rf D'", "flock", "flock -c", {"rm", "-rf", "D"}},
                       Row{"script -q -c 'rm -rf D' /dev/null", "script", "script -c", {"rm", "-rf", "D"}},
                       Row{"script /dev/null --command='rm -rf D'", "script", "script -c", {"rm", "-rf", "D"}},
                       Row{"script -qc 'rm -rf D'", "script", "script -c", {"rm", "-rf", "D"}}}) {
    CAPTURE(r.line);
    const ShellParse p = parse_command(r.line);
    REQUIRE(p.parts.size() == 2);
    CHECK(p.parts[0].opaque == V{});
    CHECK(p.parts[0].program == r.program);
    CHECK(p.parts[1].program == "rm");
    CHECK(p.parts[1].args == r.args);
    CHECK(p.parts[1].via == r.via);
  }
  // watch joins its words: `watch 'ls;' rm D` runs `ls; rm D`.
  const ShellParse joined = parse_command("watch 'ls;' rm D");
  REQUIRE(joined.parts.size() == 3);
  CHECK(joined.parts[2].args == V{"rm", "D"});
  CHECK(opaque("watch rm $x") == "watch with dynamic arguments");
  CHECK(opaque("flock F -c \"$x\"") == "flock -c with a dynamic string");
  CHECK(opaque("script -c \"$x\"") == "script -c with a dynamic string");
  CHECK(parse_command("flock F -c a b").parts.size() == 1);  // flock refuses more than one string
}

TEST_CASE("chroot --userspec and setpriv --reuid run as another user", "[shell_parse]") {
  CHECK(part("chroot --userspec=bob:bob / rm D").sudo_user == "bob");
  CHECK(part("setpriv --reuid=bob --regid=bob --init-groups rm D").sudo_user == "bob");
  CHECK(part("setpriv --reuid bob rm D").sudo);
  CHECK_FALSE(part("setpriv --nnp rm D").sudo);
}

TEST_CASE("$'..' is decoded in argument position", "[shell_parse]") {
  CHECK(part("rm $'\\x2drf' D").args == V{"rm", "-rf", "D"});
  CHECK(part("echo $'a\\tb\\n'").args == V{"echo", "a\tb\n"});
  CHECK(part("echo $'\\101\\x42\\u00e9\\U0001F600'").args == V{"echo", "AB\xc3\xa9\xf0\x9f\x98\x80"});
  CHECK(part("echo $'\\e\\E\\a\\b\\f\\v\\r'").args == V{"echo", "\x1b\x1b\a\b\f\v\r"});
  CHECK(part("echo $'it\\'s' $'\\\\' $'\\\"' $'\\?'").args == V{"echo", "it's", "\\", "\"", "?"});
  CHECK(part("echo $'\\cA\\ca' $'\\q' $'\\xZ'").args == V{"echo", "\x01\x01", "\\q", "\\xZ"});
  CHECK(part("echo x$'a\\0b'y").args == V{"echo", "xay"});  // a NUL ends the $'..' string
  CHECK(part("echo \"$'a'\"").args == V{"echo", "$'a'"});   // inside double quotes it is plain text
  CHECK(parse_command("echo $'abc").error == "unterminated single quote");
  // Decoded code runs through eval / bash -c like any static string.
  const ShellParse p = parse_command("bash -c $'rm\\x20-rf D'");
  REQUIRE(p.parts.size() == 2);
  CHECK(p.parts[1].args == V{"rm", "-rf", "D"});
}

TEST_CASE("sudo, doas, su and runuser say whom the part runs as", "[shell_parse]") {
  CHECK(part("sudo rm D").sudo);
  CHECK(part("sudo rm D").sudo_user == "root");
  CHECK(part("sudo -u bob rm D").sudo_user == "bob");
  CHECK(part("sudo --user=bob rm D").sudo_user == "bob");
  CHECK(part("doas -u bob rm D").sudo_user == "bob");
  CHECK(part("runuser -u bob -- rm D").sudo_user == "bob");
  CHECK_FALSE(part("rm D").sudo);
  const SimpleCommand shell = part("sudo -i");
  CHECK(shell.program == "sudo");
  CHECK(shell.interpreter);
  const SimpleCommand edit = part("sudo -e /etc/hosts");
  CHECK(edit.program == "sudoedit");
  CHECK(edit.args == V{"sudoedit", "/etc/hosts"});
  const ShellParse su = parse_command("su -c 'rm D' bob");
  REQUIRE(su.parts.size() == 2);
  CHECK(su.parts[0].sudo_user == "bob");
  CHECK(su.parts[1].program == "rm");
  CHECK(su.parts[1].via == "su -c");
  CHECK(part("su - bob").interpreter);
}

TEST_CASE("bash -c, sh -c, eval and find -exec are parsed recursively", "[shell_parse]") {
  struct Row {
    const char* line;
    const char* via;
  };
  for (const Row r : {Row{"bash -c 'rm -rf D'", "bash -c"}, Row{"sh -c \"rm -rf D\"", "sh -c"},
                      Row{"bash -lc 'rm -rf D'", "bash -c"}, Row{"dash -e -c 'rm -rf D' name", "dash -c"},
                      Row{"eval 'rm -rf D'", "eval"}, Row{"eval rm -rf D", "eval"},
                      Row{"busybox sh -c 'rm -rf D'", "sh -c"}, Row{"sudo bash -c 'rm -rf D'", "bash -c"}}) {
    CAPTURE(r.line);
    const ShellParse p = parse_command(r.line);
    REQUIRE(p.parts.size() == 2);
    CHECK(p.parts[0].opaque == V{});
    CHECK(p.parts[1].program == "rm");
    CHECK(p.parts[1].args == V{"rm", "-rf", "D"});
    CHECK(p.parts[1].via == r.via);
    CHECK(p.parts[1].depth == 1);
  }
  const ShellParse two = parse_command("ls; sh -c 'id; rm D'");
  REQUIRE(two.parts.size() == 4);
  CHECK(two.parts[2].program == "id");
  CHECK(two.parts[3].program == "rm");
  const ShellParse nested = parse_command("bash -c \"sh -c 'rm D'\"");
  REQUIRE(nested.parts.size() == 3);
  CHECK(nested.parts[2].program == "rm");
  CHECK(nested.parts[2].depth == 2);
  const ShellParse find = parse_command("find D -exec rm -rf {} +");
  REQUIRE(find.parts.size() == 2);
  CHECK(find.parts[0].program == "find");
  CHECK(find.parts[1].args == V{"rm", "-rf", "{}"});
  CHECK(find.parts[1].via == "find -exec");
  CHECK(part("find D -delete").args == V{"find", "D", "-delete"});
  CHECK(opaque("find . -exec {} \\;") == "find -exec runs a found file");
}

TEST_CASE("xargs runs its command with arguments from stdin", "[shell_parse]") {
  const SimpleCommand p = part("echo D | xargs rm -rf", 1);
  CHECK(p.program == "rm");
  CHECK(p.wrappers == V{"xargs"});
  CHECK(p.via == "xargs");
  CHECK(p.dynamic_args);
  CHECK(part("xargs -0 -n1 -P 4 -I{} rm {}").program == "rm");
  CHECK(part("xargs -i{} --null rm {}").program == "rm");
  CHECK(part("xargs").args == V{"echo"});
  CHECK(opaque("xargs -Z rm") == "xargs: unknown option -Z");
}

TEST_CASE("xargs -I may rewrite the words that choose the program", "[shell_parse]") {
  // `echo rm | xargs -I uptime nice uptime -rf D` runs `nice rm -rf D`.
  const std::string why = "xargs -I rewrites the words that choose the program";
  CHECK(opaque("echo rm | xargs -I uptime nice uptime -rf D") == why);
  CHECK(opaque("xargs -Iuptime env uptime") == why);
  CHECK(opaque("xargs --replace=uptime timeout 9 uptime") == why);
  CHECK(opaque("xargs -i nice {} -rf D") == why);           // -i alone is {}
  CHECK(opaque("xargs -I a -I ls nice ls") == why);         // every -I counts
  CHECK(opaque("xargs -I X env A=X ls") == why);            // a wrapper's words
  CHECK(opaque("xargs -I X time -oX ls") == why);
  CHECK(part("xargs -I{} ls -l {}").program == "ls");       // in the arguments only
}

TEST_CASE("${x:=v} and locale assignments change later lines", "[shell_parse]") {
  // bash -i runs PROMPT_COMMAND before its next prompt.
  CHECK(part("echo ${PROMPT_COMMAND:='rm -rf D'}").changes_shell);
  CHECK(part("echo \"${PS0=x}\"").changes_shell);
  CHECK(part("echo ${x:=1}").changes_shell);
  CHECK_FALSE(part("echo ${x:-1} ${x-1} ${x:+1}").changes_shell);
  // In GBK "\x81\\" is one character: the next line reads differently.
  CHECK(part("LC_ALL=zh_CN.GBK").changes_shell);
  CHECK(part("env LANG=zh_CN.GBK ls").changes_shell);
  CHECK(part("PS2='$(rm -rf D)'").changes_shell);
  CHECK(part("histchars=%").changes_shell);  // then `ls %:1:r:e` is a history expansion
}

TEST_CASE("shells and interpreters reading code the parser cannot see", "[shell_parse]") {
  const SimpleCommand piped = part("echo 'rm -rf D' | sh", 1);
  CHECK(piped.program == "sh");
  CHECK(piped.interpreter);
  CHECK(piped.reads_script);
  CHECK(piped.pipe_into_shell);
  CHECK(part("cat x | python3", 1).pipe_into_shell);
  CHECK(part("cat x | bash -s", 1).pipe_into_shell);
  const SimpleCommand redirected = part("sh < script");
  CHECK(redirected.reads_script);
  CHECK_FALSE(redirected.pipe_into_shell);
  const SimpleCommand file = part("bash script.sh");
  CHECK(file.interpreter);
  CHECK_FALSE(file.reads_script);
  for (const char* line : {"python3 -c 'import shutil'", "perl -e 'system 1'", "ruby -e x", "node -e x",
                           "awk 'BEGIN{system(\"rm D\")}'", "source ./x", ". ./x", "php -r x", "lua5.4 -e x"}) {
    CAPTURE(line);
    CHECK(part(line).interpreter);
    CHECK_FALSE(part(line).reads_script);
  }
  CHECK_FALSE(part("ls | grep x", 1).interpreter);
}

TEST_CASE("lines that change what later lines run", "[shell_parse]") {
  for (const char* line : {"alias ls=rm", "f() { rm D; }", "PATH=/tmp ls", "export PATH=/tmp", "LD_PRELOAD=x ls",
                           "trap 'rm D' EXIT", "set -o vi", "shopt -s extglob", "export -f f", "env PATH=/tmp ls"}) {
    CAPTURE(line);
    CHECK(part(line).changes_shell);
  }
  CHECK_FALSE(part("ls -l").changes_shell);
  CHECK_FALSE(part("export A=1").changes_shell);
}

TEST_CASE("redirect targets that write files", "[shell_parse]") {
  CHECK(part("echo x > /etc/passwd 2>&1").writes == V{"/etc/passwd"});
  CHECK(part("ls >> log 2> err").writes == V{"log", "err"});
  CHECK(part("ls &> all", 1).writes == V{"all"});  // read as `ls &` then `> all`, as parse_shell does
  CHECK(part("ls >| f 1<>g").writes == V{"f", "g"});
  CHECK(part("cat < in >&2").writes == V{});
}

namespace {
// program@depth of every part, and the parse error.
std::string shape(const std::string& line) {
  const ShellParse p = parse_command(line);
  std::string out;
  for (const auto& part : p.parts) {
    out += part.argv.empty() ? "-" : part.argv.front();
    out += "@" + std::to_string(part.depth) + " ";
  }
  return out + "|" + p.error;
}
}  // namespace

TEST_CASE("here-document bodies are data, not commands", "[shell_parse][heredoc]") {
  // Quoted delimiter ('EOF', "EOF", E\OF): the body is literal.
  CHECK(shape("cat <<'EOF'\nhello; rm -rf D\n$(rm -rf D)\nEOF\n") == "cat@0 |");
  CHECK(shape("cat <<\"EOF\"\n`rm -rf D`\nEOF\nls") == "cat@0 ls@0 |");
  CHECK(shape("cat <<E\\OF\n$(rm -rf D)\nEOF\n") == "cat@0 |");
  CHECK(part("cat <<'EOF'\nhello\nEOF\n").redirects == V{"<<", "EOF"});
  // Unquoted: text is data, substitutions run as parts of their own.
  CHECK(shape("cat <<EOF\nhello world;rm -rf D\nEOF\n") == "cat@0 |");
  CHECK(shape("cat <<EOF\nx $(rm -rf D) y\nEOF\n") == "cat@0 rm@1 |");
  CHECK(shape("cat <<EOF\n`rm -rf D`\nEOF\n") == "cat@0 rm@1 |");
  CHECK(shape("cat <<EOF\n\\$(rm -rf D) \\`rm\\`\nEOF\n") == "cat@0 |");  // escaped: text
  CHECK(shape("cat <<EOF\n${x:-$(rm -rf D)}\nEOF\n") == "cat@0 rm@1 |");
  const SimpleCommand rm = part("cat <<EOF\n$(rm -rf D)\nEOF\n", 1);
  CHECK(rm.program == "rm");
  CHECK(rm.args == V{"rm", "-rf", "D"});
  // $x, ${..}, $((..)), quotes and globs in a body make nothing opaque.
  const SimpleCommand cat = part("cat <<EOF\n$HOME ${x} $((1+2)) $IFS \"it's\" * {a,b}\nEOF\n");
  CHECK(cat.program == "cat");
  CHECK(cat.opaque == V{});
  CHECK_FALSE(cat.changes_shell);
  CHECK_FALSE(cat.dynamic_args);
  // What runs code or changes the shell while the body expands still counts.
  CHECK(part("cat <<EOF\n${PROMPT_COMMAND:=rm -rf D}\nEOF\n").changes_shell);
  CHECK(part("cat <<EOF | grep x\n${x=1}\nEOF\n").changes_shell);
  CHECK_FALSE(part("cat <<EOF | grep x\n${x=1}\nEOF\n", 1).changes_shell);
  CHECK(opaque("cat <<EOF\n$((a[i]))\nEOF\n") == "arithmetic on a variable or substitution");
  CHECK(opaque("cat <<'EOF'\n$((a[i])) ${x:=1}\nEOF\n") == "");
  // <<- strips leading tabs only: a delimiter indented with spaces is body.
  CHECK(shape("cat <<-EOF\n\thello\n\t\tEOF\nls\n") == "cat@0 ls@0 |");
  CHECK(part("cat <<-EOF\n\tx\n\tEOF\n").redirects == V{"<<-", "EOF"});
  CHECK(shape("cat <<-EOF\nhello\n  EOF\nrm -rf D\n") == "cat@0 |unterminated here-document");
  CHECK(shape("cat <<EOF\nhello\n\tEOF\nrm -rf D\n") == "cat@0 |unterminated here-document");
  // Two on one line: bodies in order, then the next command.
  CHECK(shape("cat <<A - <<'B'; echo x\n$(rm a)\nA\n$(rm b)\nB\nls\n") == "cat@0 echo@0 rm@1 ls@0 |");
  CHECK(part("cat <<A - <<'B'; echo x\n1\nA\n2\nB\n").redirects == V{"<<", "A", "<<", "B"});
  // Inside a substitution, and a here-string is unchanged.
  CHECK(shape("echo $(cat <<EOF\nrm -rf D\nEOF\n); ls") == "cat@1 echo@0 ls@0 |");
  CHECK(shape("cat <<< 'a;b'; rm D") == "cat@0 rm@0 |");
  // Unterminated or malformed: a parse error (fails closed).
  CHECK(shape("cat <<EOF\nhello\n") == "cat@0 |unterminated here-document");
  CHECK(shape("cat <<EOF") == "cat@0 |unterminated here-document");
  CHECK(shape("cat <<\nEOF\n") == "cat@0 |here-document without a delimiter");
  CHECK(shape("cat <<EOF\n$(rm\nEOF\n") == "cat@0 rm@1 |unterminated parenthesis");
  // bash joins backslash-newline before comparing an unquoted body's lines
  // with the delimiter, dash does not: which lines are commands is unclear.
  CHECK(shape("cat <<EOF\nE\\\nOF\nrm -rf D\nEOF\n") == "cat@0 |here-document delimiter split by a backslash-newline");
  CHECK(shape("cat <<EOF\nx\\\\\nEOF\nls\n") == "cat@0 ls@0 |");
  CHECK(shape("cat <<'EOF'\nE\\\nOF\nEOF\n") == "cat@0 |");
  // bash decodes $'..' in a delimiter, dash does not.
  CHECK(shape("cat <<$'\\x41'\nA\nrm -rf D\n") == "cat@0 |here-document delimiter with $'..', $\"..\", $( ) or backquotes");
  CHECK(shape("cat <<$(x)\nrm -rf D\n$(x)\n").find("|here-document delimiter with") != std::string::npos);
  // In (( )) << is a shift, as elsewhere in arithmetic.
  CHECK(shape("(( x << 2 )); echo $(( 1 << 2 ))\nls") == "x@2 echo@0 ls@0 |");
  CHECK(shape("cat <<$HOME\n$(rm -rf D)\n$HOME\n") == "cat@0 rm@1 |");  // $x is literal there
}

TEST_CASE("shell_text_complete: false exactly where a shell prints PS2", "[shell_parse][complete]") {
  struct Row {
    const char* text;
    bool complete;
  };
  const Row rows[] = {
      // Complete.
      {"", true},
      {"ls -la", true},
      {"ls -la\n", true},
      {"echo 'a b' \"c\" $'d\\'e'", true},
      {"echo a\\\nb\n", true},
      {"a && b || c | d |& e; f &", true},
      {"if true; then echo y; elif false; then :; else echo n; fi", true},
      {"for i in 1 2; do echo $i; done", true},
      {"while read x\ndo\n  echo $x\ndone < f", true},
      {"until false; do break; done", true},
      {"for ((i = 0; i << 2; i++)); do echo $i; done", true},
      {"for ((i = 0; i < 2; i++)); do", false},
      {"case $x in a|b) echo ab;; (c) echo c;& *) :;;& esac", true},
      {"echo $(case x in x) echo y;; esac)", true},
      {"f() { echo hi; }", true},
      {"function f { echo hi; }", true},
      {"(cd /tmp && ls) > out 2>&1", true},
      {"cat <<EOF\nline $x\nEOF\n", true},
      {"cat <<'E O'\nbody\nE O", true},
      {"cat <<-EOF\n\tbody\n\t\tEOF\n", true},
      {"cat <<A <<B\na\nA\nb\nB\n", true},
      {"cat <<< 'here string'", true},
      {"echo $(( (1+2) << 3 )); (( x << 2 ))", true},
      {"echo ${x:-${y:-z}} `date` $(echo `id`)", true},
      {"echo if then fi done esac }", true},
      {"echo a # it's a comment with a quote", true},
      {"echo \"a\\\"b\" 'c\"'", true},
      // Waiting for more (PS2).
      {"echo 'abc", false},
      {"echo \"abc", false},
      {"echo $'abc\\'", false},
      {"echo a \\", false},
      {"echo a \\\n", false},
      {"ls |", false},
      {"ls |\n", false},
      {"ls &&", false},
      {"ls ||\n  ", false},
      {"ls |&", false},
      {"(cd /tmp", false},
      {"{ echo a;", false},
      {"echo $(date", false},
      {"echo `date", false},
      {"echo ${x", false},
      {"echo $((1 + (2)", false},
      {"if true; then", false},
      {"if true; then echo y; else", false},
      {"for i in 1 2; do echo $i;", false},
      {"for i in 1 2", false},
      {"while true", false},
      {"until false; do :\n", false},
      {"case $x in", false},
      {"case $x in a) echo a;;", false},
      {"f() {", false},
      {"f()", false},
      {"f ()\n", false},
      {"f() ( echo )", true},
      {"f()\n{ echo; }", true},
      {"cat <<E fi", false},  // after a redirection `fi` is a plain word; the here-doc is pending
      {"cat <<EOF", false},
      {"cat <<EOF\nbody\n", false},
      {"cat <<EOF\nbody\n EOF\n", false},
      {"cat <<-EOF\nbody\n  EOF\n", false},
      {"cat <<EOF; echo 'x\ny'\nEOF\n", true},
      {"echo \"$(echo 'a)\" b", false},
      // Hard errors are "complete": the caller submits, parse_error shows.
      {"fi", true},
      {"done; echo 'open", true},
      {"echo a )", true},
      {"; ls", true},
      {"ls ;; ls", true},
      {"ls | | wc", true},
      {"then echo", true},
      {"esac", true},
      {"}", true},
      {"echo >", true},
      {"cat <<", true},
      {"echo $(if true)", true},
      {"echo $(ls |)", true},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    CHECK(bastion::shell_text_complete(row.text) == row.complete);
  }
}

TEST_CASE("shell_text_complete: hostile input stays bounded", "[shell_parse][complete]") {
  std::string subshells;
  for (int k = 0; k < 200; ++k) subshells += "( ";
  CHECK(bastion::shell_text_complete(subshells) == true);  // too deep: an error
  std::string nested;
  for (int k = 0; k < 200; ++k) nested += "$((";
  CHECK(bastion::shell_text_complete(nested) == true);
  CHECK(bastion::shell_text_complete(std::string(bastion::kShellMaxInput + 1, '\'')) == true);
  CHECK(bastion::shell_text_complete(std::string(10, '\'')) == true);
  CHECK(bastion::shell_text_complete(std::string(11, '\'')) == false);
}

TEST_CASE("shell_audit_details lists every opaque reason of every part", "[shell_parse]") {
  CHECK(bastion::shell_audit_details(parse_command("ls -l; echo $'x'")) == "");
  CHECK(bastion::shell_audit_details(parse_command("ls; $X${IFS}y; eval \"$z\"")) ==
        R"({"opaque":[{"argv":["$X${IFS}y"],"part":2,"reasons":["$IFS changes word splitting",)"
        R"("parameter expansion in command position"]},{"argv":["eval","$z"],"part":3,"reasons":["eval with dynamic arguments"]}]})");
  CHECK(bastion::shell_audit_details(parse_command("echo 'x")) == R"({"parse_error":"unterminated single quote"})");
}
