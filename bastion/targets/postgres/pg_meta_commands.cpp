// psql's backslash commands in the SQL console: settings (\x, \timing,
// \pset, \set), \echo, \errverbose, help; \d and friends become ordinary
// statements (describe_queries) queued in their turn.
#include "targets/postgres/pg_executor.h"

#include "targets/postgres/pg_text.h"

namespace bastion {

using namespace pg_text;

namespace {

const char* kHelp =
    "General\n"
    "  \\q                     quit\n"
    "  \\?                     this help\n"
    "  \\errverbose            show the last error in full, with its SQLSTATE\n"
    "  \\g                     send the query buffer\n"
    "Informational\n"
    "  \\l                     list databases\n"
    "  \\d[+] [NAME]           describe a table, view or sequence, or list them\n"
    "  \\dt [PATTERN]          list tables\n"
    "  \\dn                    list schemas\n"
    "  \\du                    list roles\n"
    "Formatting\n"
    "  \\x [on|off]            expanded output\n"
    "  \\timing [on|off]       show how long each statement took\n"
    "  \\pset format aligned|csv|json\n"
    "  \\pset null TEXT        how NULL is shown (default: nothing, as in psql)\n"
    "Variables\n"
    "  \\set [NAME [VALUE]]    set a variable (:NAME, :'NAME', :\"NAME\" in SQL), or list them\n"
    "  \\unset NAME            unset a variable\n"
    "  \\echo TEXT             print TEXT\n"
    "Every statement is decided by the bastion's policy and recorded.\n";

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    std::string w;
    if (s[i] == '\'' || s[i] == '"') {
      const char q = s[i++];
      while (i < s.size() && s[i] != q) w += s[i++];
      ++i;
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) w += s[i++];
    }
    out.push_back(w);
  }
  return out;
}

constexpr std::size_t kMaxVariables = 1000;
// psql interpolates variables in a backslash command's arguments too:
// :name, :'name' (a literal), :"name" (an identifier), not inside quotes.
std::string interpolate_args(const std::string& s, const SqlInputBuffer::Variables& vars) {
  std::string out;
  char quote = 0;
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      out += s[i++];
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += s[i++];
      continue;
    }
    if (c == ':') {
      const char open = i + 1 < s.size() ? s[i + 1] : 0;
      const bool quoted = open == '\'' || open == '"';
      std::size_t b = i + 1 + (quoted ? 1 : 0), e = b;
      while (e < s.size() && (std::isalnum(static_cast<unsigned char>(s[e])) || s[e] == '_' ||
                              static_cast<unsigned char>(s[e]) >= 0x80))
        ++e;
      const auto it = e > b ? vars.find(s.substr(b, e - b)) : vars.end();
      if (it != vars.end() && (!quoted || (e < s.size() && s[e] == open))) {
        out += !quoted ? it->second : open == '\'' ? psql_quote_literal(it->second) : psql_quote_identifier(it->second);
        i = quoted ? e + 1 : e;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

}  // namespace

void PgExecutor::handle_meta(const std::string& line) {
  const auto w = words(interpolate_args(line.substr(1), vars_));
  const std::string cmd = w.empty() ? "" : w[0];
  const std::string arg = w.size() > 1 ? w[1] : "";
  auto onoff = [&](bool& flag) {
    if (arg.empty()) flag = !flag;
    else if (arg == "on" || arg == "true" || arg == "1") flag = true;
    else if (arg == "off" || arg == "false" || arg == "0") flag = false;
  };
  if (cmd == "q" || cmd == "quit") return finish(0);
  if (cmd == "?") return emit(Stream::out, kHelp);
  if (cmd == "x") {
    onoff(print_.expanded);
    return emit(Stream::out, std::string("Expanded display is ") + (print_.expanded ? "on.\n" : "off.\n"));
  }
  if (cmd == "timing") {
    onoff(timing_);
    return emit(Stream::out, std::string("Timing is ") + (timing_ ? "on.\n" : "off.\n"));
  }
  if (cmd == "set") return handle_set(line);
  if (cmd == "unset") {
    if (arg.empty()) return emit(Stream::err, "\\unset: missing required argument\n");
    vars_.erase(arg);
    return;
  }
  if (cmd == "echo") {
    std::string text;
    for (std::size_t i = 1; i < w.size(); ++i) text += (i > 1 ? " " : "") + w[i];
    return emit(Stream::out, text + "\n");
  }
  if (cmd == "errverbose") {
    return emit(Stream::out, last_error_verbose_.empty() ? "There is no previous error.\n" : last_error_verbose_);
  }
  if (cmd == "pset") {
    const std::string val = w.size() > 2 ? w[2] : "";
    if (arg == "format") {
      if (val == "aligned") print_.format = PrintOptions::Format::aligned;
      else if (val == "csv") print_.format = PrintOptions::Format::csv;
      else if (val == "json") print_.format = PrintOptions::Format::json;
      else return emit(Stream::err, "\\pset: allowed formats are aligned, csv, json\n");
      return emit(Stream::out, "Output format is " + val + ".\n");
    }
    if (arg == "null") {
      print_.null_display = val;
      return emit(Stream::out, "Null display is \"" + val + "\".\n");
    }
    return emit(Stream::err, "\\pset: unknown option: " + arg + " (format, null)\n");
  }
  std::string err;
  auto q = describe_query(cmd, arg, err, PQserverVersion(conn_.get()));
  if (!q) {
    emit(Stream::err, err + (mode_ == Mode::console ? "\nTry \\? for help.\n" : "\n"));  // psql's wording
    if (stop_on_error_) finish(kSqlExitError);
    return;
  }
  auto stmts = classify_sql(q->sql);
  if (stmts.size() != 1) return;
  Work w1;
  w1.stmt = std::move(stmts[0]);
  w1.describe = std::move(q);
  queue_.push_front(std::move(w1));  // before what followed the backslash command
}

void PgExecutor::handle_set(const std::string& line) {
  // \set NAME VALUE...: the values are joined; 'quoted' values take '' and
  // backslash escapes, :NAME is another variable, as in psql.
  std::size_t i = line.find_first_of(" \t");
  auto skip = [&] { while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i; };
  if (i == std::string::npos) i = line.size();
  skip();
  std::string name;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') name += line[i++];
  if (name.empty()) {
    std::string out;
    for (const auto& [k, v] : vars_) out += k + " = '" + v + "'\n";
    return emit(Stream::out, out);
  }
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c < 0x80) return emit(Stream::err, "\\set: invalid variable name: \"" + name + "\"\n");
  std::string value;
  while (true) {
    skip();
    if (i >= line.size()) break;
    if (line[i] == '`') return emit(Stream::err, "\\set: backquoted commands do not run through the bastion\n");
    if (line[i] == '\'') {
      ++i;
      while (i < line.size()) {
        if (line[i] == '\'') {
          if (i + 1 < line.size() && line[i + 1] == '\'') value += '\'', i += 2;
          else { ++i; break; }
        } else if (line[i] == '\\' && i + 1 < line.size()) {
          const char e = line[i + 1];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'f' ? '\f' : e == 'b' ? '\b' : e;
          i += 2;
        } else {
          value += line[i++];
        }
      }
      continue;
    }
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\'') {
      if (line[i] == ':') {
        std::size_t e = i + 1;
        while (e < line.size() && (std::isalnum(static_cast<unsigned char>(line[e])) || line[e] == '_' ||
                                   static_cast<unsigned char>(line[e]) >= 0x80))
          ++e;
        const auto it = vars_.find(line.substr(i + 1, e - i - 1));
        if (e > i + 1 && it != vars_.end()) {
          value += it->second;
          i = e;
          continue;
        }
      }
      value += line[i++];
    }
  }
  if (!vars_.count(name) && vars_.size() >= kMaxVariables)
    return emit(Stream::err, "\\set: too many variables (" + std::to_string(kMaxVariables) + ")\n");
  std::size_t total = name.size() + value.size();
  for (const auto& [k, v] : vars_)
    if (k != name) total += k.size() + v.size();
  if (total > kMaxInput) return emit(Stream::err, "\\set: variables hold at most 1 MiB in all\n");
  vars_[name] = value;
}

}  // namespace bastion
