// The catalog queries behind psql's describe commands (\l, \dt, \d, \dn,
// \du). They run as ordinary statements: decided by the policy and audited
// like anything the user types.
#pragma once
#include <optional>
#include <string>

namespace bastion {

struct DescribeQuery {
  std::string sql;
  std::string title;          // above the table, as psql prints it
  bool footer = true;         // "(N rows)"
  std::string empty_message;  // instead of an empty table (on standard error, as psql)
  bool empty_fails = false;   // and the command failed (\d NAME)
  // The first column holds the title and the last the lines printed under
  // the table (both the same on every row): what psql learns with extra
  // queries, this learns in the one statement the policy decides.
  bool meta_columns = false;
};

// `cmd` without the backslash ("dt"), `arg` the pattern or name (may be
// empty). Null + error for an unknown command or a pattern it cannot use.
// `server_version` as PQserverVersion gives it (columns psql 15 shows).
std::optional<DescribeQuery> describe_query(const std::string& cmd, const std::string& arg, std::string& error,
                                            int server_version = 150000);

}  // namespace bastion
