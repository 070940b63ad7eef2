#include "targets/ssh/ssh_kind.h"

#include "common/file_util.h"
#include "common/ssh_handles.h"
#include "sources/shell_line_facts.h"
#include "targets/ssh/sftp_facts.h"
#include "targets/ssh/ssh_script_executor.h"
#include "targets/ssh/ssh_settings.h"
#include "targets/ssh/ssh_target.h"

namespace bastion {

std::set<std::string> SshKind::keys() const {
  return {"host", "port", "user", "identity", "certificate", "known_hosts", "connect_timeout"};
}

std::set<std::string> SshKind::credential_keys() const { return {"user", "identity", "certificate"}; }

std::shared_ptr<const TargetSettings> SshKind::read_settings(const TableReader& r) const {
  auto s = std::make_shared<SshSettings>();
  s->connect_timeout = static_cast<int>(r.duration("connect_timeout", 1, 300).value_or(10));
  s->host = r.need("host");
  s->port = static_cast<int>(r.integer("port", 1, 65535).value_or(22));
  s->known_hosts = r.reader().resolve(r.need("known_hosts"));
  return s;
}

std::shared_ptr<const HeldCredential> SshKind::read_credential(const TableReader& r, const TargetSettings&, bool,
                                                               bool check_files) const {
  auto c = std::make_shared<SshCredential>();
  c->user = r.need("user");
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

void SshKind::check_files(const TargetConfig& t, std::vector<std::string>& problems) const {
  for (const auto& [cname, cred] : t.credentials) {
    SshKey key;
    std::string err;
    if (!import_identity(kind_part<SshCredential>(cred.get()), key, err))
      problems.push_back("targets." + t.name + (cname == "default" ? "" : ".credentials." + cname) + ": " + err);
  }
}

std::unique_ptr<TargetConnection> SshKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                   std::string& error) const {
  return SshTargetConnection::connect(t, kind_part<SshCredential>(&cred), error);
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
