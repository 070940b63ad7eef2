// Results as they stream back in single-row mode: held until complete
// (psql prints nothing of a failed result), past a size streamed in
// batches; tags, errors and notices (withheld under column masks); the
// end of a statement finishes its audit row.
#include "targets/postgres/pg_executor.h"

#include <cmath>
#include <cstdio>

#include "common/log.h"
#include "common/parse_number.h"
#include "common/time_util.h"
#include "targets/postgres/message_redaction.h"
#include "targets/postgres/pg_text.h"

namespace bastion {

using namespace pg_text;

namespace {

constexpr std::size_t kStreamBatchRows = 1000;

std::string format_ms(double ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "Time: %.3f ms\n", ms);
  return buf;
}

}  // namespace

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
    console_.flush();
    gate_.command_ended(running_->gate.command_id, o);
    running_.reset();
    fail(kSqlExitConnection, "bastion: the connection to the database was lost: " + conn_.last_error() + "\n");
    return false;
  };
  while (running_ && console_.produced() < budget) {
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
  console_.flush();  // this statement's output passes its masks before they close
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

}  // namespace bastion
