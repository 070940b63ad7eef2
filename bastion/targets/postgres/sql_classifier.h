// Splits SQL input into statements and classifies each with the real
// PostgreSQL 15 parser (libpg_query), so dollar quoting, comments, E'' strings
// and multi-statement input split exactly as the server would, and a policy
// sees what a statement does rather than what its text looks like.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "targets/postgres/parse_tree.h"
#include "targets/postgres/sql_facts.h"

namespace bastion {

struct SqlStatement {
  std::string text;  // the statement as written (without the trailing ';')
  // select, insert, update, delete, merge, create, alter, drop, truncate,
  // grant, revoke, copy, set, show, begin, commit, rollback, savepoint,
  // call, do, explain, vacuum, lock, ... ("unknown" when it does not parse).
  // EXPLAIN ANALYZE of a statement takes that statement's kind.
  std::string kind;
  std::vector<std::string> reads;      // tables read, schema-qualified as written
  std::vector<std::string> writes;     // tables (and dropped objects) written
  std::vector<std::string> functions;  // functions called, as written
  bool writes_data = false;   // anything here modifies data or schema (CTEs, SELECT INTO included)
  bool has_where = true;      // false for an UPDATE/DELETE without WHERE
  bool copy_program = false;  // COPY ... TO/FROM PROGRAM (runs a program on the server)
  std::string parse_error;    // set when the statement does not parse
  // The parser rejected the text at a position, as the server would (a
  // syntax error, not a limit of the bastion's analysis): it is refused as
  // invalid, never sent, and reported with that position.
  bool syntax_error = false;
  // Refused as invalid for a limit of the bastion, not the user's syntax:
  // the input was too large, or this stands for the statements past
  // kSqlMaxStatements (parse_error says which).
  bool over_limit = false;
  int error_position = 0;     // 1-based character offset into `text` (0: none)
  // What the text does not show (see SqlFacts and bastion-policy(5)).
  bool opaque = false;
  std::vector<std::string> opaque_reasons;  // one short reason each, in order found
  std::vector<SqlSetting> sets;             // session settings changed or reset
  bool copy_to = false;                     // COPY ... TO: a read, whatever the destination
  bool query_string = false;                // a function runs SQL given as text
  bool reads_statistics = false;            // pg_stats, pg_statistic*, pg_stat_statements, ...
  std::vector<std::string> creates_object_from;  // reads whose result stays on the server
  // The parse this was classified from (the whole input's; `node` is this
  // statement in it), for checks that walk the tree (column masks) without
  // parsing again; absent when the input did not parse as a whole.
  std::shared_ptr<const ParseTree> tree;
  PtNode node;
};

// Caps keep a hostile input cheap.
constexpr std::size_t kSqlMaxInput = 1 << 20;
constexpr std::size_t kSqlMaxStatements = 10000;

// Never fails: unparseable input yields statements with parse_error set
// (or one statement holding the whole input when it cannot even be split).
// Input past the limits ends in one statement with over_limit and
// syntax_error set: refused wherever it goes.
std::vector<SqlStatement> classify_sql(std::string_view input);

// The error the server's parser gives `text` sent as one query string:
// true with its message and 1-based character position when the text does
// not parse at a position (a syntax error); false when it parses, or fails
// only on a limit (no position).
bool sql_syntax_error(const std::string& text, std::string& message, int& position);

// The facts a policy sees as c.sql.
SqlFacts sql_facts(const SqlStatement& s);

}  // namespace bastion
