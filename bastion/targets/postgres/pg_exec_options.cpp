#include "targets/postgres/pg_exec_options.h"

#include <algorithm>
#include <cctype>

namespace bastion {
namespace {

constexpr const char* kOptions =
    "options: -c/--command SQL, --csv, --json, --format=aligned|csv|json, -x, --timing, --continue-on-error";

// psql -c's text, with the one level of quotes a remote shell would have
// removed: ssh joins its arguments, so `-- -c "'select 1'"` arrives quoted.
// A statement that is nothing but one quoted string or name is never valid
// SQL, so unwrapping it cannot change what a valid command means.
std::string command_text(std::string t) {
  if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'' && t.find('\'', 1) == t.size() - 1)
    return t.substr(1, t.size() - 2);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"' &&
      t.find_first_of("\"\\$`", 1) == t.size() - 1)
    return t.substr(1, t.size() - 2);
  return t;
}

// What to say about a psql option the bastion does not take.
std::string unsupported(const std::string& opt) {
  const std::string name = opt.substr(0, opt.find('='));
  std::string why;
  if (name == "-f" || name == "--file")
    why = "; to run a file, send it on stdin: ssh TARGET@bastion < FILE";
  else if (name == "-d" || name == "--dbname" || name == "-U" || name == "--username" || name == "-h" ||
           name == "--host" || name == "-p" || name == "--port")
    why = "; the target names the database and the role";
  return "psql option " + name + " is not available through the bastion" + why + " (" + kOptions + ")";
}

bool psql_long_option(const std::string& opt) {
  static constexpr const char* kPsql[] = {
      "--file", "--dbname", "--username", "--host", "--port", "--no-psqlrc", "--tuples-only", "--no-align",
      "--quiet", "--variable", "--set", "--single-transaction", "--echo-all", "--echo-errors", "--echo-queries",
      "--echo-hidden", "--field-separator", "--record-separator", "--output", "--log-file", "--html", "--pset",
      "--list", "--no-password", "--password", "--single-step", "--single-line", "--table-attr"};
  const std::string name = opt.substr(0, opt.find('='));
  return std::find(std::begin(kPsql), std::end(kPsql), name) != std::end(kPsql);
}

}  // namespace

SqlExecOptions parse_sql_exec_line(const std::string& line) {
  SqlExecOptions o;
  std::size_t i = 0;
  while (true) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size() || line[i] != '-') break;
    const auto end = line.find(' ', i);
    const std::string opt = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
    const std::size_t next = end == std::string::npos ? line.size() : end + 1;
    // psql's -c/--command: the rest of the line is the statement(s), split
    // and decided one by one (options after it would be SQL comments, so
    // they are not options: they must come first).
    std::string command;
    bool has_command = false;
    if (opt == "-c" || opt == "--command") {
      command = line.substr(std::min(next, line.size()));
      has_command = true;
    } else if (opt.starts_with("--command=")) {
      command = line.substr(i + 10);
      has_command = true;
    } else if (opt.starts_with("-c") && opt.size() > 2 && opt[2] != '-') {
      command = line.substr(i + 2);
      has_command = true;
    } else if (const std::size_t k = opt.find_first_not_of('x', 1);
               opt.size() > 2 && k > 1 && k != std::string::npos && opt[k] == 'c') {
      // getopt's bundle, as psql reads it: "-xc SQL", "-xcSQL".
      o.print.expanded = true;
      command = k + 1 == opt.size() ? line.substr(std::min(next, line.size())) : line.substr(i + k + 1);
      has_command = true;
    }
    if (has_command) {
      command = command_text(command);
      if (command.find_first_not_of(" \t\r\n") == std::string::npos) {
        o.error = "option " + opt.substr(0, opt.find('=')) + " needs SQL: -c \"SELECT ...\"";
        return o;
      }
      o.sql = command;
      return o;
    }
    if (opt == "--csv" || opt == "--format=csv") o.print.format = PrintOptions::Format::csv;
    else if (opt == "--json" || opt == "--format=json") o.print.format = PrintOptions::Format::json;
    else if (opt == "--format=aligned" || opt == "--aligned") o.print.format = PrintOptions::Format::aligned;
    else if (opt == "-x" || opt == "--expanded") o.print.expanded = true;
    else if (opt == "--continue-on-error") o.stop_on_error = false;
    else if (opt == "--timing") o.timing = true;
    else if (opt.find('\n') != std::string::npos) break;  // SQL (a comment) that spans lines
    else if (psql_long_option(opt)) {
      o.error = unsupported(opt);
      return o;
    } else if (opt.starts_with("--") && opt.size() > 2) {
      o.error = "unknown option " + opt + " (" + kOptions + ")";
      return o;
    } else if (opt.size() >= 2 && std::isalnum(static_cast<unsigned char>(opt[1]))) {
      // "-f", "-X", "-1", "-At": psql's short options. No SQL statement
      // starts with '-' and a letter or digit, so this is never SQL.
      // In a bundle ("-xA"), the first letter the bastion does not take.
      const std::size_t k = opt.find_first_not_of('x', 1);
      o.error = unsupported("-" + opt.substr(k == std::string::npos ? 1 : k, 1));
      return o;
    } else {
      break;  // "-- a comment": SQL
    }
    i = next;
  }
  o.sql = line.substr(std::min(i, line.size()));
  return o;
}

}  // namespace bastion
