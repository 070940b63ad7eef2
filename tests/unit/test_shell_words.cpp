#include <catch2/catch.hpp>

#include "policy/shell_words.h"

using bastion::parse_shell;
using V = std::vector<std::string>;

namespace {
std::vector<V> argvs(const std::string& line) {
  std::vector<V> out;
  for (const auto& p : parse_shell(line).parts) out.push_back(p.argv);
  return out;
}
}  // namespace

TEST_CASE("words honour quotes and escapes", "[shell]") {
  CHECK(parse_shell("ls -la /tmp").words == V{"ls", "-la", "/tmp"});
  CHECK(parse_shell("echo 'a b' \"c d\" e\\ f").words == V{"echo", "a b", "c d", "e f"});
  CHECK(parse_shell("echo \"q\\\"uote\" 'it''s'").words == V{"echo", "q\"uote", "its"});
  CHECK(parse_shell("r\"m\" -\\rf /").words == V{"rm", "-rf", "/"});
  CHECK(parse_shell("echo \"$HOME\" '$HOME'").words == V{"echo", "$HOME", "$HOME"});
  CHECK(parse_shell("a\\\nb").words == V{"ab"});
  CHECK(parse_shell("").words.empty());
  CHECK(parse_shell("echo hi # rm -rf /").words == V{"echo", "hi"});
  CHECK(parse_shell("echo a#b").words == V{"echo", "a#b"});
}

TEST_CASE("compound lines split into every simple command", "[shell]") {
  CHECK(argvs("ls; rm -rf /") == std::vector<V>{{"ls"}, {"rm", "-rf", "/"}});
  CHECK(argvs("ls;rm x") == std::vector<V>{{"ls"}, {"rm", "x"}});
  CHECK(argvs("a && b || c | d & e") == std::vector<V>{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}});
  CHECK(argvs("a\nb") == std::vector<V>{{"a"}, {"b"}});
  CHECK(argvs("(cd /x && rm y)") == std::vector<V>{{"cd", "/x"}, {"rm", "y"}});
  CHECK(argvs("a |& b") == std::vector<V>{{"a"}, {"b"}});
  CHECK(parse_shell("a && b; c").words == V{"a", "&&", "b", ";", "c"});
}

TEST_CASE("substitutions are commands too", "[shell]") {
  auto p = parse_shell("echo $(rm -rf /) `shutdown now`");
  REQUIRE(p.parts.size() == 3);
  CHECK(p.parts[0].argv == V{"rm", "-rf", "/"});
  CHECK(p.parts[0].depth == 1);
  CHECK(p.parts[1].argv == V{"shutdown", "now"});
  CHECK(p.parts[2].argv == V{"echo", "$(rm -rf /)", "`shutdown now`"});
  CHECK(p.parts[2].depth == 0);
  CHECK(argvs("echo \"x $(id) y\"") == std::vector<V>{{"id"}, {"echo", "x $(id) y"}});
  CHECK(argvs("a $(b $(c))") == std::vector<V>{{"c"}, {"b", "$(c)"}, {"a", "$(b $(c))"}});
  CHECK(argvs("diff <(ls a) >(tee b)") == std::vector<V>{{"ls", "a"}, {"tee", "b"}, {"diff"}});
  CHECK(argvs("echo $((1+2))") == std::vector<V>{{"echo", "$((1+2))"}});
  CHECK(argvs("echo '$(not run)'") == std::vector<V>{{"echo", "$(not run)"}});
}

TEST_CASE("redirections are separated from argv", "[shell]") {
  auto p = parse_shell("cat a > /etc/passwd 2>/dev/null <in");
  REQUIRE(p.parts.size() == 1);
  CHECK(p.parts[0].argv == V{"cat", "a"});
  CHECK(p.parts[0].redirects == V{">", "/etc/passwd", "2", ">", "/dev/null", "<", "in"});
  CHECK(argvs("echo x >>log; rm y") == std::vector<V>{{"echo", "x"}, {"rm", "y"}});
}

TEST_CASE("malformed lines report an error", "[shell]") {
  CHECK(parse_shell("echo 'open").error == "unterminated single quote");
  CHECK(parse_shell("echo \"open").error == "unterminated double quote");
  CHECK(parse_shell("echo $(open").error == "unterminated parenthesis");
  CHECK(parse_shell("echo `open").error == "unterminated backquote");
  CHECK(parse_shell(std::string(70000, 'a')).error == "command too long to analyse");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "$(";
  CHECK(parse_shell(deep).error == "nesting too deep");
  CHECK(parse_shell("ls").error.empty());
  // Found by fuzzing: used to loop forever (and exhaust memory).
  CHECK(parse_shell("ls -la;whoami` | tee >(caami` | tee >ull\n").error == "unbalanced backquote");
}
