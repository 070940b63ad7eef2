// The wire proxy's client side: each Query statement and each Bind decided
// through the gate (held for review, refused in the server's place), Parse
// and portal bookkeeping, and what the bastion answers itself.
#include "targets/postgres/wire/pg_wire_executor.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/time_util.h"
#include "targets/postgres/wire/pg_wire_startup.h"

namespace bastion::pgwire {
namespace {

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
    if ((st.name == "client_encoding" || st.name == "all") && !st.reset && !is_utf8_name(st.value))
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

// SQL EXECUTE (also inside EXPLAIN or CREATE TABLE AS) runs a prepared
// statement by name, and Parse names share that namespace; the classifier
// reports it as this opaque reason.
bool executes_prepared(const SqlStatement& s) {
  const auto& r = s.opaque_reasons;
  return std::find(r.begin(), r.end(), "EXECUTE of a prepared statement") != r.end();
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
      Sent x = sent('E');
      if (it->second) x.stmts.push_back(it->second);  // null: an empty query
      forward('E', m.body, std::move(x));
      return true;
    }
    case 'D': {
      TargetRef r;
      std::string err;
      if (!decode_describe_or_close(m.body, r, err)) return protocol_error(err), false;
      Sent x = sent('D');
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
      else if (const auto it = portals_.find(r.name); it != portals_.end()) {
        orphan(it->second);
        portals_.erase(it);
      }
      forward('C', m.body);
      return true;
    }
    case 'S':
      skip_to_sync_ = false;
      ++syncs_;
      forward('S', m.body);
      return true;
    case 'H':  // Flush: no answer of its own
    case 'd':  // CopyData, CopyDone, CopyFail: part of a COPY FROM STDIN the server started
    case 'c':
    case 'f':
      forward(m.type, m.body);
      return true;
    case 'X':
      forward('X', m.body);
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

PgWireExecutor::StmtPtr PgWireExecutor::decide(SqlStatement stmt, std::vector<SqlParam> params) {
  auto s = std::make_shared<WireStatement>();
  s->stmt = std::move(stmt);
  s->params = std::move(params);
  CommandRequest req = gate_.request("sql", s->stmt.text);
  SqlFacts f = sql_facts(s->stmt);
  f.source = "wire";
  f.params = s->params;
  req.facts = std::make_shared<SqlCommandFacts>(std::move(f));
  std::string enc = lexing_refusal(s->stmt, standard_strings_, utf8_);
  if (enc.empty() && !parsed_names_.empty() && executes_prepared(s->stmt))
    enc = "EXECUTE is refused on a connection whose Parse messages named statements: those are decided at Bind, "
          "and EXECUTE would run them undecided";
  s->gate = enc.empty() ? gate_.submit(req) : gate_.refuse(req, enc);
  if (s->gate.review_id) s->review.emplace(gate_, s->gate);
  return s;
}

bool PgWireExecutor::finish_decision(WireStatement& s) {
  if (s.gate.decision.masks()) masks_seen_ = true;
  if (s.gate.decision.allowed()) {
    const std::string why = prepare_masks(s, gate_.mask_key(), &mask_patterns_, &bound_trees_);
    if (why.empty()) {
      forget_origins_if_changed(s.stmt);
      s.started = monotonic_seconds();
      if (s.masks_anything()) under_masks_ = true;
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
  const std::string pipelined = pipelined_lexing_refusal(sql);
  if (stmts.empty() && pipelined.empty()) return forward('Q', body);  // only comments: EmptyQueryResponse
  if (!pipelined.empty() ||
      std::any_of(stmts.begin(), stmts.end(), [](const SqlStatement& s) { return s.syntax_error; })) {
    // The server would refuse the whole text without running any of it:
    // refused here, audited as invalid (as the console does), never sent.
    // So is text the server might read otherwise than the bastion did.
    std::string message = "syntax error", sqlstate = "42601";
    int position = 0;
    const auto limit = std::find_if(stmts.begin(), stmts.end(), [](const SqlStatement& s) { return s.over_limit; });
    if (!pipelined.empty()) message = pipelined, sqlstate = "55000";  // object_not_in_prerequisite_state
    else if (limit != stmts.end()) message = limit->parse_error, sqlstate = "54000";  // program_limit_exceeded
    else sql_syntax_error(sql, message, position);
    CommandRequest req = gate_.request("invalid", sql);
    SqlFacts f = stmts.empty() ? SqlFacts{} : sql_facts(stmts.front());
    f.source = "wire";
    req.facts = std::make_shared<SqlCommandFacts>(f);
    const GateResult g = gate_.refuse(req, message);
    gate_.command_ended(g.command_id, failed(sqlstate + ": " + message));
    records_.push_back(sql + "\nERROR: " + message + "\n");
    Fields fields = make_fields("ERROR", sqlstate, message);
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
    // Statement k is refused. The server runs one Query as one implicit
    // transaction (or inside the client's block): an error at k would undo
    // 1..k-1, so none of the message is sent. 1..k-1 were decided and end
    // unrun; nothing after k is decided. The client reads the refusal and a
    // ReadyForQuery with the server's own status ('T' stays 'T': the block
    // is intact on the server, and the client's ROLLBACK or COMMIT works).
    const std::size_t n = h.stmts.size();
    const std::string which = n > 1 ? "statement " + std::to_string(h.next + 1) + " of " + std::to_string(n) + ": " : "";
    const std::string unrun = "not run: statement " + std::to_string(h.next + 1) + " of the same message was refused";
    for (std::size_t i = 0; i < h.next; ++i) {
      WireStatement& r = *h.stmts[i];
      r.ended = true;
      gate_.command_ended(r.gate.command_id, failed(unrun));
      records_.push_back(r.stmt.text + "\n" + unrun + "\n");
    }
    answer(denied_error(which + s->gate.refusal), true);
    return true;
  }
  Sent x = sent('Q');
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
  if (const std::string why = pipelined_lexing_refusal(p.query); !why.empty()) return invalid("55000", why, 0);
  if (stmts.size() > 1) return invalid("42601", "cannot insert multiple commands into a prepared statement", 0);
  if (stmts.size() == 1 && stmts[0].over_limit) return invalid("54000", stmts[0].parse_error, 0);
  if (stmts.size() == 1 && stmts[0].syntax_error) {
    std::string message = stmts[0].parse_error;
    int position = 0;
    sql_syntax_error(p.query, message, position);
    return invalid("42601", message, position);
  }
  // Bounded per connection, as every map the bastion keeps for a client.
  // The unnamed statement is always there to replace.
  if (!p.name.empty() && ((!prepared_.count(p.name) && prepared_.size() - prepared_.count("") >= kMaxPrepared) ||
                          (!parsed_names_.count(p.name) && parsed_names_.size() >= kMaxPrepared)))
    return invalid("53400", "the bastion keeps at most " + std::to_string(kMaxPrepared) +
                                " prepared statement names per connection; close some first",
                   0);
  SqlStatement s = stmts.empty() ? SqlStatement{} : std::move(stmts[0]);
  // Kept until Close, up to kMaxPrepared per connection: not its parse tree
  // (tens of times the text's size), which the mask checks make again if needed.
  s.tree.reset();
  s.node = PtNode{};
  if (!p.name.empty()) parsed_names_.insert(p.name);  // kept even if the server refuses it: fail closed
  prepared_[p.name] = std::move(s);
  auto& pending = parse_pending_[p.name];
  ++pending.first;
  pending.second = syncs_;
  Sent x = sent('P');
  // Forgotten if the server refuses it (a name SQL PREPARE took, say): the
  // server may still hold another statement under it, which is never bound.
  x.prepared = p.name;
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
  if (const auto pp = parse_pending_.find(b.statement); pp != parse_pending_.end() && pp->second.second < syncs_) {
    refuse_extended(denied_error("prepared statement \"" + b.statement +
                                 "\" is bound after a Sync before the server answered its Parse (a refused Parse "
                                 "leaves another statement under the name); wait for ParseComplete"));
    return true;
  }
  if (!portals_.count(b.portal) && portals_.size() >= kMaxPrepared) {
    refuse_extended(encode_error(make_fields("ERROR", "53400", "the bastion keeps at most " +
                                                                   std::to_string(kMaxPrepared) +
                                                                   " portals per connection; close some first")));
    return true;
  }
  if (it->second.text.empty()) {  // an empty query: nothing to decide
    portals_[b.portal] = nullptr;
    forward('B', body);
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
    forget_prepared_if_changed(s->stmt);  // before this Bind's own portal is known
    portals_[b.portal] = s;
    forward('B', h.body);
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
  // Portals likewise: the end of a transaction, ROLLBACK TO, CLOSE or code
  // the text hides drop them, and DECLARE makes one under a name the
  // bastion still maps to another statement (whose plan would mask its
  // rows). Only kinds that cannot drop or make a portal keep the map.
  static const std::set<std::string, std::less<>> kKeepPortals = {"select", "insert", "update", "delete", "merge",
                                                                    "show", "set", "begin", "savepoint", "fetch",
                                                                    "move"};
  if (!kKeepPortals.count(k) || s.opaque || !s.parse_error.empty()) {
    for (auto& [name, st] : portals_) orphan(st);
    portals_.clear();
  }
}

void PgWireExecutor::forget_origins_if_changed(const SqlStatement& s) {
  // Cached column origins name columns as this connection first saw them
  // (pg_wire_origin_cache.h); a statement that may rename or re-create
  // relations drops them, so its next result is planned from the catalog.
  static const std::set<std::string, std::less<>> kKeepOrigins = {
      "select", "insert", "update", "delete", "merge", "show", "set", "begin", "commit", "rollback",
      "savepoint", "release", "fetch", "move", "explain"};
  if (!kKeepOrigins.count(s.kind) || s.opaque || !s.parse_error.empty()) origins_.clear();
}

void PgWireExecutor::orphan(const StmtPtr& s) {
  // No longer executable here, but a suspended one never finished: its
  // audit row still ends when the connection does.
  if (!s || s->started <= 0 || s->ended) return;
  if (orphans_.size() >= kMaxOrphans) {  // bounded: the oldest ends now
    end_statement(*orphans_.front(), "", "its portal was dropped before the statement ended");
    orphans_.erase(orphans_.begin());
  }
  orphans_.push_back(s);
}

void PgWireExecutor::parse_answered(const std::string& name) {
  const auto it = parse_pending_.find(name);
  if (it != parse_pending_.end() && --it->second.first <= 0) parse_pending_.erase(it);
}

bool PgWireExecutor::poll_held() {
  if (!held_) return false;
  Held& h = *held_;
  const bool done = h.type == 'Q' ? decide_query(h) : decide_bind(h);
  if (!done) return true;
  held_.reset();
  return false;
}

}  // namespace bastion::pgwire
