#include "targets/postgres/wire/pg_wire_executor.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "common/parse_number.h"
#include "common/time_util.h"
#include "targets/postgres/wire/pg_wire_startup.h"

namespace bastion::pgwire {
namespace {

constexpr std::size_t kMaxPending = 256 * 1024;  // client bytes waiting for the server, per connection

FramerLimits client_limits() {
  FramerLimits l;
  l.max_message = 8 << 20;   // a Query or a Bind with its values
  l.max_copy_data = 1 << 20;  // COPY FROM STDIN rows
  return l;
}

FramerLimits server_limits() {
  FramerLimits l;
  l.max_message = 1 << 20;
  l.max_copy_data = 64 << 20;  // one DataRow / CopyData row
  return l;
}

bool utf8_encoding(std::string_view v) {
  std::string n;
  for (char ch : v)
    if (ch != '-' && ch != '_') n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return n == "utf8" || n == "unicode";
}

// The bastion splits and reads SQL as UTF-8 with standard_conforming_strings
// on, as the client's text reaches the server unchanged: a session where the
// server would lex it otherwise runs nothing, and no statement may switch
// either setting.
std::string lexing_refusal(const SqlStatement& s, bool standard_strings, bool utf8) {
  if (!standard_strings)
    return "standard_conforming_strings is off in this session; the bastion reads SQL only as the server does with it on";
  if (!utf8) return "the session's client_encoding is not UTF8; the bastion reads SQL as UTF-8 only";
  // The simple protocol runs the whole text: what the bastion could not
  // split and read must not reach the server as one "statement".
  if (!s.parse_error.empty() && !s.syntax_error) return "the bastion cannot analyse this statement: " + s.parse_error;
  for (const auto& st : s.sets) {
    if ((st.name == "client_encoding" || st.name == "all") && !st.reset && !utf8_encoding(st.value))
      return "client_encoding can only be UTF8 through the bastion (it reads SQL as UTF-8)";
    const std::string v = [&] {
      std::string l;
      for (char c : st.value) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return l;
    }();
    if (st.name == "standard_conforming_strings" && !st.reset && v != "on" && v != "true" && v != "1" && v != "yes")
      return "standard_conforming_strings can only be on through the bastion (it reads SQL as the server does with it on)";
  }
  return "";
}

std::string field_text(const Fields& f, char k) {
  for (const auto& [key, v] : f)
    if (key == k) return v;
  return "";
}

// The count a CommandComplete tag ends with ("INSERT 0 3", "UPDATE 2", "SELECT 5").
std::optional<int64_t> tag_rows(const std::string& tag) {
  const auto sp = tag.rfind(' ');
  if (sp == std::string::npos) return std::nullopt;
  const auto n = parse_unsigned(tag.substr(sp + 1), 0, INT64_MAX);
  if (!n) return std::nullopt;
  return static_cast<int64_t>(*n);
}

CommandOutcome failed(std::string error) {
  CommandOutcome o;
  o.status = 1;
  o.error = std::move(error);
  return o;
}

std::string denied_error(const std::string& reason) {
  return encode_error(make_fields("ERROR", "42501", "bastion: denied: " + reason));
}

}  // namespace

PgWireExecutor::PgWireExecutor(const TargetConfig& t, const PostgresCredential& cred, CommandGate& gate,
                               CancelKeys& keys, Watch watch)
    : target_(t), cred_(cred), gate_(gate), keys_(keys), watch_(std::move(watch)),
      from_client_(true, client_limits()), from_server_(false, server_limits()) {}

PgWireExecutor::~PgWireExecutor() { close(); }

std::size_t PgWireExecutor::input_capacity() {
  if (up_ && !to_server_.empty()) up_->write(to_server_);
  if (closing_ || terminated_) return 0;
  const std::size_t used = std::max(to_server_.size(), from_client_.buffered());
  // A message longer than the pending bound is still read whole: the
  // framer accepted its length (at most the message limit) already.
  return std::max(used >= kMaxPending ? 0 : kMaxPending - used, from_client_.missing());
}

bool PgWireExecutor::write_input(std::string_view data) {
  if (closing_ || terminated_) return true;  // dropped: the connection is ending
  from_client_.feed(data);
  process_client();
  if (up_ && !to_server_.empty() && up_->write(to_server_) == Upstream::Io::closed) closing_ = true;
  return true;
}

void PgWireExecutor::send_eof() {
  // The client closed its end: nothing more will be asked.
  terminated_ = true;
  if (client_out_.empty()) closing_ = true;
}

void PgWireExecutor::set_output_wanted(bool wanted) {
  output_wanted_ = wanted;
  if (!up_ || !watch_) return;
  const bool on = wanted && up_->ok();
  if (on == watching_) return;
  watching_ = on;
  watch_(up_->socket(), on);
}

std::optional<int> PgWireExecutor::wants_wakeup_ms() const {
  if (up_ && up_->has_buffered()) return 0;
  if (!client_out_.empty() || !records_.empty()) return 0;
  if (!to_server_.empty()) return 10;  // the server's socket was full
  if (held_) return kExecutorPollMs;   // a statement waits for review
  return std::nullopt;
}

bool PgWireExecutor::show_notice(const std::string& text) {
  if (!up_) return false;
  to_client(encode_notice(make_fields("NOTICE", "00000", text)));
  return true;
}

// ---- startup ----

void PgWireExecutor::process_client() {
  Message m;
  while (!held_ && !closing_) {
    const Framer::Status st = from_client_.next(m);
    if (st == Framer::Status::more) return;
    if (st == Framer::Status::error) return protocol_error(from_client_.error());
    if (from_client_.in_startup()) {
      on_startup_packet(m);
      continue;
    }
    if (!on_client_message(m)) return;
  }
}

void PgWireExecutor::on_startup_packet(const Message& m) {
  StartupPacket p;
  std::string err;
  if (!decode_startup(m.body, p, err)) return fatal("08P01", "bastion: " + err);
  if (p.code == kSslRequestCode || p.code == kGssEncRequestCode) {
    // The SSH tunnel is the encryption; the client goes on in plain text.
    to_client(encode_ssl_refused());
    return;
  }
  if (p.code == kCancelRequestCode) {
    // Unknown keys are ignored silently, as the server does.
    const bool matched = keys_.cancel(p.pid, p.key);
    log_info("wire cancel request", {{"matched", matched ? "yes" : "no"}});
    closing_ = true;
    return;
  }
  if (p.code != kProtocol3) return fatal("0A000", "bastion: unsupported frontend protocol " +
                                                      std::to_string(p.code >> 16) + "." +
                                                      std::to_string(p.code & 0xffff) + ": only 3.0 is served");
  connect_upstream(p);
}

void PgWireExecutor::connect_upstream(const StartupPacket& p) {
  const StartupVerdict v = check_startup(p, postgres_settings(target_).dbname);
  if (!v.ok) return fatal(v.sqlstate, v.message);
  PgConnectOptions opts;
  opts.application_name = v.application_name.empty() ? "bastion" : v.application_name;
  opts.settings = v.settings;
  std::string err;
  auto conn = PgConnection::connect(target_, cred_, err, opts);
  if (!conn) return fatal("08006", "bastion: " + err);
  up_ = std::make_unique<Upstream>(std::move(conn));
  if (!up_->ok()) return fatal("08006", "bastion: cannot relay the connection to \"" + target_.name + "\"");
  key_ = keys_.add([this] {
    if (held_) {
      for (auto& s : held_->stmts)
        if (s->review) s->review->cancel();
    } else if (up_) {
      up_->cancel();
    }
  });
  if (!key_) return fatal("53000", "bastion: no random cancel key is available");
  from_client_.end_startup();
  log_info("wire client connected", {{"target", target_.name}, {"client_user", v.user},
                                     {"application_name", v.application_name}});
  std::string hello = encode_auth_ok();
  for (const auto& [k, val] : up_->parameters()) {
    hello += encode_parameter_status(k, k == "client_encoding" ? "UTF8" : val);
    if (k == "standard_conforming_strings") standard_strings_ = val == "on";
  }
  hello += encode_backend_key_data(key_->first, key_->second);
  hello += encode_ready_for_query('I');
  to_client(std::move(hello));
  set_output_wanted(output_wanted_);
}

void PgWireExecutor::fatal(std::string_view sqlstate, const std::string& message) {
  to_client(encode_error(make_fields("FATAL", sqlstate, message)));
  closing_ = true;
}

void PgWireExecutor::protocol_error(const std::string& message) {
  log_warn("wire protocol violation", {{"target", target_.name}, {"error", message}});
  if (up_) to_server_ += frame('X', "");  // Terminate: the server ends its backend
  fatal("08P01", "bastion: invalid frontend message: " + message);
}

// ---- client messages ----

bool PgWireExecutor::on_client_message(const Message& m) {
  if (skip_to_sync_ && m.type != 'S') return true;  // as the server after an error
  switch (m.type) {
    case 'Q': return on_query(m.body), !held_;
    case 'P': return on_parse(m.body), true;
    case 'B': return on_bind(m.body);
    case 'E': {
      ExecuteMsg e;
      std::string err;
      if (!decode_execute(m.body, e, err)) return protocol_error(err), false;
      const auto it = portals_.find(e.portal);
      if (it == portals_.end()) {
        // A portal SQL made (DECLARE CURSOR): its statement was decided, but
        // its rows would come back with no statement to mask them for.
        refuse_extended(denied_error("portal \"" + e.portal + "\" was not bound through this connection's Bind messages"));
        return true;
      }
      Expect x = expect('E');
      if (it->second) x.stmts.push_back(it->second);  // null: an empty query
      forward('E', m.body, std::move(x));
      return true;
    }
    case 'D': {
      TargetRef r;
      std::string err;
      if (!decode_describe_or_close(m.body, r, err)) return protocol_error(err), false;
      Expect x = expect('D');
      if (r.kind == 'P')
        if (const auto it = portals_.find(r.name); it != portals_.end()) x.stmts.push_back(it->second);
      forward('D', m.body, std::move(x));
      return true;
    }
    case 'C': {
      TargetRef r;
      std::string err;
      if (!decode_describe_or_close(m.body, r, err)) return protocol_error(err), false;
      if (r.kind == 'S') prepared_.erase(r.name);
      else portals_.erase(r.name);
      forward('C', m.body, expect('C'));
      return true;
    }
    case 'S':
      skip_to_sync_ = false;
      forward('S', m.body, expect('S'));
      return true;
    case 'H':  // Flush: no answer of its own
    case 'd':  // CopyData, CopyDone, CopyFail: part of a COPY FROM STDIN the server started
    case 'c':
    case 'f':
      forward(m.type, m.body, expect(0));
      return true;
    case 'X':
      forward('X', m.body, expect(0));
      terminated_ = true;
      return false;
    case 'F': {
      // Fastpath function calls (lo_export, lo_import, ...) run functions by
      // oid, past any statement a policy could read: always refused.
      CommandRequest req = gate_.request("sql", "fastpath function call");
      SqlFacts f;
      f.source = "wire";
      f.statement = "unknown";
      f.parse_error = "a fastpath function call is not a statement";
      req.facts = std::make_shared<SqlCommandFacts>(f);
      const std::string why = "fastpath function calls are not allowed through the bastion";
      const GateResult g = gate_.refuse(req, why);
      gate_.command_ended(g.command_id, failed(why));
      answer(denied_error(why), true);
      return true;
    }
    default:
      protocol_error(std::string("unexpected message type '") +
                     (std::isprint(static_cast<unsigned char>(m.type)) ? std::string(1, m.type) : "?") + "'");
      return false;
  }
}

void PgWireExecutor::forward(char type, std::string_view body, Expect e) {
  to_server_ += frame(type, body);
  if (e.type) expect_.push_back(std::move(e));
}

void PgWireExecutor::answer(std::string framed, bool ready) {
  Expect e = expect('!');
  e.synthetic = std::move(framed);
  e.ready = ready;
  expect_.push_back(std::move(e));
  flush_due();
}

void PgWireExecutor::refuse_extended(const std::string& framed_error) {
  answer(framed_error, false);
  skip_to_sync_ = true;  // the client's next messages up to Sync are dropped, as the server would
}

void PgWireExecutor::flush_due() {
  while (!expect_.empty() && expect_.front().type == '!') {
    Expect& e = expect_.front();
    to_client(std::move(e.synthetic) + (e.ready ? encode_ready_for_query(tx_status_) : ""));
    expect_.pop_front();
  }
}

PgWireExecutor::StmtPtr PgWireExecutor::decide(SqlStatement stmt, std::vector<SqlParam> params) {
  auto s = std::make_shared<WireStatement>();
  s->stmt = std::move(stmt);
  s->params = std::move(params);
  CommandRequest req = gate_.request("sql", s->stmt.text);
  SqlFacts f = sql_facts(s->stmt);
  f.source = "wire";
  f.params = s->params;
  req.facts = std::make_shared<SqlCommandFacts>(std::move(f));
  const std::string enc = lexing_refusal(s->stmt, standard_strings_, utf8_);
  s->gate = enc.empty() ? gate_.submit(req) : gate_.refuse(req, enc);
  if (s->gate.review_id) s->review.emplace(gate_, s->gate);
  return s;
}

bool PgWireExecutor::finish_decision(WireStatement& s) {
  if (s.gate.decision.allowed()) {
    const std::string why = prepare_masks(s, gate_.mask_key());
    if (why.empty()) {
      s.started = monotonic_seconds();
      return true;
    }
    s.gate.refusal = why;
  }
  s.ended = true;
  gate_.command_ended(s.gate.command_id, failed(s.gate.decision.allowed() ? s.gate.refusal : "denied by policy"));
  records_.push_back(s.stmt.text + "\n" + "denied: " + s.gate.refusal + "\n");
  return false;
}

void PgWireExecutor::on_query(const std::string& body) {
  std::string sql, err;
  if (!decode_query(body, sql, err)) return protocol_error(err);
  auto stmts = classify_sql(sql);
  if (stmts.empty()) return forward('Q', body, expect('Q'));  // only comments: EmptyQueryResponse
  if (std::any_of(stmts.begin(), stmts.end(), [](const SqlStatement& s) { return s.syntax_error; })) {
    // The server would refuse the whole text without running any of it:
    // refused here, audited as invalid (as the console does), never sent.
    std::string message = "syntax error";
    int position = 0;
    sql_syntax_error(sql, message, position);
    CommandRequest req = gate_.request("invalid", sql);
    SqlFacts f = sql_facts(stmts.front());
    f.source = "wire";
    req.facts = std::make_shared<SqlCommandFacts>(f);
    const GateResult g = gate_.refuse(req, message);
    gate_.command_ended(g.command_id, failed("42601: " + message));
    records_.push_back(sql + "\nERROR: " + message + "\n");
    Fields fields = make_fields("ERROR", "42601", message);
    if (position > 0) fields.emplace_back('P', std::to_string(position));
    return answer(encode_error(fields), true);
  }
  Held h;
  h.type = 'Q';
  h.body = body;
  for (auto& s : stmts) {
    auto w = std::make_shared<WireStatement>();
    w->stmt = std::move(s);
    h.stmts.push_back(std::move(w));
  }
  if (!decide_query(h)) held_ = std::move(h);
}

bool PgWireExecutor::decide_query(Held& h) {
  for (; h.next < h.stmts.size(); ++h.next) {
    StmtPtr& s = h.stmts[h.next];
    if (!s->gate.command_id && !s->review) s = decide(std::move(s->stmt), {});
    if (s->review) {
      const auto res = s->review->poll();
      if (!res) return false;  // still held: the client waits
      s->review.reset();
      s->gate = *res;
    }
    if (finish_decision(*s)) continue;
    // Statement k is refused: 1..k-1 run as one Query (PostgreSQL's implicit
    // transaction over them), then the client reads the refusal in the
    // place of k's answer; nothing after k is sent or decided.
    const std::string refusal = denied_error(s->gate.refusal);
    if (h.next == 0) {
      answer(refusal, true);
    } else {
      std::string text;
      Expect x = expect('Q');
      for (std::size_t i = 0; i < h.next; ++i) {
        // A newline before the ';': a statement may end in a -- comment.
        text += (i ? "\n;\n" : "") + h.stmts[i]->stmt.text;
        x.stmts.push_back(h.stmts[i]);
        forget_prepared_if_changed(h.stmts[i]->stmt);
      }
      text.push_back('\0');
      x.synthetic = refusal;  // sent before the server's ReadyForQuery for them
      forward('Q', text, std::move(x));
    }
    return true;
  }
  Expect x = expect('Q');
  for (auto& s : h.stmts) x.stmts.push_back(s), forget_prepared_if_changed(s->stmt);
  forward('Q', h.body, std::move(x));  // every statement allowed: exactly what the client sent
  return true;
}

void PgWireExecutor::on_parse(const std::string& body) {
  ParseMsg p;
  std::string err;
  if (!decode_parse(body, p, err)) return protocol_error(err);
  auto stmts = classify_sql(p.query);
  auto invalid = [&](const std::string& sqlstate, const std::string& message, int position) {
    CommandRequest req = gate_.request("invalid", p.query);
    SqlFacts f = stmts.empty() ? SqlFacts{} : sql_facts(stmts.front());
    f.source = "wire";
    req.facts = std::make_shared<SqlCommandFacts>(f);
    const GateResult g = gate_.refuse(req, message);
    gate_.command_ended(g.command_id, failed(sqlstate + ": " + message));
    records_.push_back(p.query + "\nERROR: " + message + "\n");
    Fields fields = make_fields("ERROR", sqlstate, message);
    if (position > 0) fields.emplace_back('P', std::to_string(position));
    refuse_extended(encode_error(fields));
  };
  if (stmts.size() > 1) return invalid("42601", "cannot insert multiple commands into a prepared statement", 0);
  if (stmts.size() == 1 && stmts[0].syntax_error) {
    std::string message = stmts[0].parse_error;
    int position = 0;
    sql_syntax_error(p.query, message, position);
    return invalid("42601", message, position);
  }
  SqlStatement s = stmts.empty() ? SqlStatement{} : std::move(stmts[0]);
  prepared_[p.name] = std::move(s);
  Expect x = expect('P');
  // Forgotten if the server refuses it (a name SQL PREPARE took, say): the
  // server may still hold another statement under it, which is never bound.
  x.synthetic = p.name;
  forward('P', body, std::move(x));
}

bool PgWireExecutor::on_bind(const std::string& body) {
  BindMsg b;
  std::string err;
  if (!decode_bind(body, b, err)) return protocol_error(err), false;
  const auto it = prepared_.find(b.statement);
  if (it == prepared_.end()) {
    // Also what SQL PREPARE made: the bastion never saw what it holds.
    refuse_extended(denied_error("prepared statement \"" + b.statement +
                                 "\" was not prepared through this connection's Parse messages"));
    return true;
  }
  if (it->second.text.empty()) {  // an empty query: nothing to decide
    portals_[b.portal] = nullptr;
    forward('B', body, expect('B'));
    return true;
  }
  std::vector<SqlParam> params;
  for (std::size_t i = 0; i < b.params.size(); ++i) {
    const int16_t fmt = b.param_formats.empty() ? 0 : b.param_formats.size() == 1 ? b.param_formats[0] : b.param_formats[i];
    SqlParam sp;
    sp.binary = fmt == 1 && b.params[i].has_value();
    if (!sp.binary) sp.value = b.params[i];
    params.push_back(std::move(sp));
  }
  Held h;
  h.type = 'B';
  h.body = body;
  h.stmts.push_back(decide(it->second, std::move(params)));
  h.stmts[0]->bind_result_formats = b.result_formats;
  if (!decide_bind(h)) {
    held_ = std::move(h);
    return false;
  }
  return true;
}

bool PgWireExecutor::decide_bind(Held& h) {
  StmtPtr s = h.stmts[0];
  if (s->review) {
    const auto res = s->review->poll();
    if (!res) return false;
    s->review.reset();
    s->gate = *res;
  }
  if (finish_decision(*s)) {
    const auto& rf = s->bind_result_formats;
    if (s->masks_anything() && std::find(rf.begin(), rf.end(), int16_t{1}) != rf.end()) {
      const std::string why = "masks apply and the client asked for results in binary format, which cannot be masked";
      s->ended = true;
      gate_.command_ended(s->gate.command_id, failed(why));
      records_.push_back(s->stmt.text + "\ndenied: " + why + "\n");
      refuse_extended(denied_error(why));
      return true;
    }
    BindMsg b;
    std::string err;
    decode_bind(h.body, b, err);
    portals_[b.portal] = s;
    forward('B', h.body, expect('B'));
    forget_prepared_if_changed(s->stmt);
    return true;
  }
  refuse_extended(denied_error(s->gate.refusal));
  return true;
}

void PgWireExecutor::forget_prepared_if_changed(const SqlStatement& s) {
  // SQL PREPARE, DEALLOCATE and DISCARD (or code the text hides) change what
  // a statement name holds on the server behind the Parse messages the
  // bastion saw: every name is forgotten, and Binds to them are refused
  // until the client prepares them again.
  const std::string& k = s.kind;
  if (k == "prepare" || k == "deallocate" || k == "discard" || k == "do" || k == "call" || k == "execute" ||
      s.opaque || !s.parse_error.empty())
    prepared_.clear();
}

bool PgWireExecutor::poll_held() {
  if (!held_) return false;
  Held& h = *held_;
  const bool done = h.type == 'Q' ? decide_query(h) : decide_bind(h);
  if (!done) return true;
  held_.reset();
  return false;
}

// ---- server messages ----

PgWireExecutor::StmtPtr PgWireExecutor::current() const {
  if (expect_.empty()) return nullptr;
  const Expect& e = expect_.front();
  if ((e.type == 'Q' || e.type == 'E' || e.type == 'D') && !e.stmts.empty()) return e.stmts.front();
  return nullptr;
}

void PgWireExecutor::end_statement(WireStatement& s, const std::string& tag, const std::string& error) {
  if (s.ended) return;
  s.ended = true;
  const double ms = s.started > 0 ? (monotonic_seconds() - s.started) * 1000.0 : 0;
  CommandOutcome o;
  o.status = error.empty() ? 0 : 1;
  o.rows = s.rows ? std::optional<int64_t>(static_cast<int64_t>(s.rows)) : tag_rows(tag);
  o.duration_us = static_cast<int64_t>(ms * 1000);
  o.error = error;
  o.masked_columns = s.masked_columns;
  gate_.command_ended(s.gate.command_id, o);
  records_.push_back(s.stmt.text + "\n" + summary(s, tag, error, ms) + "\n");
}

bool PgWireExecutor::on_server_message(const Message& m, std::string framed) {
  std::string err;
  auto pop_front_if = [&](char type) {
    if (expect_.empty() || expect_.front().type != type) return false;
    expect_.pop_front();
    return true;
  };
  switch (m.type) {
    case 'Z': {
      if (!decode_ready_for_query(m.body, tx_status_, err)) return false;
      std::string before;
      while (!expect_.empty()) {
        Expect e = std::move(expect_.front());
        expect_.pop_front();
        for (auto& s : e.stmts) end_statement(*s, "", "not run: an earlier statement failed");
        if (e.type == 'Q' || e.type == 'S') {
          if (!error_in_batch_) before = std::move(e.synthetic);
          break;
        }
      }
      error_in_batch_ = false;
      to_client(before + framed);
      flush_due();
      return true;
    }
    case 'E': {
      Fields f;
      if (!decode_fields(m.body, f, err)) return false;
      const StmtPtr s = current();
      const std::string code = field_text(f, 'C');
      if (s && s->withhold_messages) {
        log_info("sql message withheld: the statement reads masked columns",
                 {{"command", std::to_string(s->gate.command_id)}, {"kind", "error"}, {"sqlstate", code}});
        f = redacted(f, "error");
        framed = encode_error(f);
      }
      if (s) end_statement(*s, "", code + ": " + field_text(f, 'M'));
      error_in_batch_ = true;
      if (!expect_.empty() && expect_.front().type != 'Q') {
        // Extended protocol: the server skips to Sync; what it skips is answered by nothing.
        while (!expect_.empty() && expect_.front().type != 'S' && expect_.front().type != 'Q') {
          Expect& e = expect_.front();
          if (e.type == 'P') {
            const auto it = prepared_.find(e.synthetic);
            if (it != prepared_.end()) prepared_.erase(it);
          }
          for (auto& st : e.stmts) end_statement(*st, "", "not run: an earlier message failed");
          expect_.pop_front();
        }
      } else if (!expect_.empty()) {
        // Simple protocol: the rest of the message is not run.
        auto& q = expect_.front().stmts;
        for (auto& st : q) end_statement(*st, "", "not run: an earlier statement failed");
        q.clear();
      }
      to_client(std::move(framed));
      return true;
    }
    case 'N': {
      const StmtPtr s = current();
      if (s && s->withhold_messages) {
        Fields f;
        if (!decode_fields(m.body, f, err)) return false;
        framed = encode_notice(redacted(f, "notice"));
      }
      to_client(std::move(framed));
      return true;
    }
    case 'T': {
      const StmtPtr s = current();
      if (s && s->masks_anything()) {
        std::vector<FieldDescription> fields;
        if (!decode_row_description(m.body, fields, err)) return false;
        if (!catalog_ && !catalog_failed_ && s->masker) {
          std::string cerr;
          PgConnectOptions o;
          o.application_name = "bastion catalog";
          catalog_ = PgConnection::connect(target_, cred_, cerr, o);
          catalog_failed_ = !catalog_;
          if (!catalog_) log_warn("catalog connection failed: every column is masked", {{"error", cerr}});
        }
        const std::string why = plan_result(*s, fields, catalog_.get());
        if (!why.empty()) {
          end_statement(*s, "", why);
          fatal("42501", "bastion: denied: " + why);
          return true;
        }
      }
      if (!expect_.empty() && expect_.front().type == 'D') expect_.pop_front();
      to_client(std::move(framed));
      return true;
    }
    case 'D': {
      const StmtPtr s = current();
      if (s) ++s->rows;
      if (s && s->masks_anything()) {
        std::string masked;
        if (!mask_data_row(*s, m.body, masked)) {
          end_statement(*s, "", "a masked value came in binary format");
          fatal("42501", "bastion: denied: a masked value came in binary format, which cannot be masked");
          return true;
        }
        framed = std::move(masked);
      }
      to_client(std::move(framed));
      return true;
    }
    case 'C':
    case 'I': {
      std::string tag;
      if (m.type == 'C' && !decode_command_complete(m.body, tag, err)) return false;
      if (const StmtPtr s = current()) end_statement(*s, tag, "");
      if (!expect_.empty() && expect_.front().type == 'Q' && !expect_.front().stmts.empty())
        expect_.front().stmts.pop_front();
      else if (!expect_.empty() && expect_.front().type == 'E')
        expect_.pop_front();
      to_client(std::move(framed));
      flush_due();
      return true;
    }
    case 'S': {
      std::string name, value;
      if (!decode_parameter_status(m.body, name, value, err)) return false;
      if (name == "standard_conforming_strings") standard_strings_ = value == "on";
      if (name == "client_encoding") utf8_ = utf8_encoding(value);
      break;
    }
    case 's': pop_front_if('E'); break;
    case '1': pop_front_if('P'); break;
    case '2': pop_front_if('B'); break;
    case '3': pop_front_if('C'); break;
    case 'n': pop_front_if('D'); break;
    default: break;  // ParameterDescription, COPY, notifications, parameter status: as they are
  }
  to_client(std::move(framed));
  flush_due();
  return true;
}

bool PgWireExecutor::read_upstream(std::size_t budget) {
  std::string in;
  while (budget > 0 && !closing_) {
    const std::size_t before = in.size();
    const Upstream::Io io = up_->read(in, budget);
    if (io == Upstream::Io::closed) {
      closing_ = true;
      break;
    }
    if (io == Upstream::Io::again) break;
    budget -= std::min(budget, in.size() - before);
  }
  if (in.empty()) return false;
  from_server_.feed(in);
  Message m;
  while (!closing_) {
    const Framer::Status st = from_server_.next(m);
    if (st == Framer::Status::more) break;
    std::string framed = st == Framer::Status::message ? frame(m.type, m.body) : "";
    if (st == Framer::Status::error || !on_server_message(m, std::move(framed))) {
      log_warn("wire: the server's message was not understood", {{"target", target_.name}, {"error", from_server_.error()}});
      fatal("08P01", "bastion: the server sent a message the bastion cannot relay");
      break;
    }
  }
  return true;
}

bool PgWireExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  if (held_ && !poll_held()) process_client();
  if (up_ && !to_server_.empty() && up_->write(to_server_) == Upstream::Io::closed) closing_ = true;
  if (up_ && up_->ok() && !closing_) read_upstream(budget);
  if (!held_) process_client();
  if (up_ && !to_server_.empty() && up_->write(to_server_) == Upstream::Io::closed) closing_ = true;
  // The recording first: nothing reaches the client before it is on record.
  for (auto& r : records_) out.write(Stream::record, std::move(r));
  records_.clear();
  if (!client_out_.empty()) {
    out.write(Stream::wire, std::move(client_out_));
    client_out_.clear();
  }
  if (terminated_ && to_server_.empty() && !closing_) closing_ = true;
  if (closing_) {
    exit_.status = 0;
    close();  // statements still running end now: their lines reach the recording below
    for (auto& r : records_) out.write(Stream::record, std::move(r));
    records_.clear();
    return false;
  }
  return true;
}

void PgWireExecutor::close() {
  if (key_) keys_.remove(*key_), key_.reset();
  if (held_) {
    for (auto& s : held_->stmts)
      if (s->review) s->review->withdraw();
    held_.reset();
  }
  for (auto& e : expect_)
    for (auto& s : e.stmts) end_statement(*s, "", "the connection closed before the statement ended");
  expect_.clear();
  if (up_ && watching_ && watch_) watch_(up_->socket(), false);
  watching_ = false;
  up_.reset();
  catalog_.reset();
}

}  // namespace bastion::pgwire
