#include "targets/postgres/pg_executor.h"

#include "targets/postgres/message_redaction.h"
#include "recorder/utf8.h"
#include "common/parse_number.h"

#include <algorithm>
#include <set>
#include <cmath>
#include <cstdio>

#include "common/display_escape.h"
#include "common/log.h"
#include "common/time_util.h"
#include "sources/terminal_text.h"
#include "targets/postgres/computed_columns.h"
#include "targets/postgres/mask_guard.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxInput = 1 << 20;  // unfinished statement or line
constexpr std::size_t kInputChunk = 64 * 1024;

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

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

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

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A PostgreSQL text[] literal of names.
std::string text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// What psql's lexer is told (psql's standard_strings()): unknown counts as off.
bool server_standard_strings(PGconn* c) {
  const char* v = PQparameterStatus(c, "standard_conforming_strings");
  return v && std::string_view(v) == "on";
}

// The bastion reads SQL as UTF-8: in another client encoding (SJIS, BIG5,
// GBK, ... where a multi-byte character can end in a backslash or a quote
// byte) the server would split a text where the parser did not, and run a
// statement nobody decided. So no statement runs while the session's
// encoding is not UTF-8, and none may set another. "" when it may run.
std::string encoding_refusal(PGconn* c, const SqlStatement& s) {
  auto utf8 = [](std::string_view v) {
    std::string n;
    for (char ch : v)
      if (ch != '-' && ch != '_') n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return n == "utf8" || n == "unicode";
  };
  bool sets_utf8 = false;
  for (const auto& st : s.sets) {
    if (st.name != "client_encoding" && st.name != "all") continue;
    if (st.reset || utf8(st.value)) {
      sets_utf8 = true;
      continue;
    }
    return "client_encoding can only be UTF8 through the bastion (it reads SQL as UTF-8)";
  }
  const char* cur = PQparameterStatus(c, "client_encoding");
  if (!sets_utf8 && (!cur || !utf8(cur)))
    return std::string("the session's client_encoding is ") + (cur ? cur : "unknown") +
           "; the bastion reads SQL as UTF-8 only (SET client_encoding = 'UTF8')";
  return "";
}

// psql's text may be sent instead of the decided text when it is that text
// plus only the blanks and ';' that end it (the ';' and line ends change
// nothing the server runs, but they are part of psql's LINE excerpts).
bool same_statement(const std::string& psql_text, const std::string& decided) {
  return !decided.empty() && psql_text.compare(0, decided.size(), decided) == 0 &&
         psql_text.find_first_not_of(" \t\r\n\f;", decided.size()) == std::string::npos;
}

constexpr std::size_t kMaxVariables = 1000;
const std::string kEofLine(1, '\x04');  // never a line: the editor reads Ctrl-D as the end
constexpr std::size_t kStreamBatchRows = 1000;

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

std::string format_ms(double ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "Time: %.3f ms\n", ms);
  return buf;
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

PgExecutor::PgExecutor(PgConnection& conn, const TargetConfig& t, const ExecRequest& req, CommandGate& gate,
                       std::function<void(bool)> want_reads)
    : conn_(conn), target_(t), gate_(gate), pty_(req.pty.has_value()), want_reads_(std::move(want_reads)) {
  prev_receiver_ = PQsetNoticeReceiver(conn_.get(), &PgExecutor::on_notice, this);
  prev_arg_ = nullptr;
  if (req.kind == "exec") {
    SqlExecOptions o = parse_sql_exec_line(req.text);
    print_ = o.print;
    stop_on_error_ = o.stop_on_error;
    timing_ = o.timing;
    if (!o.error.empty()) {
      mode_ = Mode::command;
      emit(Stream::err, "bastion: " + o.error + "\n");
      finish(kSqlExitError);
      return;
    }
    if (!trim(o.sql).empty()) {
      mode_ = Mode::command;
      // Split as psql splits a script (not as psql -c, which sends the
      // whole string at once): each statement is decided on its own.
      sql_.set_standard_strings(server_standard_strings(conn_.get()));
      std::vector<SqlInputItem> items;
      std::size_t start = 0;
      while (start <= o.sql.size()) {
        const auto nl = o.sql.find('\n', start);
        sql_.feed_line(std::string_view(o.sql).substr(start, nl == std::string::npos ? std::string::npos : nl - start),
                       vars_, items);
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      handle_items(items);
      const std::string rest = sql_.take_all();
      if (!trim(rest).empty()) enqueue_sql(rest);
      return;
    }
    mode_ = pty_ ? Mode::console : Mode::script;
  } else {
    mode_ = pty_ ? Mode::console : Mode::script;
  }
  // A console stops at nothing; a script stops at its first error, like psql -v ON_ERROR_STOP=1.
  if (mode_ == Mode::console) stop_on_error_ = false;
}

PgExecutor::~PgExecutor() { close(); }

void PgExecutor::set_output_wanted(bool wanted) {
  // Only poll the database socket while a statement runs and the client can
  // take more: otherwise a readable socket would spin the session's loop.
  const bool want = wanted && running_ != nullptr;
  if (want != reading_ && want_reads_) want_reads_(want);
  reading_ = want;
}

void PgExecutor::on_notice(void* self, const PGresult* res) {
  auto* e = static_cast<PgExecutor*>(self);
  if (e->running_ && e->running_->withhold_messages) return e->withhold(res, "notice");
  e->emit(Stream::err, PQresultErrorMessage(res));
}

// Under column masks, a server message about a statement that reads masked
// data may quote the data (a failed cast quotes its input; RAISE prints
// anything): the client, the recording and the audit row get only its
// severity and SQLSTATE; the log also gets the server's own message with
// every quoted value cut out (nothing of what RAISE wrote).
void PgExecutor::withhold(const PGresult* res, const char* what) {
  const char* sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string code = state ? state : "";
  const std::string text = (code.empty() ? "" : code + ": ") + "the " + what +
                           " text is withheld because the statement reads masked columns";
  emit(Stream::err, std::string(sev ? sev : "ERROR") + ":  " + text + "\n");
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* context = PQresultErrorField(res, PG_DIAG_CONTEXT);
  log_info("sql message withheld: the statement reads masked columns",
           {{"command", std::to_string(running_->gate.command_id)}, {"kind", what}, {"sqlstate", code},
            {"redacted", redact_server_message(code, primary ? primary : "", context ? context : "")}});
  if (std::string_view(what) == "error") running_->error = text, last_error_verbose_ = text + "\n";
}

void PgExecutor::emit(Stream s, std::string text) {
  if (text.empty()) return;
  if (pty_) {
    text = crlf(text);  // stderr shares the terminal
    s = Stream::out;
  }
  produced_ += text.size();
  if (!pending_.empty() && pending_.back().first == s) pending_.back().second += text;
  else pending_.emplace_back(s, std::move(text));
}

void PgExecutor::flush_output() {
  if (!out_) return;
  for (auto& [s, text] : pending_) out_->write(s, std::move(text));
  pending_.clear();
}

std::string PgExecutor::prompt_text() const {
  std::string p = target_.name;
  p += sql_.blank() ? '=' : sql_.pending();
  const char tx = conn_.tx_state();
  if (tx != '=') p += tx;
  return p + "> ";
}

void PgExecutor::prompt() {
  // Not while a statement is queued or running: its output comes first.
  if (mode_ != Mode::console || prompt_shown_ || finished_ || running_ || !queue_.empty()) return;
  std::string out;
  editor_.begin(prompt_text(), out);
  pending_.emplace_back(Stream::out, std::move(out));
  prompt_shown_ = true;
}

std::size_t PgExecutor::input_capacity() {
  if (finished_) return 0;
  // A console keeps reading while a statement runs, to see Ctrl-C; a
  // script waits until its statements ran (back-pressure on the client).
  if (mode_ == Mode::console) return raw_in_.size() < kMaxInput ? kInputChunk : 0;
  if (mode_ == Mode::command) return kInputChunk;  // stdin is ignored
  if (running_ && running_->copy_in) return raw_in_.size() + partial_line_.size() < kMaxInput ? kInputChunk : 0;
  if (running_ || !queue_.empty() || raw_in_.size() >= kInputChunk) return 0;
  return kInputChunk;
}

bool PgExecutor::write_input(std::string_view data) {
  if (finished_) return true;
  if (mode_ == Mode::command) return true;
  if (mode_ == Mode::console && running_ && data.find('\x03') != std::string_view::npos) {
    send_signal("INT");
    // Keystrokes typed with the Ctrl-C are dropped with the statement.
    const auto pos = data.rfind('\x03');
    data = data.substr(pos + 1);
  }
  raw_in_.append(data);
  return true;
}

void PgExecutor::send_signal(const std::string& name) {
  if (name != "INT" && name != "TERM" && name != "QUIT") return;
  if (!running_) return;
  if (running_->waiting) {  // Ctrl-C while held: withdraw the request
    gate_.cancel_review(running_->gate.review_id);
    running_->cancelled = true;
    return;
  }
  std::string err;
  if (conn_.cancel(err)) emit(Stream::err, "Cancel request sent\n");
  else emit(Stream::err, "Could not send cancel request: " + err + "\n");
}

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

void PgExecutor::enqueue_sql(const std::string& text) {
  Work w;
  w.psql_text = text;
  queue_.push_back(std::move(w));
}

void PgExecutor::handle_items(std::vector<SqlInputItem>& items) {
  // In input order: a backslash command runs in its turn, after the
  // statements before it.
  for (auto& it : items) {
    if (it.kind == SqlInputItem::Kind::meta) {
      Work w;
      w.meta = std::move(it.text);
      queue_.push_back(std::move(w));
    } else {
      enqueue_sql(it.text);
    }
  }
  items.clear();
}

bool PgExecutor::classify_next(Work& w) {
  // Classified when it is its turn, so that the statements before it have
  // run: standard_conforming_strings is then what the server will use.
  const std::string text = std::move(w.psql_text);
  w.psql_text.clear();
  // Not UTF-8: the parser cannot read it as the server would. It is decided
  // (and audited) as a statement that does not parse, never dropped unseen.
  if (std::string scratch; recorder::append_json_escaped(scratch, text)) {
    w.stmt = SqlStatement{};
    const std::size_t end = text.find_last_not_of(" \t\r\n\f;");
    w.stmt.text = text.substr(0, end == std::string::npos ? 0 : end + 1);
    w.stmt.kind = "unknown";
    w.stmt.parse_error = "the statement is not valid UTF-8";
    w.send = text;
    return !w.stmt.text.empty();
  }
  const bool std_strings = server_standard_strings(conn_.get());
  bool national = false;
  // The parser always reads '...' as standard strings; when the server
  // does not, it gets the text with E'...' where the server reads escapes.
  const std::string parsed = std_strings ? text : with_escape_string_literals(text, national);
  auto stmts = classify_sql(parsed);
  if (stmts.empty()) return false;
  if (national)
    for (auto& s : stmts) {
      s.kind = "unknown";
      s.parse_error = "an N'' literal with a backslash cannot be analysed while standard_conforming_strings is off";
    }
  if (stmts.size() == 1 && parsed == text) {
    w.stmt = std::move(stmts[0]);
    w.single = w.stmt.parse_error.empty();
    w.send = same_statement(text, w.stmt.text) ? text : w.stmt.text;
    return true;
  }
  if (stmts.size() == 1) {
    // One statement either way: the server gets it as typed (its warnings
    // about backslashes are psql's too), by the extended protocol, which
    // runs one statement at most; the decision is on what the parser saw.
    w.stmt = std::move(stmts[0]);
    std::size_t end = text.find_last_not_of(" \t\r\n\f;");
    w.stmt.text = text.substr(0, end == std::string::npos ? 0 : end + 1);
    w.send = text;
    return !w.stmt.text.empty();
  }
  // Several statements in one psql text ("\;"): each is decided and sent on its own.
  for (std::size_t i = stmts.size(); i-- > 1;) {
    Work x;
    x.stmt = std::move(stmts[i]);
    queue_.push_front(std::move(x));
  }
  w.stmt = std::move(stmts[0]);
  return true;
}

void PgExecutor::handle_line(const std::string& line) {
  if (sql_.size() + line.size() > kMaxInput) {
    sql_.clear();
    emit(Stream::err, "ERROR:  statement too long for the bastion (1 MiB)\n");
    if (stop_on_error_) finish(kSqlExitError);
    return;
  }
  sql_.set_standard_strings(server_standard_strings(conn_.get()));
  std::vector<SqlInputItem> items;
  sql_.feed_line(line, vars_, items);
  if (sql_.too_long()) {  // the whole line is refused
    sql_.clear();
    emit(Stream::err, "ERROR:  statement too long for the bastion (1 MiB) once its variables are interpolated\n");
    if (stop_on_error_) finish(kSqlExitError);
    return;
  }
  // \g sends the query buffer as it is (a line's last item: it ends the line).
  if (!items.empty() && items.back().kind == SqlInputItem::Kind::meta && trim(items.back().text) == "\\g" &&
      !sql_.blank())
    items.back() = SqlInputItem{SqlInputItem::Kind::statement, sql_.take_all()};
  handle_items(items);
}

void PgExecutor::take_input() {
  if (finished_ || running_ || !queue_.empty()) return;
  if (mode_ == Mode::console) {
    while (!finished_ && queue_.empty()) {
      // Lines typed ahead are handled one at a time, each after what the
      // one before queued has run (a \set before the :name that uses it).
      if (!lines_.empty()) {
        const std::string line = std::move(lines_.front());
        lines_.pop_front();
        if (line == kEofLine) {  // Ctrl-D typed ahead, after the lines before it ran
          emit(Stream::out, "\\q\n");
          return finish(0);
        }
        handle_line(line);
        continue;
      }
      if (raw_in_.empty()) break;
      prompt();
      std::string out;
      std::vector<LineEditor::Event> events;
      const std::size_t used = editor_.feed(raw_in_, out, events);
      raw_in_.erase(0, used);
      if (!out.empty()) pending_.emplace_back(Stream::out, std::move(out));
      for (const auto& ev : events) {
        prompt_shown_ = false;
        if (ev.kind == LineEditor::Event::Kind::eof) {
          if (lines_.empty()) {
            emit(Stream::out, "\\q\n");
            return finish(0);
          }
          lines_.push_back(kEofLine);
          continue;
        }
        if (ev.kind == LineEditor::Event::Kind::interrupt) {
          sql_.clear();
          lines_.clear();
          continue;
        }
        editor_.add_history(ev.text);
        lines_.push_back(ev.text);
      }
      if (used == 0 && lines_.empty()) break;  // an incomplete UTF-8 sequence: wait for the rest
    }
    prompt();
    return;
  }
  // Script: whole lines (a backslash command is a line of its own).
  partial_line_ += raw_in_;
  raw_in_.clear();
  std::size_t start = 0;
  while (!finished_ && queue_.empty()) {
    const auto nl = partial_line_.find('\n', start);
    if (nl == std::string::npos) break;
    handle_line(partial_line_.substr(start, nl - start));
    start = nl + 1;
  }
  partial_line_.erase(0, start);
  if (partial_line_.size() > kMaxInput) {
    partial_line_.clear();
    emit(Stream::err, "ERROR:  line too long for the bastion (1 MiB)\n");
    return finish(kSqlExitError);
  }
  if (input_eof_ && queue_.empty() && !finished_) {
    if (!partial_line_.empty()) {
      handle_line(partial_line_);
      partial_line_.clear();
    }
    // Like psql, a last statement without ';' still runs at end of input.
    const std::string rest = sql_.take_all();
    if (!trim(rest).empty()) enqueue_sql(rest);
    if (queue_.empty()) finish(exit_.status.value_or(0));
  }
}

bool PgExecutor::resolve_masks(Running& r) {
  const Decision& d = r.gate.decision;
  r.masker = std::make_unique<ColumnMasker>(d.column_masks, d.mask_derived, gate_.mask_key());
  // Every result column that comes from a table comes from one the statement
  // names (reads, or writes for RETURNING); views report themselves. So only
  // those relations are looked up (an index scan), and a column from any
  // other relation is masked whole (see begin_rows).
  std::vector<std::string> names;
  for (const auto* list : {&r.work.stmt.reads, &r.work.stmt.writes})
    for (const auto& t : *list) {
      // The parser has already folded unquoted names: quote every part exactly.
      std::string q;
      std::size_t start = 0;
      while (true) {
        const auto dot = t.find('.', start);
        std::string part = t.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        q += "\"";
        for (char c : part) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        q += "\"";
        if (dot == std::string::npos) break;
        q += ".";
        start = dot + 1;
      }
      names.push_back(q);
    }
  if (conn_.tx_state() == '!') return !names.empty() || !r.work.stmt.functions.empty() ? false : true;
  // A function outside pg_catalog may return anything (SELECT email AS x
  // FROM my_func()): its columns have no origin, so treat the statement as
  // reading masked data and let derived-column masking cover them.
  if (!r.work.stmt.functions.empty()) {
    std::vector<std::string> fns;
    for (const auto& f : r.work.stmt.functions) {
      const auto dot = f.rfind('.');
      fns.push_back(lower(dot == std::string::npos ? f : f.substr(dot + 1)));
    }
    PgResult fr = conn_.query(
        "SELECT 1 FROM pg_catalog.pg_proc WHERE proname = ANY($1::pg_catalog.name[]) "
        "AND pronamespace <> 'pg_catalog'::pg_catalog.regnamespace LIMIT 1",
        {text_array(fns)});
    if (!fr || PQresultStatus(fr.get()) != PGRES_TUPLES_OK) return false;
    if (PQntuples(fr.get()) > 0) r.masked_tables.push_back("(function)");
  }
  if (names.empty()) return true;  // nothing named: every column is computed
  // to_regclass, not ::regclass: an unknown name must not abort the user's transaction.
  PgResult res = conn_.query(
      "SELECT a.attrelid::pg_catalog.int8, a.attnum::pg_catalog.int4, c.relname, a.attname "
      "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN "
      "(SELECT pg_catalog.to_regclass(n)::pg_catalog.oid FROM pg_catalog.unnest($1::pg_catalog.text[]) n)",
      {text_array(names)});
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK) return false;
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    ColumnOrigin o{false, PQgetvalue(res.get(), i, 2), PQgetvalue(res.get(), i, 3)};
    // Unparseable catalog values fail the resolution: every column is masked.
    const auto oid = parse_unsigned(PQgetvalue(res.get(), i, 0), 0, UINT32_MAX);
    const auto attnum = parse_unsigned(PQgetvalue(res.get(), i, 1), 1, INT16_MAX);
    if (!oid || !attnum) return false;
    r.origin_of[{static_cast<unsigned>(*oid), static_cast<int>(*attnum)}] = o;
    r.resolved.insert(static_cast<unsigned>(*oid));
    if (r.masker->masks_column(o.table, o.column)) r.masked_tables.push_back(lower(o.table));
  }
  return true;
}

// What column masks cannot cover is refused here, by the bastion, whatever
// the policy decided (mask_guard.h); and notes whether server messages about
// this statement must be withheld.
bool PgExecutor::refuse_under_masks(Running& r) {
  const SqlStatement& s = r.work.stmt;
  const bool unresolved = !r.masked_tables.empty() && r.masked_tables[0] == "*";
  // Statements whose reads their text does not show count as reading masked data.
  const bool hidden_reads = s.kind == "do" || s.kind == "call" || s.kind == "execute" || s.kind == "fetch";
  r.withhold_messages = !r.masked_tables.empty() || hidden_reads;
  // The relations it reads from (not those it only writes into): does one hold a masked column?
  bool reads_masked = unresolved || hidden_reads;
  for (const auto& t : r.masked_tables) reads_masked = reads_masked || t == "(function)";
  for (const auto& t : s.reads) {
    const auto dot = t.rfind('.');
    const std::string base = lower(dot == std::string::npos ? t : t.substr(dot + 1));
    const auto& mt = r.masked_tables;
    reads_masked = reads_masked || std::find(mt.begin(), mt.end(), base) != mt.end();
  }
  std::string reason;
  if (!r.tree.parse(s.text)) {
    if (s.parse_error.empty()) reason = "the bastion could not analyse this statement, and column masks apply";
  } else {
    const ColumnMasker& m = *r.masker;
    const MaskGuardFacts f = mask_guard_facts(r.tree.stmt(), [&m](std::string_view c) { return m.masks_name(c); });
    reason = mask_guard_refusal(f, reads_masked, r.gate.decision.allow_derived_objects);
  }
  if (reason.empty()) return false;
  CommandOutcome o;
  o.status = 1;
  o.error = reason;
  flush_output();
  gate_.command_ended(r.gate.command_id, o);
  emit(Stream::err, "ERROR:  " + reason + "\n");
  if (stop_on_error_) queue_.clear(), finish(kSqlExitDenied);
  return true;
}

void PgExecutor::plan_masks(Running& r, std::vector<ColumnOrigin>& origins, const std::vector<std::size_t>& unknown,
                            int n) {
  if (!r.masked_tables.empty() && r.masked_tables[0] == "*") {
    r.masker->plan_all(static_cast<std::size_t>(n));
  } else {
    // masked_tables holds only relations this statement names (or a
    // user function): any entry means it may read masked data.
    const bool reads_masked = !r.masked_tables.empty();
    if (reads_masked) {
      // A computed column is masked only if its expression can carry a masked value.
      const ColumnMasker& m = *r.masker;
      std::set<std::string, std::less<>> columns;  // of every table the statement names (from the catalog)
      for (const auto& [key, o] : r.origin_of) columns.insert(lower(o.column));
      const auto carry = computed_may_carry(
          r.tree.stmt(), origins.size(), [&m](std::string_view c) { return m.masks_name(c); },
          [&columns](std::string_view c) { return columns.count(lower(std::string(c))) > 0; });
      for (std::size_t i = 0; i < origins.size(); ++i) origins[i].may_carry_masked = carry[i];
    }
    r.masker->plan(r.cols, origins, reads_masked);
    for (auto i : unknown) r.masker->mask_whole(i);  // provenance unknown: fail closed
  }
  const auto names = r.masker->masked_names(r.cols);
  for (std::size_t i = 0; i < names.size(); ++i) r.masked_columns += (i ? "," : "") + names[i];
  // Say why a computed value shows as masked (users took it for a bug).
  const auto derived = r.masker->derived_names(r.cols);
  if (derived.empty()) return;
  std::string list;
  for (const auto& d : derived) list += (list.empty() ? "\"" : ", \"") + display_escape(d) + "\"";
  emit(Stream::err, derived.size() == 1
                        ? "bastion: column " + list + " is masked: it is computed and may carry a masked value\n"
                        : "bastion: columns " + list + " are masked: they are computed and may carry masked values\n");
}

void PgExecutor::start_next() {
  if (running_ || queue_.empty() || finished_) return;
  Work w = std::move(queue_.front());
  queue_.pop_front();
  if (!w.meta.empty()) return handle_meta(trim(w.meta));
  if (!conn_.ok()) return fail(kSqlExitConnection, "bastion: the connection to the database was lost\n");
  if (!w.psql_text.empty() && !classify_next(w)) return;  // only comments: psql shows nothing either
  if (w.send.empty()) w.send = w.stmt.text;
  flush_output();  // what came before is not this statement's output
  CommandRequest req = gate_.request("sql", w.stmt.text);
  req.facts = std::make_shared<SqlCommandFacts>(sql_facts(w.stmt));
  auto r = std::make_unique<Running>();
  const std::string enc = encoding_refusal(conn_.get(), w.stmt);
  r->gate = enc.empty() ? gate_.submit(req) : gate_.refuse(req, enc);
  r->work = std::move(w);
  if (r->gate.review_id) {  // held for a human decision: nothing is sent meanwhile
    r->waiting = true;
    running_ = std::move(r);
    return;
  }
  proceed(std::move(r));
}

void PgExecutor::proceed(std::unique_ptr<Running> r) {
  const Decision& d = r->gate.decision;
  if (!d.allowed()) {
    CommandOutcome o;
    o.status = 1;
    o.error = "denied by policy";
    flush_output();
    gate_.command_ended(r->gate.command_id, o);
    emit(Stream::err, "ERROR:  denied by policy: " + r->gate.refusal + "\n");
    if (stop_on_error_) {
      queue_.clear();
      finish(kSqlExitDenied);
    }
    return;
  }
  if (!d.column_masks.empty()) {
    if (!resolve_masks(*r)) r->origin_of.clear(), r->masked_tables = {"*"};
    if (refuse_under_masks(*r)) return;
  }
  const int64_t cfg_cap = postgres_settings(target_).row_limit;
  r->row_cap = cfg_cap;
  if (d.row_limit && (cfg_cap == 0 || *d.row_limit < cfg_cap)) r->row_cap = *d.row_limit;
  r->started = monotonic_seconds();
  // The extended protocol runs exactly one statement per message: the text
  // that was decided is all that can run. The simple protocol (which also
  // returns the rows of a DO INSTEAD SELECT rule) runs whatever the text
  // holds, so it is used only when the parser found exactly one statement
  // in it and lexes it as the server does (standard_conforming_strings on,
  // checked now that the statements before it have run).
  const bool simple = r->work.single && server_standard_strings(conn_.get());
  const char* text = r->work.send.c_str();
  if (!(simple ? PQsendQuery(conn_.get(), text)
               : PQsendQueryParams(conn_.get(), text, 0, nullptr, nullptr, nullptr, nullptr, 0))) {
    CommandOutcome o;
    o.status = 1;
    o.error = conn_.last_error();
    gate_.command_ended(r->gate.command_id, o);
    return fail(kSqlExitConnection, "bastion: the database connection failed: " + conn_.last_error() + "\n");
  }
  PQsetSingleRowMode(conn_.get());
  running_ = std::move(r);
}

bool PgExecutor::feed_copy() {
  // Lines, so that "\." alone on one ends the data, as in psql. A line
  // longer than any terminator goes out without waiting for its end: a long
  // data line must not fill the input buffer (that stalled the channel).
  partial_line_ += raw_in_;
  raw_in_.clear();
  bool& mid_line = running_->copy_mid_line;
  auto put = [&](const char* p, std::size_t n) { return PQputCopyData(conn_.get(), p, static_cast<int>(n)) == 1; };
  std::size_t start = 0, nl;
  bool ended = false;
  while (!ended && (nl = partial_line_.find('\n', start)) != std::string::npos) {
    std::string_view line(partial_line_.data() + start, nl - start);
    if (!mid_line && (line == "\\." || line == "\\.\r")) ended = true;
    else if (!put(partial_line_.data() + start, nl - start + 1)) ended = true;
    mid_line = false;
    start = nl + 1;
  }
  constexpr std::size_t kLongestTerminator = 3;  // "\.\r"
  if (!ended && partial_line_.size() - start > kLongestTerminator) {
    if (!put(partial_line_.data() + start, partial_line_.size() - start)) ended = true;
    mid_line = true;
    start = partial_line_.size();
  }
  partial_line_.erase(0, start);
  if (!ended && input_eof_) {
    // The last line may lack its newline.
    if (mid_line || (!partial_line_.empty() && partial_line_ != "\\.")) {
      const std::string last = partial_line_ + "\n";
      put(last.data(), last.size());
    }
    partial_line_.clear();
    ended = true;
  }
  if (!ended) return true;  // waits for more input
  PQputCopyEnd(conn_.get(), nullptr);
  running_->copy_in = false;
  return false;
}

bool PgExecutor::poll_held() {
  if (!running_ || !running_->waiting) return false;
  std::optional<GateResult> res;
  if (running_->cancelled) {
    res = GateResult{};
    res->decision = Decision::deny("request #" + std::to_string(running_->gate.review_id) + " cancelled");
    res->refusal = res->decision.reason;
  } else {
    res = gate_.poll_review(running_->gate.review_id);
  }
  if (!res) return true;  // still waiting
  auto r = std::move(running_);
  const int64_t held_row = r->gate.command_id;
  r->waiting = false;
  r->gate = *res;
  if (r->gate.command_id == 0) r->gate.command_id = held_row;  // refused: finish the held row
  proceed(std::move(r));
  return false;
}

void PgExecutor::begin_rows(const PGresult* res) {
  Running& r = *running_;
  r.header = true;
  const int n = PQnfields(res);
  std::vector<ColumnOrigin> origins;
  std::vector<std::size_t> unknown;  // from a relation the statement did not name
  for (int i = 0; i < n; ++i) {
    r.cols.push_back({PQfname(res, i), column_type(PQftype(res, i))});
    ColumnOrigin o;
    const unsigned tbl = PQftable(res, i);
    if (tbl != 0) {
      o.computed = false;
      // The catalog gave every column of the tables named: anything else
      // (column 0 is a whole row, `SELECT c FROM customers c`) or a table
      // not named is masked whole.
      const auto it = r.origin_of.find({tbl, PQftablecol(res, i)});
      if (it != r.origin_of.end()) o = it->second;
      else unknown.push_back(static_cast<std::size_t>(i));
    }
    origins.push_back(o);
  }
  if (r.masker) plan_masks(r, origins, unknown, n);
}

void PgExecutor::release_held(bool last) {
  Running& r = *running_;
  std::string out;
  const bool meta = r.work.describe && r.work.describe->meta_columns;
  if (!r.renderer) {
    PrintOptions po = print_;
    if (r.work.describe) po.title = r.work.describe->title, po.footer = r.work.describe->footer;
    if (meta && r.cols.size() >= 2) {
      // The title and the footer lines came as the first and last columns.
      if (!r.held.empty()) po.title = r.held[0].front().value, po.footer_lines = r.held[0].back().value;
      r.cols.erase(r.cols.begin());
      r.cols.pop_back();
    }
    // A whole result is laid out at once, as psql does; past the cap, in batches.
    r.renderer = make_renderer(po, last ? std::max<std::size_t>(r.held.size(), 1) : kStreamBatchRows);
    r.renderer->begin(r.cols, out);
  }
  for (auto& row : r.held) {
    if (meta && row.size() >= 2) row.erase(row.begin()), row.pop_back();
    r.renderer->row(std::move(row), out);
  }
  r.held.clear();
  r.held_bytes = 0;
  emit(Stream::out, std::move(out));
}

void PgExecutor::on_result(PGresult* res) {
  Running& r = *running_;
  const ExecStatusType st = PQresultStatus(res);
  switch (st) {
    case PGRES_SINGLE_TUPLE: {
      if (!r.header) begin_rows(res);
      ++r.rows;
      ++r.set_rows;
      if (r.row_cap > 0 && r.rows > static_cast<uint64_t>(r.row_cap)) break;  // counted, not shown
      std::vector<Cell> cells(r.cols.size());
      for (int i = 0; i < static_cast<int>(r.cols.size()); ++i) {
        if (PQgetisnull(res, 0, i)) cells[static_cast<std::size_t>(i)].null = true;
        else cells[static_cast<std::size_t>(i)].value.assign(PQgetvalue(res, 0, i), static_cast<std::size_t>(PQgetlength(res, 0, i)));
      }
      if (r.masker && r.masker->active()) r.masker->apply(cells);
      ++r.shown;
      ++r.set_shown;
      for (const auto& c : cells) r.held_bytes += c.value.size() + kRenderCellOverhead;
      r.held.push_back(std::move(cells));
      // Held until the result completes; past the cap it streams (and a
      // later failure says how much was shown).
      if (r.streaming || r.held_bytes >= kRenderBatchBytes) {
        r.streaming = true;
        release_held(false);
      }
      break;
    }
    case PGRES_TUPLES_OK: {
      if (!r.header) begin_rows(res);
      std::string out;
      if (r.set_rows == 0 && r.work.describe && !r.work.describe->empty_message.empty()) {
        emit(Stream::err, r.work.describe->empty_message + "\n");
        if (r.work.describe->empty_fails) r.error = "describe: " + r.work.describe->empty_message;
      } else {
        if (!r.streaming) release_held(true);
        r.renderer->end(r.set_shown, out);
      }
      emit(Stream::out, std::move(out));
      if (r.set_rows > r.set_shown)
        emit(Stream::err, "bastion: row limit reached: showed " + std::to_string(r.set_shown) + " of " +
                              std::to_string(r.set_rows) + " rows\n");
      // A rule may return another result set: it starts afresh.
      r.header = false;
      r.cols.clear();
      r.renderer.reset();
      r.streaming = false;
      r.set_rows = r.set_shown = 0;
      const std::string tag = PQcmdStatus(res);
      if (tag.starts_with("INSERT") || tag.starts_with("UPDATE") || tag.starts_with("DELETE") ||
          tag.starts_with("MERGE"))
        emit(Stream::out, tag + "\n");
      break;
    }
    case PGRES_COMMAND_OK: {
      const std::string tag = PQcmdStatus(res);
      if (!tag.empty() && !r.copied_out) emit(Stream::out, tag + "\n");
      const char* n = PQcmdTuples(res);
      if (n && *n)
        if (const auto v = parse_unsigned(n, 0, INT64_MAX)) r.affected = static_cast<int64_t>(*v);
      break;
    }
    case PGRES_EMPTY_QUERY: break;
    case PGRES_COPY_OUT: break;  // data follows (poll_results)
    case PGRES_COPY_IN:
      // The data follows the statement in a script (pg_dump's layout), up
      // to a line "\." or the end of input. Elsewhere there is none to send.
      if (mode_ == Mode::script) {
        r.copy_in = true;
      } else {
        PQputCopyEnd(conn_.get(), "COPY FROM STDIN takes its data from a script on stdin (ssh TARGET < file.sql)");
        r.copy_aborted = true;
      }
      break;
    case PGRES_COPY_BOTH:
    case PGRES_BAD_RESPONSE:
    case PGRES_NONFATAL_ERROR:
    case PGRES_FATAL_ERROR:
    default: {
      // psql prints nothing of a failed result: held rows go unseen.
      r.held.clear();
      r.held_bytes = 0;
      if (r.streaming) {
        std::string out;
        if (print_.format == PrintOptions::Format::json) r.renderer->end(r.set_shown, out);  // stays valid JSON
        emit(Stream::out, std::move(out));
        emit(Stream::err, "bastion: " + std::to_string(r.set_shown) +
                              " rows of this result were shown before it failed (results over " +
                              std::to_string(kRenderBatchBytes >> 20) + " MiB are shown as they arrive)\n");
        r.streaming = false;
      }
      // The error that ends a COPY the bastion aborted carries the bastion's own text.
      const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      const bool ours = r.copy_aborted && state && std::string_view(state) == "57014";
      if (r.withhold_messages && !ours) {
        withhold(res, "error");
        break;
      }
      emit(Stream::err, PQresultErrorMessage(res));
      r.error = std::string(state ? state : "") + ": " + first_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
      char* verbose = PQresultVerboseErrorMessage(res, PQERRORS_VERBOSE, PQSHOW_CONTEXT_ALWAYS);
      if (verbose) last_error_verbose_ = verbose, PQfreemem(verbose);
      break;
    }
  }
}

void PgExecutor::poll_results(std::size_t budget) {
  // Read from the socket only when libpq has no complete message buffered:
  // PQconsumeInput compacts libpq's buffer, so calling it per row would make
  // a large result quadratic.
  auto read_more = [&]() {
    if (PQconsumeInput(conn_.get())) return true;
    CommandOutcome o;
    o.status = 1;
    o.error = conn_.last_error();
    flush_output();
    gate_.command_ended(running_->gate.command_id, o);
    running_.reset();
    fail(kSqlExitConnection, "bastion: the connection to the database was lost: " + conn_.last_error() + "\n");
    return false;
  };
  while (running_ && produced_ < budget) {
    if (running_->copy_in) return;  // the data comes from the user first (feed_copy)
    if (running_->in_copy) {
      // COPY TO STDOUT: raw data, straight through the output filters.
      char* buf = nullptr;
      int n = PQgetCopyData(conn_.get(), &buf, 1);
      if (n == 0) {
        if (!read_more()) return;
        n = PQgetCopyData(conn_.get(), &buf, 1);
        if (n == 0) return;  // wait for the socket
      }
      if (n > 0) {
        emit(Stream::out, std::string(buf, static_cast<std::size_t>(n)));
        PQfreemem(buf);
        ++running_->rows;
        continue;
      }
      running_->in_copy = false;  // -1: done, the final result follows
    }
    if (PQisBusy(conn_.get())) {
      if (!read_more()) return;
      if (PQisBusy(conn_.get())) return;  // wait for the socket
    }
    PGresult* res = PQgetResult(conn_.get());
    if (!res) return end_statement();
    if (PQresultStatus(res) == PGRES_COPY_OUT) running_->in_copy = running_->copied_out = true;
    on_result(res);
    PQclear(res);
  }
}

void PgExecutor::end_statement() {
  Running& r = *running_;
  const double ms = (monotonic_seconds() - r.started) * 1000.0;
  if (timing_) emit(Stream::out, format_ms(ms));
  CommandOutcome o;
  o.status = r.error.empty() ? 0 : 1;
  o.rows = r.affected ? *r.affected : static_cast<int64_t>(r.rows);
  o.duration_us = static_cast<int64_t>(std::llround(ms * 1000.0));
  o.error = r.error;
  o.masked_columns = r.masked_columns;
  flush_output();  // this statement's output passes its masks before they close
  gate_.command_ended(r.gate.command_id, o);
  const bool failed = !r.error.empty();
  running_.reset();
  if (failed) {
    if (stop_on_error_) {
      queue_.clear();
      finish(kSqlExitError);
    } else if (mode_ != Mode::console) {
      exit_.status = kSqlExitError;  // psql without ON_ERROR_STOP still reports failure... at the end
    }
  }
}

void PgExecutor::fail(int status, const std::string& message) {
  emit(Stream::err, message);
  queue_.clear();
  finish(status);
}

void PgExecutor::finish(int status) {
  if (finished_) return;
  finished_ = true;
  exit_.status = status;
}

bool PgExecutor::pump_output(OutputPipeline& out, std::size_t budget) {
  out_ = &out;
  produced_ = 0;
  while (!closed_ && produced_ < budget) {
    if (running_ && running_->waiting) {
      if (poll_held()) break;
      continue;
    }
    if (running_ && running_->copy_in) {
      if (feed_copy()) break;
      continue;
    }
    if (running_) {
      poll_results(budget);
      if (running_) break;  // waiting for the server or for the client
      continue;
    }
    if (finished_) break;
    if (!queue_.empty()) {
      start_next();
      continue;
    }
    const std::size_t before = raw_in_.size() + partial_line_.size();
    take_input();
    if (finished_ || !queue_.empty()) continue;
    if (raw_in_.size() + partial_line_.size() == before) break;  // nothing new to do
  }
  if (mode_ == Mode::command && !running_ && queue_.empty()) finish(exit_.status.value_or(0));
  flush_output();
  out_ = nullptr;
  return !(finished_ && !running_);
}

void PgExecutor::close() {
  if (closed_) return;
  closed_ = true;
  if (running_ && running_->waiting) {
    gate_.cancel_review(running_->gate.review_id);
    running_.reset();
  }
  if (running_) {
    // The client left mid-statement: stop it on the server, then drain.
    std::string err;
    conn_.cancel(err);
    CommandOutcome o;
    o.status = 1;
    o.error = "client disconnected";
    gate_.command_ended(running_->gate.command_id, o);
    while (PGresult* res = PQgetResult(conn_.get())) {
      const ExecStatusType st = PQresultStatus(res);
      PQclear(res);
      if (st == PGRES_COPY_OUT) {
        char* b = nullptr;
        while (PQgetCopyData(conn_.get(), &b, 0) > 0) PQfreemem(b);
      } else if (st == PGRES_COPY_IN) {
        PQputCopyEnd(conn_.get(), "cancelled");
      }
    }
    running_.reset();
  }
  PQsetNoticeReceiver(conn_.get(), prev_receiver_, prev_arg_);
  if (reading_ && want_reads_) want_reads_(false);
  reading_ = false;
}

}  // namespace bastion
