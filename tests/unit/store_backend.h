// One fresh audit store per test on either backend, with raw SQL access to
// inspect and tamper with it. The PostgreSQL backend needs a cluster:
// BASTION_TEST_PG_DSN ("postgresql://USER@HOST:PORT", no database) and
// BASTION_TEST_PG_PASSWORD_FILE, set by tests/integration/pg_store_suite.py
// (ctest integration.pg_store_suite); without them its cases fail, never skip.
#pragma once
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include <catch2/catch.hpp>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include "audit/pg_audit_store.h"
#include "common/pg_handles.h"
#include "audit/sqlite_audit_store.h"
#include "test_util.h"

namespace testutil {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual const char* name() const = 0;
  // A new connection to this test's store (a second one: another writer).
  virtual std::unique_ptr<bastion::SqlAuditStore> open(std::string& error, std::string writer = "test") = 0;
  // Rows as "a|b\n" (NULL as NULL); portable SQL only.
  virtual std::string sql(const std::string& statement) = 0;
  // Makes the stored schema version `v` (a newer bastiond's store).
  virtual void set_schema_version(int v) = 0;
  virtual int current_schema_version() const = 0;
  // What AuditQuery::open and bastionctl's --db take, and its password file.
  virtual std::string where() const = 0;
  virtual std::string password() const { return ""; }
};

class SqliteBackend final : public StoreBackend {
 public:
  const char* name() const override { return "sqlite"; }
  std::unique_ptr<bastion::SqlAuditStore> open(std::string& error, std::string writer) override {
    auto s = bastion::SqliteAuditStore::open(dir_ / "audit.db", error, std::move(writer));
    return std::unique_ptr<bastion::SqlAuditStore>(s.release());
  }
  std::string sql(const std::string& statement) override {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open((dir_ / "audit.db").c_str(), &h) == SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    std::string out;
    char* msg = nullptr;
    const int rc = sqlite3_exec(
        h, statement.c_str(),
        [](void* o, int n, char** v, char**) {
          auto* s = static_cast<std::string*>(o);
          for (int i = 0; i < n; ++i) *s += std::string(i ? "|" : "") + (v[i] ? v[i] : "NULL");
          *s += "\n";
          return 0;
        },
        &out, &msg);
    const std::string why = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(h);
    INFO(statement << ": " << why);
    REQUIRE(rc == SQLITE_OK);
    return out;
  }
  void set_schema_version(int v) override { sql("PRAGMA user_version=" + std::to_string(v)); }
  int current_schema_version() const override { return bastion::SqliteAuditStore::kSchemaVersion; }
  std::string where() const override { return dir_ / "audit.db"; }

 private:
  TempDir dir_;
};

class PgBackend final : public StoreBackend {
 public:
  PgBackend() {
    const char* dsn = std::getenv("BASTION_TEST_PG_DSN");
    const char* pw = std::getenv("BASTION_TEST_PG_PASSWORD_FILE");
    INFO("the PostgreSQL store cases run under ctest integration.pg_store_suite (it starts a cluster)");
    REQUIRE(dsn != nullptr);
    REQUIRE(pw != nullptr);
    base_ = dsn;
    password_file_ = pw;
    static std::atomic<int> counter{0};
    db_ = "bt_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    admin("CREATE DATABASE " + db_);
  }
  ~PgBackend() override {
    admin_.reset();
    conn_.reset();
    std::string ignored;
    bastion::PgConn a = bastion::pg_connect({base_ + "/postgres", password_file_}, ignored);
    if (a) bastion::PgResult(PQexec(a.get(), ("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)").c_str()));
  }
  const char* name() const override { return "postgresql"; }
  std::string dsn() const { return base_ + "/" + db_; }
  const std::string& password_file() const { return password_file_; }
  std::unique_ptr<bastion::SqlAuditStore> open(std::string& error, std::string writer) override {
    auto s = bastion::PgAuditStore::open({dsn(), password_file_}, error, std::move(writer));
    return std::unique_ptr<bastion::SqlAuditStore>(s.release());
  }
  std::string sql(const std::string& statement) override {
    if (!conn_) {
      std::string err;
      conn_ = bastion::pg_connect({dsn(), password_file_}, err);
      INFO(err);
      REQUIRE(conn_);
    }
    bastion::PgResult r(PQexec(conn_.get(), statement.c_str()));
    const auto st = PQresultStatus(r.get());
    INFO(statement << ": " << PQerrorMessage(conn_.get()));
    REQUIRE((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK));
    std::string out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      for (int c = 0; c < PQnfields(r.get()); ++c)
        out += std::string(c ? "|" : "") + (PQgetisnull(r.get(), i, c) ? "NULL" : PQgetvalue(r.get(), i, c));
      out += "\n";
    }
    return out;
  }
  void set_schema_version(int v) override { sql("UPDATE bastion_schema SET version=" + std::to_string(v)); }
  int current_schema_version() const override { return bastion::kPgSchemaVersion; }
  std::string where() const override { return dsn(); }
  std::string password() const override { return password_file_; }

 private:
  void admin(const std::string& statement) {
    if (!admin_) {
      std::string err;
      admin_ = bastion::pg_connect({base_ + "/postgres", password_file_}, err);
      INFO(err);
      REQUIRE(admin_);
    }
    bastion::PgResult r(PQexec(admin_.get(), statement.c_str()));
    INFO(statement << ": " << PQerrorMessage(admin_.get()));
    REQUIRE(PQresultStatus(r.get()) == PGRES_COMMAND_OK);
  }
  std::string base_, password_file_, db_;
  bastion::PgConn admin_, conn_;
};

}  // namespace testutil

// One test body, two cases: SQLite in `ctest -L unit`; PostgreSQL hidden
// there ([.]) and run by integration.pg_store_suite with a cluster.
#define STORE_BACKEND_TEST(title, fn)                                                 \
  TEST_CASE("sqlite store: " title, "[store-backend]") {                              \
    testutil::SqliteBackend b;                                                        \
    fn(b);                                                                            \
  }                                                                                   \
  TEST_CASE("postgresql store: " title, "[.][pg-store]") {                            \
    testutil::PgBackend b;                                                            \
    fn(b);                                                                            \
  }
