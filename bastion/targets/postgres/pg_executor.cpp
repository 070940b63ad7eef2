#include "targets/postgres/pg_executor.h"

#include "targets/postgres/pg_text.h"

namespace bastion {

using namespace pg_text;

PgExecutor::Mode PgExecutor::initial_mode(const ExecRequest& req) {
  if (req.kind == ChannelKind::exec) {
    const SqlExecOptions o = parse_sql_exec_line(req.text);
    if (!o.error.empty() || !trim(o.sql).empty()) return Mode::command;
  }
  return req.pty ? Mode::console : Mode::script;
}

CommandConsole::Input PgExecutor::console_input(Mode m) {
  return m == Mode::console ? CommandConsole::Input::editor
         : m == Mode::script ? CommandConsole::Input::script
                             : CommandConsole::Input::none;
}

PgExecutor::PgExecutor(PgConnection& conn, const TargetConfig& t, const ExecRequest& req, CommandGate& gate,
                       std::function<void(bool)> want_reads)
    : conn_(conn), target_(t), gate_(gate), mode_(initial_mode(req)), pty_(req.pty.has_value()),
      console_(*this, console_input(mode_), pty_, kMaxInput), want_reads_(std::move(want_reads)) {
  prev_receiver_ = PQsetNoticeReceiver(conn_.get(), &PgExecutor::on_notice, this);
  prev_arg_ = nullptr;
  if (req.kind == ChannelKind::exec) {
    SqlExecOptions o = parse_sql_exec_line(req.text);
    print_ = o.print;
    stop_on_error_ = o.stop_on_error;
    timing_ = o.timing;
    if (!o.error.empty()) {
      emit(Stream::err, "bastion: " + o.error + "\n");
      finish(kSqlExitError);
      return;
    }
    if (!trim(o.sql).empty()) {
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

void PgExecutor::send_signal(const std::string& name) {
  if (name != "INT" && name != "TERM" && name != "QUIT") return;
  if (!running_) return;
  if (running_->review) {  // Ctrl-C while held: withdraw the request
    running_->review->cancel();
    return;
  }
  std::string err;
  if (conn_.cancel(err)) emit(Stream::err, "Cancel request sent\n");
  else emit(Stream::err, "Could not send cancel request: " + err + "\n");
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

bool PgExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  console_.attach(&out);
  console_.reset_produced();
  while (!closed_ && console_.produced() < budget) {
    if (running_ && running_->review) {
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
    const std::size_t before = console_.buffered();
    console_.step();
    if (finished_ || !queue_.empty()) continue;
    if (console_.buffered() == before) break;  // nothing new to do
  }
  if (mode_ == Mode::command && !running_ && queue_.empty()) finish(exit_.status.value_or(0));
  console_.flush();
  console_.attach(nullptr);
  return !(finished_ && !running_);
}

void PgExecutor::close() {
  if (closed_) return;
  closed_ = true;
  if (running_ && running_->review) {
    running_->review->withdraw();
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
