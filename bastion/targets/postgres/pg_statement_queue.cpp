// The SQL statement queue: each psql text is classified in its turn,
// decided through the CommandGate (held ones wait for approval), then sent
// by the protocol that runs exactly what was decided; COPY FROM STDIN
// data follows from the script.
#include "targets/postgres/pg_executor.h"

#include <algorithm>

#include "common/time_util.h"
#include "recorder/utf8.h"
#include "targets/postgres/error_position.h"
#include "targets/postgres/pg_text.h"

namespace bastion {

using namespace pg_text;

namespace {

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

}  // namespace

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
      s.syntax_error = false;  // the bastion's limit, not the user's error
      s.parse_error = "an N'' literal with a backslash cannot be analysed while standard_conforming_strings is off";
      s.tree.reset();  // not what the server will read
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
    w.stmt = std::move(stmts[0]);  // its tree is the parse of what the server reads (`parsed`)
    std::size_t end = text.find_last_not_of(" \t\r\n\f;");
    w.stmt.text = text.substr(0, end == std::string::npos ? 0 : end + 1);
    w.send = text;
    return !w.stmt.text.empty();
  }
  // A psql text the server's parser would reject whole ("SELECT 1 \; selec 2")
  // runs nothing there: here too, it is one invalid text with the server's error.
  if (parsed == text && std::any_of(stmts.begin(), stmts.end(), [](const SqlStatement& s) { return s.syntax_error; })) {
    SqlStatement whole;
    if (sql_syntax_error(text, whole.parse_error, whole.error_position)) {
      const std::size_t b = text.find_first_not_of(" \t\r\n\f"), end = text.find_last_not_of(" \t\r\n\f;");
      if (b == std::string::npos) return false;
      whole.text = text.substr(b, end - b + 1);
      whole.error_position = std::max(1, whole.error_position - static_cast<int>(b));  // blanks are 1 byte
      whole.kind = "unknown";
      whole.syntax_error = true;
      w.stmt = std::move(whole);
      w.send = text;
      return true;
    }
  }
  // Several statements in one psql text ("\;"): each is decided and sent on its own.
  for (std::size_t i = stmts.size(); i-- > 1;) {
    Work x;
    x.stmt = std::move(stmts[i]);
    x.read_with_standard_strings = std_strings;
    queue_.push_front(std::move(x));
  }
  w.stmt = std::move(stmts[0]);
  return true;
}

void PgExecutor::start_next() {
  if (running_ || queue_.empty() || finished_) return;
  Work w = std::move(queue_.front());
  queue_.pop_front();
  if (!w.meta.empty()) return handle_meta(trim(w.meta));
  if (!conn_.ok()) return fail(kSqlExitConnection, "bastion: the connection to the database was lost\n");
  if (!w.psql_text.empty() && !classify_next(w)) return;  // only comments: psql shows nothing either
  if (w.send.empty()) w.send = w.stmt.text;
  console_.flush();  // what came before is not this statement's output
  if (w.stmt.syntax_error) return refuse_invalid(w);
  CommandRequest req = gate_.request("sql", w.stmt.text);
  req.facts = std::make_shared<SqlCommandFacts>(sql_facts(w.stmt));
  auto r = std::make_unique<Running>();
  std::string enc = encoding_refusal(conn_.get(), w.stmt);
  // "SET standard_conforming_strings = off \; SELECT '\'' ...": the group
  // was read before the SET ran; the server would read this one otherwise.
  if (enc.empty() && w.read_with_standard_strings && *w.read_with_standard_strings != server_standard_strings(conn_.get()))
    enc = "standard_conforming_strings changed earlier in this line, after the bastion read this statement; "
          "send it again on its own";
  r->gate = enc.empty() ? gate_.submit(req) : gate_.refuse(req, enc);
  r->work = std::move(w);
  if (r->gate.review_id) {  // held for a human decision: nothing is sent meanwhile
    r->review.emplace(gate_, r->gate);
    running_ = std::move(r);
    return;
  }
  proceed(std::move(r));
}

void PgExecutor::refuse_invalid(const Work& w) {
  // The server would refuse it too, so no policy is asked: it is audited
  // as kind "invalid" (a bastion refusal, not a policy denial), nothing is
  // sent, and the user reads the error as psql prints the server's.
  CommandRequest req = gate_.request("invalid", w.stmt.text);
  req.facts = std::make_shared<SqlCommandFacts>(sql_facts(w.stmt));
  const GateResult g = gate_.refuse(req, w.stmt.parse_error);
  CommandOutcome o;
  o.status = 1;
  o.error = "42601: " + w.stmt.parse_error;
  gate_.command_ended(g.command_id, o);
  // The server would have parsed psql's text (with its ';'): its error and
  // position then (at or near ";", not "at end of input").
  std::string message = w.stmt.parse_error, shown = w.stmt.text;
  int position = w.stmt.error_position;
  if (!w.stmt.over_limit && same_statement(w.send, w.stmt.text)) {
    std::string m;
    int p = 0;
    if (sql_syntax_error(w.send, m, p)) message = std::move(m), position = p, shown = w.send;
  }
  emit(Stream::err, "ERROR:  " + message + "\n" + pg_error_position(shown, position));
  last_error_verbose_ = "ERROR:  42601: " + message + "\n";
  if (stop_on_error_) {
    queue_.clear();
    finish(kSqlExitError);
  } else if (mode_ != Mode::console) {
    exit_.status = kSqlExitError;  // as a failed statement
  }
}

void PgExecutor::proceed(std::unique_ptr<Running> r) {
  const Decision& d = r->gate.decision;
  if (!d.allowed()) {
    CommandOutcome o;
    o.status = 1;
    o.error = "denied by policy";
    console_.flush();
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

bool PgExecutor::poll_held() {
  if (!running_ || !running_->review) return false;
  const std::optional<GateResult> res = running_->review->poll();
  if (!res) return true;  // still waiting
  auto r = std::move(running_);
  r->review.reset();
  r->gate = *res;
  proceed(std::move(r));
  return false;
}

bool PgExecutor::feed_copy() {
  // Lines, so that "\." alone on one ends the data, as in psql. A line
  // longer than any terminator goes out without waiting for its end: a long
  // data line must not fill the input buffer (that stalled the channel).
  std::string& in = console_.script_input();
  bool& mid_line = running_->copy_mid_line;
  auto put = [&](const char* p, std::size_t n) { return PQputCopyData(conn_.get(), p, static_cast<int>(n)) == 1; };
  std::size_t start = 0, nl;
  bool ended = false;
  while (!ended && (nl = in.find('\n', start)) != std::string::npos) {
    std::string_view line(in.data() + start, nl - start);
    if (!mid_line && (line == "\\." || line == "\\.\r")) ended = true;
    else if (!put(in.data() + start, nl - start + 1)) ended = true;
    mid_line = false;
    start = nl + 1;
  }
  constexpr std::size_t kLongestTerminator = 3;  // "\.\r"
  if (!ended && in.size() - start > kLongestTerminator) {
    if (!put(in.data() + start, in.size() - start)) ended = true;
    mid_line = true;
    start = in.size();
  }
  in.erase(0, start);
  if (!ended && console_.input_ended()) {
    // The last line may lack its newline.
    if (mid_line || (!in.empty() && in != "\\.")) {
      const std::string last = in + "\n";
      put(last.data(), last.size());
    }
    in.clear();
    ended = true;
  }
  if (!ended) return true;  // waits for more input
  PQputCopyEnd(conn_.get(), nullptr);
  running_->copy_in = false;
  return false;
}

}  // namespace bastion
