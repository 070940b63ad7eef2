#include "targets/ssh/ssh_kind.h"

#include <algorithm>

#include "common/file_util.h"
#include "common/time_util.h"
#include "common/ssh_handles.h"
#include "sources/shell_line_facts.h"
#include "targets/ssh/sftp_facts.h"
#include "targets/ssh/ssh_script_executor.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/ssh/ssh_target.h"

namespace bastion {

std::set<std::string> SshKind::keys() const {
  return {"host", "port", "user", "identity", "certificate", "known_hosts", "connect_timeout",
          "ca", "ttl", "principals", "ca_passphrase_file", "recording"};
}

std::set<std::string> SshKind::credential_keys() const {
  return {"user", "identity", "certificate", "ca", "ttl", "principals", "ca_passphrase_file"};
}

std::shared_ptr<const TargetSettings> SshKind::read_settings(const TableReader& r) const {
  auto s = std::make_shared<SshSettings>();
  s->connect_timeout = static_cast<int>(r.duration("connect_timeout", 1, 300).value_or(10));
  s->host = r.need("host");
  s->port = static_cast<int>(r.integer("port", 1, 65535).value_or(22));
  s->known_hosts = r.reader().resolve(r.need("known_hosts"));
  const std::string rec = r.str("recording").value_or("on");
  if (rec != "on" && rec != "off") r.fail("recording", "expected \"on\" or \"off\"");
  s->record = rec == "on";
  return s;
}

namespace {

// `ca = FILE, ttl = "5m", principals = {...}, ca_passphrase_file = FILE`:
// the credential mints a certificate per connection. The CA is loaded here,
// once, so an unreadable or undecryptable CA fails the load (and --check).
void read_minting(const TableReader& r, SshCredential& c, bool check_files) {
  c.ca = r.path("ca");
  if (r.str("certificate")) r.fail("certificate", "a minted credential (ca) has no certificate file; remove it");
  if (auto t = r.reader().str_or_integer("ttl", r.line_of("ttl"), r.qual())) {
    const bool negative = !t->empty() && (*t)[0] == '-';
    const int64_t s = negative ? -1 : parse_duration(*t);
    if (s < kMinMintTtl || s > kMaxMintTtl)
      r.fail("ttl", (negative ? "a negative duration (a certificate that expired before it was made); "
                              : std::string()) +
                        "expected a duration from " + format_duration(kMinMintTtl) + " to " +
                        format_duration(kMaxMintTtl) + " (e.g. \"5m\"): minted certificates live for minutes");
    c.ttl = s;
  }
  c.principals = r.reader().str_list("principals", r.line_of("principals"), r.qual());
  for (const auto& p : c.principals)
    if (p.empty() || p.find_first_of(",\n\r") != std::string::npos)
      r.fail("principals", "expected principal names (no commas or line breaks)");
  if (c.principals.empty()) c.principals = {c.user};
  if (!check_files) return;
  HeldSecret ca_text, pass;
  r.read_secret("ca", c.ca, ca_text);
  const std::string pass_file = r.path("ca_passphrase_file");
  if (!pass_file.empty()) {
    r.read_secret("ca_passphrase_file", pass_file, pass);
    pass.bytes.resize(std::min(pass.bytes.find_first_of("\r\n"), pass.bytes.size()));
  }
  std::string err;
  c.ca_key = CaKey::from_text(ca_text.bytes, c.ca,
                              [&]() -> std::optional<std::string> {
                                if (pass_file.empty()) return std::nullopt;
                                return pass.bytes;
                              },
                              err);
  if (!c.ca_key) r.fail("ca", err + (pass_file.empty() && err.find("encrypted") != std::string::npos
                                         ? " (set ca_passphrase_file)" : ""));
}

}  // namespace

std::shared_ptr<const HeldCredential> SshKind::read_credential(const TableReader& r, const TargetSettings&, bool,
                                                               bool check_files) const {
  auto c = std::make_shared<SshCredential>();
  c->user = r.need("user");
  const bool has_ca = r.str("ca").has_value();
  if (has_ca && r.reader().has_any({"identity"})) r.fail("ca", "give either identity (a standing key) or ca (minted certificates), not both");
  if (has_ca) {
    read_minting(r, *c, check_files);
    return c;
  }
  for (const char* k : {"ttl", "principals", "ca_passphrase_file"})
    if (r.reader().has_any({k})) r.fail(k, "only with ca (minted certificates)");
  c->identity = r.reader().resolve(r.need("identity"));
  c->certificate = r.path("certificate");
  if (!check_files) return c;
  r.read_secret("identity", c->identity, c->identity_key);
  // A certificate is public (the target sees it), so any mode will do; it
  // is still read once, with its key.
  std::string why;
  if (!c->certificate.empty() && !read_file(c->certificate, c->certificate_text, why))
    r.fail("certificate", c->certificate + ": " + why);
  return c;
}

void SshKind::check_setting_files(const TableReader& r, const TargetSettings& s) const {
  r.check_readable("known_hosts", kind_part<SshSettings>(&s).known_hosts);
}

void SshKind::check_warnings(const TargetConfig& t, std::set<std::string>&, std::vector<std::string>& out) const {
  if (kind_part<SshSettings>(t.settings.get()).recording_off())
    out.push_back("targets." + t.name + ": recording = \"off\": its sessions are decided and audited but not recorded; "
                  "auditors cannot replay them");
}

void SshKind::check_files(const TargetConfig& t, std::vector<std::string>& problems) const {
  for (const auto& [cname, cred] : t.credentials) {
    const auto& c = kind_part<SshCredential>(cred.get());
    SshKey key;
    std::string err;
    // A minted credential's CA was loaded (or refused) with the config.
    const bool ok = c.mints() ? c.ca_key != nullptr : import_identity(c, key, err);
    if (!ok && c.mints()) err = c.ca + ": the CA key is not loaded";
    if (!ok)
      problems.push_back("targets." + t.name + (cname == "default" ? "" : ".credentials." + cname) + ": " + err);
  }
}

std::unique_ptr<TargetConnection> SshKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                   std::string& error) const {
  return SshTargetConnection::connect(t, kind_part<SshCredential>(&cred), ConnectContext{}, error);
}

std::unique_ptr<TargetConnection> SshKind::connect_for(const TargetConfig& t, const HeldCredential& cred,
                                                       const ConnectContext& ctx, std::string& error) const {
  return SshTargetConnection::connect(t, kind_part<SshCredential>(&cred), ctx, error);
}

bool SshKind::decides_lines(const ExecRequest& req) const { return decides_stdin_lines(req); }

ParsedCommand SshKind::parse_command(const std::string& kind, const std::string& text,
                                     const CommandOptions& options) const {
  if (kind == "sftp") {
    ParsedCommand p{.text = text};
    SftpOp op;
    if (!parse_sftp_op(text, options, op, p.error)) return p;
    p.text = sftp_text(op);
    // As the channel does: an unknown extended request is refused by the bastion.
    if (op.op == "extended") p.refusal = "the extended request " + op.path + " is not supported through the bastion";
    p.facts = std::make_shared<SftpFacts>(std::move(op));
    return p;
  }
  auto opt = [&](const char* k) {
    const auto it = options.find(k);
    return it == options.end() ? std::string() : it->second;
  };
  auto flag = [&](const char* k) {
    const std::string v = opt(k);
    return !v.empty() && v != "false";
  };
  ShellLine l;
  l.nested = flag("nested");
  l.hidden = flag("hidden");
  l.fullscreen = flag("fullscreen");
  l.pasted = flag("pasted");
  l.continued = flag("continued");
  l.program = opt("program");
  ParsedCommand p{.text = l.hidden ? std::string() : text};
  if (l.hidden) l.hidden_chars = text.size();
  p.facts = std::make_shared<ShellLineFacts>(std::move(l));
  return p;
}

}  // namespace bastion
