#include "targets/postgres/postgres_kind.h"

#include <algorithm>

#include "targets/postgres/pg_target.h"
#include "targets/postgres/postgres_settings.h"
#include "targets/postgres/sql_classifier.h"
#include "targets/postgres/sql_facts.h"

namespace bastion {

std::set<std::string> PostgresKind::keys() const {
  return {"host", "port", "dbname", "user", "password_file", "service", "passfile", "sslmode",
          "sslrootcert", "connect_timeout", "row_limit", "statement_timeout"};
}

std::set<std::string> PostgresKind::credential_keys() const { return {"user", "password_file", "passfile"}; }

std::shared_ptr<const TargetSettings> PostgresKind::read_settings(const TableReader& r) const {
  auto p = std::make_shared<PostgresSettings>();
  p->connect_timeout = static_cast<int>(r.duration("connect_timeout", 1, 300).value_or(10));
  p->service = r.str_or("service", "");
  p->host = p->service.empty() ? r.need("host") : r.str_or("host", "");
  if (!p->host.empty() && p->host[0] != '/' && p->host.find_first_of(" \t=") != std::string::npos)
    r.fail("host", "expected a host name, an address or a socket folder");
  p->port = static_cast<int>(r.integer("port", 1, 65535).value_or(5432));
  p->dbname = p->service.empty() ? r.need("dbname") : r.str_or("dbname", "");
  p->sslrootcert = r.path("sslrootcert");
  p->sslmode = r.str_or("sslmode", "");
  if (!p->sslmode.empty() &&
      !std::set<std::string>{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}.count(p->sslmode))
    r.fail("sslmode", "expected disable, allow, prefer, require, verify-ca or verify-full");
  p->row_limit = r.integer("row_limit", 0, int64_t{1} << 40).value_or(100000);
  p->statement_timeout = static_cast<int>(r.duration("statement_timeout", 0, 7 * 86400).value_or(0));
  return p;
}

// libpq reads it at each connect; a missing one is said at load, with the reason.
void PostgresKind::check_setting_files(const TableReader& r, const TargetSettings& s) const {
  const auto& p = kind_part<PostgresSettings>(&s);
  if (!p.sslrootcert.empty()) r.check_readable("sslrootcert", p.sslrootcert);
}

// A libpq service may name the user: then the default needs nothing more.
bool PostgresKind::settings_make_default_credential(const TargetSettings& s) const {
  return !kind_part<PostgresSettings>(&s).service.empty();
}

std::shared_ptr<const HeldCredential> PostgresKind::read_credential(const TableReader& r, const TargetSettings& s,
                                                                    bool top_level, bool check_files) const {
  auto c = std::make_shared<PostgresCredential>();
  const bool user_optional = top_level && settings_make_default_credential(s);
  c->user = user_optional ? r.str_or("user", "") : r.need("user");
  c->password_file = r.path("password_file");
  c->passfile = r.path("passfile");
  if (check_files && !c->password_file.empty()) {
    r.read_secret("password_file", c->password_file, c->password);
    auto& pw = c->password.bytes;  // the first line is the password
    const auto eol = pw.find_first_of("\r\n");
    if (eol != std::string::npos) std::fill(pw.begin() + static_cast<std::ptrdiff_t>(eol), pw.end(), '\0'), pw.resize(eol);
  }
  if (check_files && !c->passfile.empty()) r.read_secret("passfile", c->passfile, c->passfile_text);
  return c;
}

std::unique_ptr<TargetConnection> PostgresKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                        std::string& error) const {
  return PgTargetConnection::connect(t, kind_part<PostgresCredential>(&cred), error);
}

ParsedCommand PostgresKind::parse_command(const std::string&, const std::string& text, const CommandOptions&) const {
  ParsedCommand p{.text = text};
  const auto stmts = classify_sql(text);
  if (!stmts.empty()) p.facts = std::make_shared<SqlCommandFacts>(sql_facts(stmts[0]));
  if (stmts.size() != 1) p.error = "--kind sql takes exactly one statement (got " + std::to_string(stmts.size()) + ")";
  return p;
}

}  // namespace bastion
