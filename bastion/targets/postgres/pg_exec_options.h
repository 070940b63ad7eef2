// Leading options of a SQL exec line: `ssh db@bastion --csv "SELECT ..."`.
#pragma once
#include <string>

#include "targets/postgres/result_renderer.h"

namespace bastion {

struct SqlExecOptions {
  PrintOptions print;
  bool stop_on_error = true;
  bool timing = false;
  std::string sql;    // what follows the options (empty: read stdin)
  std::string error;  // an unknown option
};
SqlExecOptions parse_sql_exec_line(const std::string& line);

}  // namespace bastion
