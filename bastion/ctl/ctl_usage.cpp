#include "ctl/ctl_usage.h"

#include <string_view>

#include "common/display_escape.h"

namespace bastion {
namespace {

constexpr const char* kAuditOptions =
    "--config= --db= --since= --until= --identity= --target= --decision= --kind= --grep= --session= --limit= --json";
constexpr const char* kApprovalsOptions = "--config= --db= --comment= --reason= --json";

// One entry per command and subcommand. A new subcommand adds its entry here
// (and its dispatch line in bastionctl_main.cpp); `options` lists what it
// takes, or nullptr when it checks its options itself.
const std::vector<CtlUsage> kTable = {
    {"config", "check", "bastionctl config check FILE\n  load FILE as bastiond would; print FILE: OK or the problem", ""},
    {"policy", "check",
     "bastionctl policy check FILE...\n"
     "       bastionctl policy check --config FILE\n"
     "  compile policy files and report unknown or missing hooks, invalid mask methods and,\n"
     "  with --config, the configured policies and reviews nobody can approve",
     "--config="},
    {"policy", "test",
     "bastionctl policy test --config FILE --target NAME [--cert FILE-cert.pub] [--identity ID] [--principals a,b]\n"
     "              [--kind KIND] [--source-address IP] [--tty] [--session] -- COMMAND...\n"
     "       bastionctl policy test FILE [--cert FILE-cert.pub] [--identity ID] [--principals a,b] [--target NAME]\n"
     "              [--labels k=v,...] [--kind KIND] [--source-address IP] [--tty] [--session] -- COMMAND...\n"
     "       bastionctl policy test FILE --cases CASES.lua\n"
     "  --cert: the user's certificate (c.certificate.*, and the identity and principals unless given);\n"
     "  without it c.certificate's fields are zero\n"
     "  exit status: 0 allow or mask, 1 deny, 3 review, 2 usage or a broken file",
     "--config= --target= --cert= --identity= --principals= --labels= --kind= --source-address= --tty --session "
     "--cases="},
    {"policy", "keygen",
     "bastionctl policy keygen FILE\n"
     "  make an Ed25519 policy signing key (FILE, 0600, and FILE.pub) and print the policy_signers line\n"
     "  that lets instances run what it signs",
     ""},
    {"policy", "push",
     "bastionctl policy push NAME FILE --key KEY [--note TEXT] (--config FILE | --db STORE)\n"
     "  check FILE as policy check does and store it, with its modules, as the next version of NAME in the\n"
     "  shared policy store, signed by KEY and active at once (`policy = \"store:NAME\"` in bastion.conf);\n"
     "  the same text again: unchanged",
     "--config= --db= --note= --key="},
    {"policy", "list",
     "bastionctl policy list [NAME] [--history] (--config FILE | --db STORE)\n"
     "  the stored versions (the active one marked); --history: when each version of NAME became active, and who",
     "--config= --db= --history"},
    {"policy", "show", "bastionctl policy show NAME [VERSION] [--module MODULE] (--config FILE | --db STORE)\n"
     "  print a stored version's text (default: the active one), or a module it imports",
     "--config= --db= --module="},
    {"policy", "rollback", "bastionctl policy rollback NAME VERSION --key KEY (--config FILE | --db STORE)\n"
     "  make stored version VERSION of NAME the active one again (signed by KEY)",
     "--config= --db= --key="},
    {"recording", "cat",
     "bastionctl recording cat [--raw] [--config FILE] PATH\n  print what the user saw (--raw: the exact bytes sent);\n"
     "  --config: a recording shipped to the recordings_store is read from there",
     "--raw --config="},
    {"recording", "play", "bastionctl recording play [--speed X] [--idle-limit S] [--markers] [--config FILE] PATH",
     "--speed= --idle-limit= --markers --config="},
    {"recording", "verify", "bastionctl recording verify [--config FILE] PATH\n  check a recording is well formed",
     "--config="},
    {"audit", "sessions",
     "bastionctl audit sessions (--config FILE | --db FILE) [--since T] [--until T] [--identity ID] [--target T]\n"
     "              [--limit N] [--json]",
     kAuditOptions},
    {"audit", "commands",
     "bastionctl audit commands (--config FILE | --db FILE) [--since T] [--until T] [--identity ID] [--target T]\n"
     "              [--decision D] [--kind K] [--grep TEXT] [--session ID] [--limit N] [--json]",
     kAuditOptions},
    {"audit", "auth",
     "bastionctl audit auth (--config FILE | --db FILE) [--since T] [--until T] [--identity ID] [--limit N] [--json]\n"
     "  T: a duration back from now (10m, 2h, 7d) or a UTC time (2026-11-30, 2026-11-30T10:00:00Z)",
     kAuditOptions},
    {"session", "show", "bastionctl session show ID (--config FILE | --db FILE) [--json]", "--config= --db= --json"},
    {"verify", "",
     "bastionctl verify (--config FILE | --db FILE) [--key PUBFILE] [--expect-head SEQ:HASH] [SESSION_ID | --all]\n"
     "              [--json]",
     "--config= --db= --key= --expect-head= --all --json"},
    {"recordings", "prune", "bastionctl recordings prune (--config FILE | --db FILE --retention D) [--dry-run] [--json]",
     "--config= --db= --retention= --dry-run --json"},
    {"approvals", "list", "bastionctl approvals list (--config FILE | --db FILE) [--json]", kApprovalsOptions},
    {"approvals", "show", "bastionctl approvals show N (--config FILE | --db FILE)", kApprovalsOptions},
    {"approvals", "approve", "bastionctl approvals approve N (--config FILE | --db FILE) [--comment TEXT]",
     kApprovalsOptions},
    {"approvals", "deny", "bastionctl approvals deny N (--config FILE | --db FILE) --reason TEXT", kApprovalsOptions},
    {"approvals", "revoke", "bastionctl approvals revoke N (--config FILE | --db FILE)", kApprovalsOptions},
    // ca and cert (ctl/ca_cmd.cpp) check their own options.
    {"ca", "init", "bastionctl ca init [--type ed25519|ecdsa|rsa] [--bits N] [--comment TEXT] FILE", nullptr},
    {"cert", "issue",
     "bastionctl cert issue --ca CA_KEY_FILE --identity ID --principals P1,P2 --ttl DURATION\n"
     "              [--source-address CIDR,...] [--force-command CMD] [--valid-from -5m]\n"
     "              [--passphrase-file FILE] [--config FILE | --db AUDIT_DB [--max-ttl DURATION]] PUBKEY_FILE",
     nullptr},
    // status and reload (ctl/status_cmd.cpp) check their own options.
    {"status", "",
     "bastionctl status [--config FILE | --socket PATH | --pid PID] [--json]\n"
     "  ask the running bastiond (its control socket): sessions, config and policy versions, last reload",
     nullptr},
    {"reload", "",
     "bastionctl reload [--config FILE | --socket PATH | --pid PID] [--json]\n"
     "  ask the running bastiond to reload; exit 1 with the reason when it refuses the new config",
     nullptr},
    // Further subcommands: add their entries here.
};

bool has_command(std::string_view command) {
  for (const auto& u : kTable)
    if (command == u.command) return true;
  return false;
}

// "--config=" in an options list: known, and whether it takes a value.
std::optional<bool> option_takes_value(const char* options, std::string_view opt) {
  std::string_view list(options);
  while (!list.empty()) {
    const auto sp = list.find(' ');
    std::string_view o = list.substr(0, sp);
    list = sp == std::string_view::npos ? std::string_view() : list.substr(sp + 1);
    const bool valued = !o.empty() && o.back() == '=';
    if (valued) o.remove_suffix(1);
    if (o == opt) return valued;
  }
  return std::nullopt;
}

bool is_help(std::string_view w) { return w == "--help" || w == "-h"; }

void print_usage(std::FILE* out, const CtlUsage& u, bool& first) {
  std::fprintf(out, "%s%s\n", first ? "usage: " : "       ", u.usage);
  first = false;
}

}  // namespace

const std::vector<CtlUsage>& ctl_usage_table() { return kTable; }

void print_all_usage(std::FILE* out, const std::vector<ExtraUsage>& extra) {
  bool first = true;
  for (const auto& u : kTable) {
    // The usage lines only: a description ("  does ...") is for one command's --help.
    std::string_view text(u.usage);
    std::string lines;
    while (!text.empty()) {
      const auto nl = text.find('\n');
      const std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      if (line.starts_with("  ") && !line.starts_with("   ")) continue;
      lines += std::string(lines.empty() ? "" : "\n") + std::string(line);
    }
    std::fprintf(out, "%s%s\n", first ? "usage: " : "       ", lines.c_str());
    first = false;
  }
  for (const auto& e : extra) std::fprintf(out, "       %s\n", e.usage.c_str());
  std::fprintf(out, "       bastionctl COMMAND [SUBCOMMAND] --help   one command's usage (see bastionctl(1))\n");
}

std::optional<int> ctl_precheck(const std::string& command, const std::vector<std::string>& args) {
  if (!has_command(command)) return std::nullopt;
  // The subcommand: the first word that is neither an option nor one's value.
  // Options are looked up in every entry of the command until it is known.
  const CtlUsage* entry = nullptr;
  // A command without subcommands is its one entry from the start.
  for (const auto& u : kTable)
    if (command == u.command && !*u.subcommand) entry = &u;
  bool help = false;
  std::vector<std::string> unknown;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& w = args[i];
    if (w == "--") break;  // what follows is a command under test, not options
    if (is_help(w)) {
      help = true;
      continue;
    }
    if (w.size() > 1 && w[0] == '-') {
      std::optional<bool> valued;
      for (const auto& u : kTable)
        if (command == u.command && (!entry || entry == &u) && u.options && !valued)
          valued = option_takes_value(u.options, w);
      if (!valued) unknown.push_back(w);
      else if (*valued) ++i;
      continue;
    }
    if (entry) continue;
    for (const auto& u : kTable)
      if (command == u.command && w == u.subcommand) entry = &u;
  }
  if (help) {
    bool first = true;
    if (entry) print_usage(stdout, *entry, first);
    else
      for (const auto& u : kTable)
        if (command == u.command) print_usage(stdout, u, first);
    return 0;
  }
  // A command whose subcommand checks its own options, or an unknown subcommand: its own code answers.
  if (!entry || !entry->options || unknown.empty()) return std::nullopt;
  const std::string where = std::string(entry->command) + (*entry->subcommand ? " " : "") + entry->subcommand;
  // One line, as every subcommand names its errors (its usage: --help).
  std::fprintf(stderr, "bastionctl: %s: unknown option %s\n", where.c_str(), display_escape(unknown.front()).c_str());
  return 2;
}

}  // namespace bastion
