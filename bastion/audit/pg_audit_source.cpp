// AuditQuery on the PostgreSQL store: a connection whose transactions are
// read-only (an auditor's query cannot write, whatever its SQL).
#include <cstdlib>
#include "audit/policy_tables.h"

#include "audit/audit_source.h"
#include "audit/pg_cells.h"
#include "audit/pg_connect.h"

namespace bastion {
namespace {

class PgRows final : public AuditRows {
 public:
  PgRows(PgResult r, std::string error) : r_(std::move(r)), error_(std::move(error)) {}
  bool next() override { return r_ && ++row_ < PQntuples(r_.get()); }
  bool done(std::string& error) const override {
    if (!r_) return error = error_, false;
    return true;
  }
  std::string text(int c) const override {
    return {PQgetvalue(r_.get(), row_, c), static_cast<std::size_t>(PQgetlength(r_.get(), row_, c))};
  }
  int64_t integer(int c) const override { return std::strtoll(PQgetvalue(r_.get(), row_, c), nullptr, 10); }
  std::optional<int64_t> maybe(int c) const override {
    if (PQgetisnull(r_.get(), row_, c)) return std::nullopt;
    return integer(c);
  }
  int columns() const override { return PQnfields(r_.get()); }
  std::string name(int c) const override { return PQfname(r_.get(), c); }
  std::string row_json(int first) const override { return bastion::row_json(PgCells(r_.get(), row_), first); }

 private:
  PgResult r_;
  std::string error_;
  int row_ = -1;
};

class PgSource final : public AuditSource {
 public:
  explicit PgSource(PgConn c) : c_(std::move(c)) {}
  std::unique_ptr<AuditRows> rows(const std::string& sql, const std::vector<AuditParam>& params,
                                  std::string& error) override {
    std::vector<std::string> text;
    std::vector<const char*> values;
    std::vector<unsigned> types;
    for (const auto& p : params) {
      if (const auto* n = std::get_if<int64_t>(&p)) text.push_back(std::to_string(*n)), types.push_back(20);
      else text.push_back(std::get<std::string>(p)), types.push_back(0);
    }
    for (const auto& t : text) values.push_back(t.c_str());
    const std::string q = pg_placeholders(sql);
    PgResult r(PQexecParams(c_.get(), q.c_str(), static_cast<int>(values.size()), types.data(), values.data(),
                            nullptr, nullptr, 0));
    if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      error = pg_error(c_.get());
      return std::make_unique<PgRows>(nullptr, error);
    }
    return std::make_unique<PgRows>(std::move(r), "");
  }
  bool table_exists(const char* name) override {
    std::string ignored;
    auto r = rows("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
                  {std::string(name)}, ignored);
    return r->next();
  }
  // Votes are never updated or deleted: their physical order is their
  // insertion order.
  const char* insertion_order() const override { return "ctid"; }
  // REPEATABLE READ: every statement of the transaction reads the snapshot
  // its first one took, whatever the instances commit meanwhile.
  bool has_search_index() const override { return false; }
  const char* plain_policy_tables_sql() const override { return kPgPlainPolicyTables; }
  bool begin_snapshot(std::string& error) override {
    PgResult r(PQexec(c_.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error = pg_error(c_.get()), false;
    return true;
  }

 private:
  PgConn c_;
};

}  // namespace

std::unique_ptr<AuditSource> open_pg_audit_source(const std::string& dsn, const std::string& password_file,
                                                  std::string& error) {
  PgConn c = pg_connect({dsn, password_file}, error);
  if (!c) return nullptr;
  PgResult r(PQexec(c.get(), "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error = pg_error(c.get()), nullptr;
  auto src = std::make_unique<PgSource>(std::move(c));
  // A database that is not an audit store fails here, not halfway through a listing.
  auto probe = src->rows("SELECT 1 FROM sessions LIMIT 0", {}, error);
  probe->next();
  if (!probe->done(error)) return error = "postgresql store: " + error, nullptr;
  return src;
}

}  // namespace bastion
