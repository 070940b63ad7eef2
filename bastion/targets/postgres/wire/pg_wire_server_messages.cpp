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
        if (e.type == 'P') prepared_.erase(e.synthetic), parse_answered(e.synthetic);  // never answered
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
            parse_answered(e.synthetic);
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
      if (name == "client_encoding") utf8_ = is_utf8_name(value);
      // set_config('application_name', email, false) reports a value any
      // statement read: under masks only settings the server validates pass.
      if (under_masks_ && !validated_setting(name))
        framed = encode_parameter_status(name, "bastion: withheld because masks apply in this session");
      break;
    }
    case 'A': {
      // NotificationResponse: pg_notify's payload can be any value a
      // statement read (pg_notify('c', email)), past every column plan.
      if (!under_masks_) break;
      const auto channel_end = m.body.find('\0', 4);
      if (m.body.size() < 4 || channel_end == std::string::npos) return false;
      framed = frame('A', m.body.substr(0, channel_end + 1) +
                              std::string("bastion: the payload is withheld because masks apply in this session") + '\0');
      break;
    }
    case 's': pop_front_if('E'); break;
    case '1':
      if (!expect_.empty() && expect_.front().type == 'P') parse_answered(expect_.front().synthetic);
      pop_front_if('P');
      break;
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

}  // namespace bastion::pgwire
