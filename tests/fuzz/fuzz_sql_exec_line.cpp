// Fuzzes the SQL exec line's options (psql's -c, the bastion's --csv ...)
// and the error position excerpt: an option error never comes with SQL, the
// SQL is a suffix of the line (or its -c text without one level of quotes),
// and an excerpt is empty or ends with the caret line.
#include <cstdint>
#include <string>

#include "targets/postgres/error_position.h"
#include "targets/postgres/pg_exec_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  const bastion::SqlExecOptions o = bastion::parse_sql_exec_line(line);
  if (!o.error.empty() && !o.sql.empty()) __builtin_trap();
  if (o.sql.size() > line.size()) __builtin_trap();
  if (o.error.empty() && line.find(o.sql) == std::string::npos) __builtin_trap();
  for (int pos : {0, 1, static_cast<int>(size / 2) + 1, static_cast<int>(size), static_cast<int>(size) + 1}) {
    const std::string e = bastion::pg_error_position(line, pos);
    if (!e.empty() && (!e.starts_with("LINE ") || !e.ends_with("^\n"))) __builtin_trap();
  }
  return 0;
}
