// The wire proxy's server side: each server message matched to the client
// message it answers (and so to its decided statement), RowDescriptions
// planned and DataRows masked, errors and notices redacted under column
// masks, statements ended in the audit and the recording.
#include "targets/postgres/wire/pg_wire_executor.h"

#include <algorithm>
#include <set>

#include "common/log.h"
#include "common/parse_number.h"
#include "common/time_util.h"
#include "targets/postgres/wire/pg_wire_startup.h"

namespace bastion::pgwire {
namespace {

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

// Reported settings whose values the server accepts only from a fixed set
// or syntax (so they cannot carry a value a statement read).
bool validated_setting(const std::string& name) {
  static const std::set<std::string, std::less<>> kValidated = {
      "client_encoding", "DateStyle", "default_transaction_read_only", "in_hot_standby", "integer_datetimes",
      "IntervalStyle", "is_superuser", "server_encoding", "server_version", "session_authorization",
      "standard_conforming_strings", "TimeZone"};
  return kValidated.count(name) > 0;
}

}  // namespace

// ---- server messages ----

PgWireExecutor::Sent* PgWireExecutor::answering() {
  const auto it = sent_.find(seq_.answering());
  return it == sent_.end() ? nullptr : &it->second;
}

// The statement the server's next answer belongs to.
PgWireExecutor::StmtPtr PgWireExecutor::current() {
  const Sent* x = answering();
  if (!x || x->stmts.empty()) return nullptr;
  if (x->type == 'Q') {
    const std::size_t part = seq_.answering_part();
    return part < x->stmts.size() ? x->stmts[part] : nullptr;
  }
  return x->type == 'E' || x->type == 'D' ? x->stmts.front() : nullptr;
}

void PgWireExecutor::retire() {
  const uint64_t done = seq_.settled();
  while (!sent_.empty() && sent_.begin()->first <= done) {
    Sent& x = sent_.begin()->second;
    if (x.type == 'P') {
      if (!x.parse_ok) prepared_.erase(x.prepared);
      parse_answered(x.prepared);  // answered or skipped: a later Bind may use the name
    }
    // A Describe's statement runs (or not) with its Execute.
    if (x.type != 'D')
      for (auto& s : x.stmts)
        end_statement(*s, "", x.type == 'Q' ? "not run: an earlier statement failed" : "not run: an earlier message failed");
    sent_.erase(sent_.begin());
  }
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

bool PgWireExecutor::on_server_message(const Message& m, std::string framed, std::string& why) {
  const StmtPtr s = current();
  switch (m.type) {
    case 'E': {
      Fields f;
      if (!decode_fields(m.body, f, why)) return false;
      const std::string code = field_text(f, 'C');
      if (s && s->withhold_messages) {
        log_info("sql message withheld: the statement reads masked columns",
                 {{"command", std::to_string(s->gate.command_id)}, {"kind", "error"}, {"sqlstate", code}});
        f = redacted(f, "error");
        framed = encode_error(f);
      }
      if (s) end_statement(*s, "", code + ": " + field_text(f, 'M'));
      break;
    }
    case 'N': {
      if (s && s->withhold_messages) {
        Fields f;
        if (!decode_fields(m.body, f, why)) return false;
        framed = encode_notice(redacted(f, "notice"));
      }
      break;
    }
    case 'T': {
      if (s && s->masks_anything()) {
        std::vector<FieldDescription> fields;
        if (!decode_row_description(m.body, fields, why)) return false;
        const std::string refusal = plan_result(*s, fields, [this](const std::vector<ColumnKey>& wanted, OriginMap& out) {
          return origins_.resolve(wanted, [this](const std::vector<uint32_t>& oids, OriginMap& o) {
            return open_catalog() && lookup_origins(*catalog_, oids, o);
          }, out);
        });
        if (s->names_withheld) framed = encode_row_description(fields);
        if (!refusal.empty()) {
          end_statement(*s, "", refusal);
          fatal("42501", "bastion: denied: " + refusal);
          return true;
        }
      }
      break;
    }
    case 'D': {
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
      break;
    }
    case 'C':
    case 'I': {
      std::string tag;
      if (m.type == 'C' && !decode_command_complete(m.body, tag, why)) return false;
      if (s) end_statement(*s, tag, "");
      break;
    }
    case 'A': {
      // A NOTIFY payload is any text (pg_notify('c', ssn), a trigger's, or
      // another session's) that no column plan covers: withheld once masks
      // apply in this connection. The channel (the client LISTENed to it by
      // name) and the sender's pid pass, so the client still wakes up.
      int32_t pid = 0;
      std::string channel, payload;
      if (!decode_notification(m.body, pid, channel, payload, why)) return false;
      if ((masks_seen_ || under_masks_) && !payload.empty()) {
        log_info("notification payload withheld: masks apply in this connection", {{"target", target_.name}});
        framed = encode_notification(pid, channel, "");
      }
      break;
    }
    case 's':  // PortalSuspended: the portal's statement goes on at its next Execute
      if (Sent* x = answering(); x && x->type == 'E') x->stmts.clear();
      break;
    case '1':
      if (Sent* x = answering(); x && x->type == 'P') x->parse_ok = true;
      break;
    case 'S': {
      std::string name, value;
      if (!decode_parameter_status(m.body, name, value, why)) return false;
      if (name == "standard_conforming_strings") standard_strings_ = value == "on";
      if (name == "client_encoding") utf8_ = is_utf8_name(value);
      // set_config('application_name', email, false) reports a value any
      // statement read: under masks only settings the server validates pass.
      if ((masks_seen_ || under_masks_) && !validated_setting(name))
        framed = encode_parameter_status(name, "bastion: withheld because masks apply in this session");
      break;
    }
    default: break;  // the sequencer checks the rest
  }
  std::string out;
  if (!seq_.on_server_message(m.type, framed, out, why)) return false;
  to_client(std::move(out));
  retire();
  return true;
}

bool PgWireExecutor::open_catalog() {
  if (catalog_) return catalog_->ok();
  if (catalog_failed_) return false;
  std::string cerr;
  PgConnectOptions o;
  o.application_name = "bastion catalog";
  catalog_ = PgConnection::connect(target_, cred_, cerr, o);
  catalog_failed_ = !catalog_;
  if (!catalog_) log_warn("catalog connection failed: every column is masked", {{"error", cerr}});
  return catalog_ != nullptr;
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
    std::string why = from_server_.error();
    if (st == Framer::Status::error || !on_server_message(m, std::move(framed), why)) {
      log_warn("wire: the server's message was not understood", {{"target", target_.name}, {"error", why}});
      fatal("08P01", "bastion: the server sent a message the bastion cannot relay");
      break;
    }
  }
  return true;
}

}  // namespace bastion::pgwire
