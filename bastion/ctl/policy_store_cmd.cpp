// bastionctl policy push | list | show | rollback: the shared policy store
// (policy/policy_store.h) in the configuration's audit store. Writes need
// the store's credentials (the SQLite file, or store_password_file): the
// bastion's service user or root. Every write is chained, with this Unix
// user as the writer and as pushed_by / changed_by, and signed with the
// admin's policy key (--key): instances run only what a key their
// configuration names in policy_signers signed (audit/policy_signature.h).
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "audit/audit_signer.h"
#include "audit/audit_store_open.h"
#include "audit/pg_connect.h"
#include "common/display_escape.h"
#include "common/parse_number.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "ctl/policy_ctl.h"
#include "policy/lua_policy.h"
#include "policy/policy_cases.h"
#include "policy/policy_store.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

constexpr int kExitFailed = 1, kExitUsage = 2;

int usage() {
  std::fprintf(stderr,
               "usage: bastionctl policy keygen FILE\n"
               "       bastionctl policy push NAME FILE --key KEY [--note TEXT] (--config FILE | --db STORE)\n"
               "       bastionctl policy list [NAME] [--history] (--config FILE | --db STORE)\n"
               "       bastionctl policy show NAME [VERSION] [--module MODULE] (--config FILE | --db STORE)\n"
               "       bastionctl policy rollback NAME VERSION --key KEY (--config FILE | --db STORE)\n");
  return kExitUsage;
}

// One line, like every bastionctl error (a Lua error keeps its lines).
int failed(const std::string& what) {
  std::fprintf(stderr, "bastionctl: policy %s\n", display_escape_multiline(what).c_str());
  return kExitFailed;
}

struct StoreArgs {
  std::string config, db, note, module, key;
  bool history = false;
  std::vector<std::string> words;  // after the subcommand
};

std::optional<StoreArgs> parse(const std::string& sub, const std::vector<std::string>& a) {
  StoreArgs s;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string& o = a[i];
    if (o == "--history") {
      s.history = true;
      continue;
    }
    if (o == "--config" || o == "--db" || o == "--note" || o == "--module" || o == "--key") {
      if (i + 1 >= a.size()) return std::fprintf(stderr, "bastionctl: policy %s: %s needs a value\n", sub.c_str(), o.c_str()), std::nullopt;
      (o == "--config" ? s.config : o == "--db" ? s.db : o == "--note" ? s.note : o == "--key" ? s.key : s.module) = a[++i];
      continue;
    }
    if (o.size() > 1 && o[0] == '-')
      return std::fprintf(stderr, "bastionctl: policy %s: unknown option %s\n", sub.c_str(), display_escape(o).c_str()),
             std::nullopt;
    s.words.push_back(o);
  }
  return s;
}

// The store --config or --db names; `write`: a store may be created (push).
std::unique_ptr<SqlAuditStore> open_store(const StoreArgs& s, bool write, std::string& error) {
  std::string password_file;
  const std::string where = audit_store_path(s.config, s.db, error, &password_file);
  if (where.empty()) return nullptr;
  std::error_code ec;
  if (!write && !is_pg_dsn(where) && !std::filesystem::exists(where, ec))
    return error = where + ": no policy store (nothing was pushed to it)", nullptr;
  return open_audit_store(where, password_file, "bastionctl policy (" + unix_user() + ")", error);
}

// The admin's policy key (--key), checked before anything is written: a
// key the configuration does not trust would store versions no instance
// runs. --db names no configuration: the instances' own check is the one.
std::unique_ptr<AuditSigner> signing_key(const StoreArgs& s, const std::string& sub, std::string& error) {
  if (s.key.empty())
    return error = sub + ": --key KEY is needed: stored policies are signed (bastionctl policy keygen makes a key)",
           nullptr;
  // load_or_create would make a key where none is: a mistyped path must fail.
  if (::access(s.key.c_str(), F_OK) != 0)
    return error = sub + ": " + s.key + ": no such key (bastionctl policy keygen " + s.key + " makes one)", nullptr;
  auto key = AuditSigner::load_or_create(s.key, error);
  if (!key) return error = sub + ": " + error, nullptr;
  if (!s.config.empty()) {
    const auto cfg = load_config(s.config, error, builtin_target_kinds(), false);
    if (!cfg) return error = sub + ": " + error, nullptr;
    const auto& trusted = cfg->policy_signers;
    if (std::find(trusted.begin(), trusted.end(), key->fingerprint()) == trusted.end())
      return error = sub + ": " + s.key + " (" + key->fingerprint() + ") is not in " + s.config +
                     "'s policy_signers: instances would refuse what it signs",
             nullptr;
  }
  return key;
}

int keygen(const StoreArgs& s) {
  if (s.words.size() != 1 || !s.config.empty() || !s.db.empty() || !s.key.empty()) return usage();
  const std::string& path = s.words[0];
  if (::access(path.c_str(), F_OK) == 0) return failed("keygen: " + path + " exists (a key is never overwritten)");
  std::string err;
  const auto key = AuditSigner::load_or_create(path, err);
  if (!key) return failed("keygen: " + err);
  std::printf("policy signing key %s (public half %s)\n"
              "let instances run what it signs, in each bastion.conf:\n"
              "  policy_signers = { \"%s\" }\n",
              path.c_str(), audit_public_key_path(path).c_str(), key->fingerprint().c_str());
  return 0;
}

std::optional<int64_t> version_arg(const std::string& v) {
  const auto n = parse_unsigned(v, 1, INT64_MAX);
  return n ? std::optional<int64_t>(static_cast<int64_t>(*n)) : std::nullopt;
}

int push(const StoreArgs& s) {
  if (s.words.size() != 2) return usage();
  const std::string& name = s.words[0];
  const std::string& file = s.words[1];
  if (auto why = policy_name_problem(name)) return failed("push: " + name + ": " + *why);
  if (s.note.size() > 1000 || s.note.find_first_of("\r\n") != std::string::npos)
    return failed("push: --note is one line of at most 1000 characters");
  // What `policy check FILE` refuses is refused here: it compiles the
  // policy with its imports (snapshotted, so instances need no files) and
  // checks its hooks and mask methods.
  std::string ok, err;
  std::vector<std::string> warnings;
  const auto problems = check_policy_file(file, ok, warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "bastionctl: warning: %s\n", display_escape(w).c_str());
  if (!problems.empty()) {
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", display_escape_multiline(p).c_str());
    return failed("push: " + name + ": " + file + " was not pushed (nothing changed)");
  }
  // The policies/ convention: NAME.cases.lua beside NAME.lua holds its
  // table tests (`policy test --cases`); when there, every case must pass.
  std::string cases_note;
  if (file.ends_with(".lua")) {
    const std::string cases = file.substr(0, file.size() - 4) + ".cases.lua";
    std::error_code ec;
    if (std::filesystem::exists(cases, ec)) {
      std::ostringstream report;
      const int failures = run_policy_cases(file, cases, builtin_target_kinds(), report, err);
      if (failures != 0) {
        std::fputs(display_escape_multiline(report.str()).c_str(), stderr);
        return failed("push: " + name + ": " + (failures < 0 ? err : cases + ": " + std::to_string(failures) + " failed") +
                      "; " + file + " was not pushed (nothing changed)");
      }
      cases_note = ", " + std::filesystem::path(cases).filename().string() + " passed";
    }
  }
  const auto src = load_policy_source(file, PolicyLimits{}, err);
  if (!src) return failed("push: " + err);  // changed on disk since the check
  std::size_t bytes = src->text.size();
  for (const auto& [m, text] : src->modules) bytes += text.size();
  if (bytes > kStoredPolicyMaxBytes)
    return failed("push: " + file + ": the policy and its modules hold " + std::to_string(bytes) +
                  " bytes; the store keeps at most " + std::to_string(kStoredPolicyMaxBytes));
  const auto key = signing_key(s, "push", err);
  if (!key) return failed(err);
  auto store = open_store(s, true, err);
  if (!store) return failed("push: " + err);
  StoredPolicy p{.name = name, .version = 0, .text = src->text, .modules = src->modules, .hash = src->hash,
                 .pushed_by = "", .pushed_at = "", .note = s.note};
  int64_t version = 0;
  bool unchanged = false;
  if (!store->push_policy(p, unix_user(), *key, version, unchanged, err)) return failed("push: " + name + ": " + err);
  if (unchanged)
    std::printf("policy %s: unchanged (version %lld is active and holds the same text and modules)\n", name.c_str(),
                static_cast<long long>(version));
  else
    std::printf("policy %s: version %lld pushed and active (sha256 %s, %zu modules%s, signed by %s)\n", name.c_str(),
                static_cast<long long>(version), src->hash.substr(0, 16).c_str(), src->modules.size(),
                display_escape(cases_note).c_str(), key->fingerprint().c_str());
  return 0;
}

void print_row(const std::vector<std::string>& cells) {
  // Names are checked, but who pushed and notes are free text: escaped so a
  // value can neither add a row nor shift a column.
  std::string row;
  for (std::size_t i = 0; i < cells.size(); ++i) row += (i ? "\t" : "") + display_escape(cells[i]);
  std::printf("%s\n", row.c_str());
}

int list(const StoreArgs& s) {
  if (s.words.size() > 1 || (s.history && s.words.empty())) return usage();
  const std::string name = s.words.empty() ? "" : s.words[0];
  if (!name.empty())
    if (auto why = policy_name_problem(name)) return failed("list: " + name + ": " + *why);
  std::string err;
  auto store = open_store(s, false, err);
  if (!store) return failed("list: " + err);
  if (s.history) {
    std::vector<PolicyActivation> rows;
    if (!store->policy_activations(name, rows, err)) return failed("list: " + err);
    if (rows.empty()) return failed("list: no policy named " + name);
    std::printf("CHANGED_AT\tNAME\tVERSION\tACTION\tCHANGED_BY\n");
    for (const auto& r : rows) print_row({r.changed_at, r.name, std::to_string(r.version), r.action, r.changed_by});
    return 0;
  }
  std::vector<StoredPolicyVersion> rows;
  if (!store->policy_versions(name, rows, err)) return failed("list: " + err);
  if (rows.empty() && !name.empty()) return failed("list: no policy named " + name);
  std::printf("NAME\tVERSION\tACTIVE\tSHA256\tPUSHED_BY\tPUSHED_AT\tNOTE\n");
  for (const auto& r : rows)
    print_row({r.name, std::to_string(r.version), r.active ? "active" : "", r.hash.substr(0, 12), r.pushed_by,
               r.pushed_at, r.note});
  return 0;
}

int show(const StoreArgs& s) {
  if (s.words.empty() || s.words.size() > 2) return usage();
  const std::string& name = s.words[0];
  if (auto why = policy_name_problem(name)) return failed("show: " + name + ": " + *why);
  int64_t version = 0;
  if (s.words.size() == 2) {
    const auto v = version_arg(s.words[1]);
    if (!v) return failed("show: expected a version number, not " + s.words[1]);
    version = *v;
  }
  std::string err;
  auto store = open_store(s, false, err);
  if (!store) return failed("show: " + err);
  StoredPolicy p;
  bool found = false;
  if (!store->read_policy(name, version, p, found, err)) return failed("show: " + err);
  if (!found)
    return failed("show: " + (version ? name + " has no version " + std::to_string(version) : "no policy named " + name));
  // The text as pushed, byte for byte (`policy show NAME > file` gives it back).
  std::string text = p.text;
  if (!s.module.empty()) {
    const auto it = p.modules.find(s.module);
    if (it == p.modules.end()) return failed("show: " + stored_policy_label(name, p.version) + " imports no module " + s.module);
    text = it->second;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

int rollback(const StoreArgs& s) {
  if (s.words.size() != 2) return usage();
  const std::string& name = s.words[0];
  if (auto why = policy_name_problem(name)) return failed("rollback: " + name + ": " + *why);
  const auto version = version_arg(s.words[1]);
  if (!version) return failed("rollback: expected a version number, not " + s.words[1]);
  std::string err;
  const auto key = signing_key(s, "rollback", err);
  if (!key) return failed(err);
  auto store = open_store(s, false, err);
  if (!store) return failed("rollback: " + err);
  bool unchanged = false;
  if (!store->activate_policy(name, *version, unix_user(), *key, unchanged, err)) return failed("rollback: " + err);
  std::printf("policy %s: version %lld %s\n", name.c_str(), static_cast<long long>(*version),
              unchanged ? "is already active" : "is active again");
  return 0;
}

}  // namespace

int ctl_policy_store(const std::string& sub, const std::vector<std::string>& a) {
  const auto s = parse(sub, a);
  if (!s) return kExitUsage;
  if (sub == "push") return push(*s);
  if (sub == "list") return list(*s);
  if (sub == "show") return show(*s);
  if (sub == "rollback") return rollback(*s);
  if (sub == "keygen") return keygen(*s);
  return usage();
}

}  // namespace bastion
