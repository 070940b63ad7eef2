#include "audit/pg_connect.h"

#include <string.h>

#include <vector>

#include "common/secret_file.h"

namespace bastion {

bool is_pg_dsn(const std::string& where) {
  return where.rfind("postgresql://", 0) == 0 || where.rfind("postgres://", 0) == 0;
}

std::string pg_placeholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int next = 1;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c != '?') {
      out += c;
      continue;
    }
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    out += '$';
    out += j > i + 1 ? sql.substr(i + 1, j - i - 1) : std::to_string(next++);
    i = j - 1;
  }
  return out;
}

std::string pg_error(PGconn* c) {
  std::string e = c ? PQerrorMessage(c) : "out of memory";
  for (char& ch : e)
    if (ch == '\n' || ch == '\r') ch = ' ';
  while (!e.empty() && e.back() == ' ') e.pop_back();
  return e.empty() ? "unknown PostgreSQL error" : e;
}

PgConn pg_connect(const PgTarget& t, std::string& error) {
  if (!is_pg_dsn(t.dsn)) return error = "store: not a postgresql:// URI", nullptr;
  std::string password;
  if (!t.password_file.empty()) {
    if (!read_secret_file(t.password_file, password, error)) return error = "store_password_file: " + error, nullptr;
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (password.empty()) return error = "store_password_file: " + t.password_file + " is empty", nullptr;
  }
  // The URI is expanded (expand_dbname); a password from the file overrides
  // one in it.
  // search_path is PostgreSQL's default, whatever the database or role sets:
  // without pg_catalog named, it is searched first, so a function or
  // operator created in the store's schema (an aggregate named count, an
  // `=`) never stands in for a built-in one in bastion's queries.
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name", "options"};
  std::vector<const char*> values = {t.dsn.c_str(), "10", "bastion", "-c search_path=\"$user\",public"};
  if (!password.empty()) keys.push_back("password"), values.push_back(password.c_str());
  keys.push_back(nullptr), values.push_back(nullptr);
  PgConn c(PQconnectdbParams(keys.data(), values.data(), 1));
  explicit_bzero(password.data(), password.size());
  if (!c || PQstatus(c.get()) != CONNECTION_OK) return error = "postgresql store: " + pg_error(c.get()), nullptr;
  return c;
}

}  // namespace bastion
