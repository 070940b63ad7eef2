// Generated kubectl argv against an oracle read from kubectl's own --help
// output (kubectl_help.txt, written by scripts/gen_kubectl_flags.py beside
// the flag table): the parser never accepts a flag the oracle does not know
// for that command, never disagrees on which word is a flag's value (arity:
// boolean, optional, value), and flag-name normalisation is idempotent.
#include <cstdint>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "targets/kubectl/kubectl_args.h"
#include "targets/kubectl/kubectl_flags.h"

namespace {

struct OracleFlag {
  char shorthand = 0;
  char arity = 'v';  // 'b' boolean, 'o' optional, 'v' value
};
struct OracleCommand {
  std::vector<std::string> path;
  std::map<std::string, OracleFlag> flags;  // own + global + help
};

struct Oracle {
  std::vector<OracleCommand> commands;
  Oracle() {
    std::ifstream in(KUBECTL_HELP_TXT);
    std::map<std::string, OracleFlag> globals;
    std::map<std::string, OracleFlag>* cur = nullptr;
    std::string line;
    const std::regex opt(R"(^(?:-(\S), )?--([A-Za-z0-9][A-Za-z0-9_.-]*)=(.*):$)");
    while (std::getline(in, line)) {
      std::smatch m;
      if (line.starts_with("command ")) {
        const std::string p = line.substr(8, line.find('|') - 8);
        if (p == "<global>") {
          cur = &globals;
          continue;
        }
        OracleCommand c;
        for (std::size_t s = 0; s < p.size();) {
          const auto sp = p.find(' ', s);
          c.path.push_back(p.substr(s, sp == std::string::npos ? std::string::npos : sp - s));
          s = sp == std::string::npos ? p.size() : sp + 1;
        }
        commands.push_back(std::move(c));
        cur = &commands.back().flags;
      } else if (line.starts_with("optional ") && cur) {
        (*cur)[line.substr(9)].arity = 'o';
      } else if (cur && std::regex_match(line, m, opt)) {
        OracleFlag f;
        f.shorthand = m[1].matched ? m[1].str()[0] : 0;
        f.arity = (m[3] == "true" || m[3] == "false") ? 'b' : 'v';
        (*cur)[m[2]] = f;
      }
    }
    if (commands.empty() || globals.empty()) __builtin_trap();  // the oracle file must be there
    for (auto& c : commands) {
      for (const auto& [n, f] : globals) c.flags.emplace(n, f);
      c.flags.emplace("help", OracleFlag{'h', 'b'});
    }
  }
};

struct In {
  const uint8_t* d;
  size_t n;
  uint8_t byte() { return n ? (--n, *d++) : 0; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Oracle oracle;
  In in{data, size};
  const OracleCommand& cmd = oracle.commands[in.byte() % oracle.commands.size()];
  std::vector<std::string> names;
  for (const auto& [n, f] : cmd.flags) names.push_back(n);

  std::vector<std::string> argv = cmd.path;
  // The oracle's reading: pflag's rules on the oracle's flags.
  std::vector<std::pair<std::string, std::string>> expect;
  bool unknown = false;
  int words = 0;
  auto word = [&]() { return "v" + std::to_string(words++); };  // never a command name
  auto no_opt = [](const OracleFlag& f) { return f.arity == 'b' ? std::string("true") : std::string(); };
  const int count = in.byte() % 12;
  for (int t = 0; t < count; ++t) {
    const uint8_t kind = in.byte() % 6;
    if (kind == 0) {  // a positional
      argv.push_back(word());
      continue;
    }
    if (kind == 5) {  // an unknown long flag, maybe
      std::string n = "zz";
      for (int i = in.byte() % 4; i > 0; --i) n += static_cast<char>('a' + in.byte() % 26);
      argv.push_back("--" + n);
      if (!cmd.flags.count(bastion::normalize_kubectl_flag(n))) unknown = true;
      break;  // after an unknown flag the oracle stops reading
    }
    const std::string& name = names[in.byte() % names.size()];
    const OracleFlag& f = cmd.flags.at(name);
    std::string spelled = name;  // kubectl accepts '_' for '-'
    for (auto& ch : spelled)
      if (ch == '-' && (in.byte() & 1)) ch = '_';
    if (bastion::normalize_kubectl_flag(bastion::normalize_kubectl_flag(spelled)) != name) __builtin_trap();
    if (kind == 1) {  // --name=value
      const std::string v = word();
      argv.push_back("--" + spelled + "=" + v);
      expect.emplace_back(name, v);
    } else if (kind == 2) {  // --name [value]
      argv.push_back("--" + spelled);
      if (f.arity == 'v') {
        const std::string v = word();
        argv.push_back(v);
        expect.emplace_back(name, v);
      } else {
        expect.emplace_back(name, no_opt(f));
      }
    } else if (f.shorthand) {  // -x, -xVALUE, -x VALUE, or -x after booleans
      std::string s = "-";
      for (int i = in.byte() % 3; i > 0; --i) {  // leading combined booleans
        const std::string& bn = names[in.byte() % names.size()];
        const OracleFlag& b = cmd.flags.at(bn);
        if (b.shorthand && b.arity != 'v') {
          s += b.shorthand;
          expect.emplace_back(bn, no_opt(b));
        }
      }
      s += f.shorthand;
      if (f.arity != 'v') {
        expect.emplace_back(name, no_opt(f));
        argv.push_back(s);
      } else if (kind == 3) {
        const std::string v = word();
        argv.push_back(s + v);
        expect.emplace_back(name, v);
      } else {
        argv.push_back(s);
        const std::string v = word();
        argv.push_back(v);
        expect.emplace_back(name, v);
      }
    }
  }

  const bastion::KubectlInvocation k = bastion::parse_kubectl(argv, "default");
  std::string path;
  for (const auto& w : cmd.path) path += (path.empty() ? "" : " ") + w;
  if (k.verb != path) __builtin_trap();  // the same command as cobra finds
  if (unknown) {
    if (k.refusal.empty()) __builtin_trap();  // an unknown flag is never accepted
    return 0;
  }
  if (k.flag_list != expect) __builtin_trap();  // same flags, same values: same arity
  for (const auto& [n, v] : k.flag_list)
    if (!cmd.flags.count(n)) __builtin_trap();
  return 0;
}
