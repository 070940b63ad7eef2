// bastionctl ca init | cert issue: the bastion's own user CA, so certificates
// are minted for minutes or hours, and every one is recorded (who issued
// what, when, for whom) for revocation by serial.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <optional>
#include <fstream>
#include <set>

#include "audit/audit_store_open.h"
#include "auth/public_key.h"
#include "ca/ca_key.h"
#include "common/base64.h"
#include "common/display_escape.h"
#include "ca/cert_issuer.h"
#include "common/file_util.h"
#include "common/secret_file.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "config/config.h"
#include "targets/target_kind.h"
#include "ctl/commands.h"

namespace bastion {
namespace {

constexpr const char* kUsage =
    "usage: bastionctl ca init [--type ed25519|ecdsa|rsa] [--bits N] [--comment TEXT] FILE\n"
    "       bastionctl cert issue --ca CA_KEY_FILE [--passphrase-file FILE] --identity ID --principals P1,P2\n"
    "                             --ttl DURATION [--source-address CIDR,...] [--force-command CMD]\n"
    "                             [--valid-from -5m] [--config FILE | --db AUDIT_DB [--max-ttl DURATION]]\n"
    "                             PUBKEY_FILE\n";

int ca_usage() {
  std::fputs(kUsage, stderr);
  return 2;
}

// Names what was wrong before the usage (exit 2).
int bad_arg(const std::string& arg, bool missing_value) {
  std::fprintf(stderr, "bastionctl: %s %s\n", missing_value ? "missing value for" : "unknown option or argument",
               display_escape(arg).c_str());
  return ca_usage();
}

// The passphrase of an encrypted CA key: the first line of --passphrase-file,
// or typed on the terminal (not echoed); never from stdin or the environment.
std::optional<std::string> read_passphrase(const std::string& file, const std::string& key_name) {
  std::string p;
  if (!file.empty()) {
    std::string err;
    if (!read_secret_file(file, p, err)) {
      std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str());
      return std::nullopt;
    }
    p.resize(std::min(p.find('\n'), p.size()));
    if (!p.empty() && p.back() == '\r') p.pop_back();
    return p;
  }
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return std::nullopt;
  const std::string prompt = "Enter passphrase for " + display_escape(key_name) + ": ";
  termios saved{}, quiet{};
  const bool term = ::tcgetattr(tty, &saved) == 0;
  quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  if (term) ::tcsetattr(tty, TCSAFLUSH, &quiet);
  bool ok = ::write(tty, prompt.data(), prompt.size()) == static_cast<ssize_t>(prompt.size());
  char c;
  while (ok && p.size() < 1024) {
    const ssize_t n = ::read(tty, &c, 1);
    if (n != 1 || c == '\n' || c == '\r') {
      ok = n == 1;
      break;
    }
    p += c;
  }
  if (term) ::tcsetattr(tty, TCSAFLUSH, &saved);
  ok = ::write(tty, "\n", 1) == 1 && ok;
  ::close(tty);
  if (!ok) {
    explicit_bzero(p.data(), p.size());
    return std::nullopt;
  }
  return p;
}

// A duration with an optional sign ("--valid-from -5m"); nullopt if malformed.
std::optional<int64_t> signed_duration(std::string s) {
  const bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.erase(0, 1);
  const int64_t v = parse_duration(s);
  if (v < 0) return std::nullopt;
  return neg ? -v : v;
}

int ca_init(const std::vector<std::string>& a) {
  std::string type = "ed25519", comment = "bastion user CA", file;
  int bits = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--type" && i + 1 < a.size()) type = a[++i];
    else if (a[i] == "--bits" && i + 1 < a.size()) bits = std::atoi(a[++i].c_str());
    else if (a[i] == "--comment" && i + 1 < a.size()) comment = a[++i];
    else if (a[i] == "--type" || a[i] == "--bits" || a[i] == "--comment") return bad_arg(a[i], true);
    else if (!a[i].starts_with("-") && file.empty()) file = a[i];
    else return bad_arg(a[i], false);
  }
  if (file.empty()) return std::fputs("bastionctl: ca init needs a FILE to write the key to\n", stderr), ca_usage();
  std::string err;
  auto ca = CaKey::generate(type, bits, err);
  if (!ca || !ca->save(file, comment, err)) {
    std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str());
    return 1;
  }
  const std::string shown = display_escape(file);
  std::printf("CA key:        %s (mode 0600; keep it off the bastion host if you can)\n", shown.c_str());
  std::printf("CA public key: %s.pub (list it in user_ca_keys, or sshd's TrustedUserCAKeys)\n", shown.c_str());
  std::printf("fingerprint:   %s\n", sha256_fingerprint(ca->public_blob()).c_str());
  // What a target's sshd needs to trust certificates minted with this key
  // (targets' `ca = ...`), so it holds no standing key of the bastion.
  std::string pub;
  read_file(file + ".pub", pub);
  std::printf("\npublic key:\n%s", display_escape_multiline(pub).c_str());
  std::printf("\nOn each target that trusts it: copy %s.pub to /etc/ssh/bastion_ca.pub and add to sshd_config:\n"
              "  TrustedUserCAKeys /etc/ssh/bastion_ca.pub\n"
              "  AuthorizedPrincipalsFile /etc/ssh/auth_principals/%%u\n"
              "then list the principals the bastion may log in as (the target's `principals`, default its `user`)\n"
              "in /etc/ssh/auth_principals/USER, one per line, and reload sshd.\n",
              shown.c_str());
  return 0;
}

int cert_issue(const std::vector<std::string>& a) {
  std::string ca_file, pass_file, identity, principals, ttl_s, source, force, config_file, db, password_file, max_ttl_s = "24h",
      from_s = "-1m", pub_file;
  bool have_force = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto val = [&](std::string& dst) {
      if (i + 1 >= a.size()) return false;
      dst = a[++i];
      return true;
    };
    bool ok = true;
    if (a[i] == "--ca") ok = val(ca_file);
    else if (a[i] == "--passphrase-file") ok = val(pass_file);
    else if (a[i] == "--identity") ok = val(identity);
    else if (a[i] == "--principals") ok = val(principals);
    else if (a[i] == "--ttl") ok = val(ttl_s);
    else if (a[i] == "--source-address") ok = val(source);
    else if (a[i] == "--force-command") ok = val(force), have_force = true;
    else if (a[i] == "--config") ok = val(config_file);
    else if (a[i] == "--db") ok = val(db);
    else if (a[i] == "--max-ttl") ok = val(max_ttl_s);
    else if (a[i] == "--valid-from") ok = val(from_s);
    else if (!a[i].starts_with("-") && pub_file.empty()) pub_file = a[i];
    else return bad_arg(a[i], false);
    if (!ok) return bad_arg(a[i], true);
  }
  if (ca_file.empty() || identity.empty() || principals.empty() || ttl_s.empty() || pub_file.empty())
    return ca_usage();
  const int64_t ttl = parse_duration(ttl_s);
  const std::optional<int64_t> from = signed_duration(from_s);
  int64_t max_ttl = parse_duration(max_ttl_s);
  if (ttl <= 0 || max_ttl <= 0 || !from || *from > 0) {
    std::fprintf(stderr, "bastionctl: durations look like 90s, 30m, 8h or 2d (--valid-from is negative)\n");
    return 2;
  }
  std::string err;
  if (!config_file.empty()) {
    const TargetKinds kinds = builtin_target_kinds();
    auto cfg = load_config(config_file, err, kinds, false);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", display_escape_multiline(err).c_str());
      return 1;
    }
    max_ttl = cfg->cert_max_ttl;
    if (db.empty()) db = cfg->audit_store(), password_file = cfg->store_password_file;
  }
  if (ttl > max_ttl) {
    std::fprintf(stderr, "bastionctl: --ttl %s is longer than the maximum (%lld seconds)\n",
                 display_escape(ttl_s).c_str(),
                 static_cast<long long>(max_ttl));
    return 1;
  }
  auto ca = CaKey::load(ca_file, [&] { return read_passphrase(pass_file, ca_file); }, err);
  if (!ca) {
    std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str());
    return 1;
  }
  std::string line;
  if (!read_file(pub_file, line)) {
    std::fprintf(stderr, "bastionctl: %s: cannot read\n", display_escape(pub_file).c_str());
    return 1;
  }
  auto key = parse_public_key_line(line.substr(0, line.find('\n')), err);
  if (!key) {
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(pub_file).c_str(), display_escape(err).c_str());
    return 1;
  }
  CertRequest req;
  req.subject = *key;
  req.key_id = identity;
  req.principals = split_commas(principals);
  const int64_t now = unix_now();
  req.valid_after = static_cast<uint64_t>(now + *from);
  req.valid_before = static_cast<uint64_t>(now + ttl);
  if (!source.empty()) req.source_address = source;
  if (have_force) req.force_command = force;

  std::unique_ptr<SqlAuditStore> store;
  if (!db.empty()) {
    store = open_audit_store(db, password_file, "bastionctl cert issue (" + unix_user() + ")", err);
    if (!store) {
      std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str());
      return 1;
    }
  }
  std::string blob;
  for (int attempt = 0; attempt < 5; ++attempt) {
    // Random 63-bit serials: unique without coordination between admins;
    // the store's primary key catches the (improbable) repeat.
    req.serial = random_serial();
    if (req.serial == 0) return std::fprintf(stderr, "bastionctl: no randomness\n"), 1;
    blob = issue_user_certificate(req, *ca, err);
    if (blob.empty()) {
      std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str());
      return 1;
    }
    if (!store) break;
    const IssuedCert rec{.serial = req.serial,
                         .key_id = identity,
                         .principals = principals,
                         .valid_after = iso8601(static_cast<int64_t>(req.valid_after)),
                         .valid_before = iso8601(static_cast<int64_t>(req.valid_before)),
                         .issued_at = iso8601_now(),
                         .issued_by = unix_user(),
                         .ca_fingerprint = sha256_fingerprint(ca->public_blob()),
                         .key_fingerprint = sha256_fingerprint(key->blob),
                         .source_address = source,
                         .force_command = force};
    if (store->cert_issued(rec, err)) break;
    if (err.find("UNIQUE") == std::string::npos || attempt == 4) {
      std::fprintf(stderr, "bastionctl: cannot record the certificate (not issued): %s\n", display_escape(err).c_str());
      return 1;
    }
  }
  std::string out = pub_file;
  if (out.ends_with(".pub")) out.resize(out.size() - 4);
  out += "-cert.pub";
  std::ofstream f(out, std::ios::trunc);
  // The comment is the key ID, escaped: a newline in it would add a line to the file.
  f << certificate_type_for(key->type) << " " << base64_encode(blob) << " " << display_escape(identity)
    << "\n";
  if (!f.flush()) {
    std::fprintf(stderr, "bastionctl: %s: cannot write\n", display_escape(out).c_str());
    return 1;
  }
  std::printf("%s: serial %llu, identity %s, principals %s, valid %s to %s\n", display_escape(out).c_str(),
              static_cast<unsigned long long>(req.serial), display_escape(identity).c_str(),
              display_escape(principals).c_str(),
              iso8601(static_cast<int64_t>(req.valid_after)).c_str(),
              iso8601(static_cast<int64_t>(req.valid_before)).c_str());
  return 0;
}

}  // namespace

int ctl_ca(const std::vector<std::string>& a) {
  if (!a.empty() && a[0] == "init") return ca_init({a.begin() + 1, a.end()});
  return ca_usage();
}

int ctl_cert(const std::vector<std::string>& a) {
  if (!a.empty() && a[0] == "issue") return cert_issue({a.begin() + 1, a.end()});
  return ca_usage();
}

}  // namespace bastion

