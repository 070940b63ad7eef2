// What the SQL classifier found in one statement (command kind "sql"), as
// policies read it (c.sql) and the audit row's details record it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "policy/command_facts.h"

namespace bastion {

// One session setting a SQL statement changes (SET, RESET, set_config,
// ALTER ROLE/DATABASE/SYSTEM ... SET, BEGIN/SET TRANSACTION characteristics).
struct SqlSetting {
  std::string name;   // as PostgreSQL resolves it: lower-cased; "all" for RESET ALL / DISCARD ALL
  std::string value;  // the literal value ("" for a reset or a value that is not a literal)
  bool reset = false;  // RESET, SET ... TO DEFAULT, RESET ALL
  bool operator==(const SqlSetting&) const = default;
};

// A bound parameter value of a wire client's prepared statement (Bind).
struct SqlParam {
  std::optional<std::string> value;  // nullopt: NULL, or sent in binary
  bool binary = false;
  bool operator==(const SqlParam&) const = default;
};

// What the SQL classifier found in one statement (kind "sql").
struct SqlFacts {
  // Where the statement came from: "console" (the bastion's SQL console,
  // script or exec line) or "wire" (a client's own connection through `ssh -L`).
  std::string source = "console";
  // Wire clients' extended protocol: the values bound to $1, $2, ... (empty otherwise).
  std::vector<SqlParam> params;
  std::string statement;  // select, insert, update, delete, drop, ...
  std::vector<std::string> reads, writes, functions;
  bool writes_data = false;
  bool has_where = true;
  bool copy_program = false;
  std::string parse_error;
  // What the text does not show: DO, CALL, EXECUTE, functions outside the
  // side-effect-free catalog, CREATE FUNCTION/RULE/TRIGGER, ... (one short reason each).
  bool opaque = false;
  std::vector<std::string> opaque_reasons;
  std::vector<SqlSetting> sets;  // session settings changed or reset
  bool copy_to = false;          // COPY ... TO (a relation or a query, to STDOUT, a file or a program)
  bool query_string = false;     // calls a function that runs SQL given as text (query_to_xml, ...)
  bool reads_statistics = false; // reads sampled values or query texts (pg_stats, pg_stat_statements, ...)
  // Relations read by a statement whose result stays on the server (CREATE
  // TABLE AS, SELECT INTO, CREATE VIEW, INSERT/UPDATE/MERGE ... reading others,
  // DECLARE CURSOR, PREPARE, CREATE RULE).
  std::vector<std::string> creates_object_from;
};

class SqlCommandFacts : public CommandFacts {
 public:
  explicit SqlCommandFacts(SqlFacts f) : facts(std::move(f)) {}
  const char* field() const override { return "sql"; }
  void describe(FactWriter& out) const override;
  std::string audit_details() const override;
  const SqlFacts facts;
};

}  // namespace bastion
