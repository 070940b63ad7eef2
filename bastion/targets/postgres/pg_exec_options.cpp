#include "targets/postgres/pg_exec_options.h"

#include <algorithm>

namespace bastion {

SqlExecOptions parse_sql_exec_line(const std::string& line) {
  SqlExecOptions o;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size() || line[i] != '-') break;
    const auto end = line.find(' ', i);
    const std::string opt = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (opt == "--csv" || opt == "--format=csv") o.print.format = PrintOptions::Format::csv;
    else if (opt == "--json" || opt == "--format=json") o.print.format = PrintOptions::Format::json;
    else if (opt == "--format=aligned" || opt == "--aligned") o.print.format = PrintOptions::Format::aligned;
    else if (opt == "-x" || opt == "--expanded") o.print.expanded = true;
    else if (opt == "--continue-on-error") o.stop_on_error = false;
    else if (opt == "--timing") o.timing = true;
    else if (opt.starts_with("--") && opt.size() > 2 && opt.find('\n') == std::string::npos) {
      o.error = "unknown option " + opt + " (options: --csv, --json, --format=aligned|csv|json, -x, "
                "--timing, --continue-on-error)";
      return o;
    } else {
      break;  // "-1", or "-- a comment": SQL
    }
    i = end == std::string::npos ? line.size() : end;
  }
  o.sql = line.substr(std::min(i, line.size()));
  return o;
}

}  // namespace bastion
