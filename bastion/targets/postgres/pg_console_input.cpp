// The SQL console's interpreter: what the shared CommandConsole hands it
// (lines, end of input, Ctrl-C) becomes psql texts and backslash commands
// in the statement queue; the prompt says what the query buffer holds.
#include "targets/postgres/pg_executor.h"

#include "targets/postgres/pg_text.h"

namespace bastion {

using namespace pg_text;

std::string PgExecutor::prompt() {
  std::string p = target_.name;
  p += sql_.blank() ? '=' : sql_.pending();
  const char tx = conn_.tx_state();
  if (tx != '=') p += tx;
  return p + "> ";
}

void PgExecutor::on_end_of_input() {
  if (mode_ == Mode::console) {
    emit(Stream::out, "\\q\n");
    return finish(0);
  }
  // Like psql, a last statement without ';' still runs at end of input.
  const std::string rest = sql_.take_all();
  if (!trim(rest).empty()) enqueue_sql(rest);
  if (queue_.empty()) finish(exit_.status.value_or(0));
}

void PgExecutor::on_line_too_long() {
  emit(Stream::err, "ERROR:  line too long for the bastion (1 MiB)\n");
  finish(kSqlExitError);
}

std::size_t PgExecutor::input_capacity() {
  if (finished_) return 0;
  // A console keeps reading while a statement runs, to see Ctrl-C; a
  // script waits until its statements ran (back-pressure on the client).
  if (mode_ == Mode::console) return console_.unread() < kMaxInput ? kInputChunk : 0;
  if (mode_ == Mode::command) return kInputChunk;  // stdin is ignored
  if (running_ && running_->copy_in) return console_.buffered() < kMaxInput ? kInputChunk : 0;
  if (running_ || !queue_.empty() || console_.unread() >= kInputChunk) return 0;
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
  console_.write_input(data);
  return true;
}

void PgExecutor::on_line(const std::string& line) {
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

void PgExecutor::enqueue_sql(const std::string& text) {
  Work w;
  w.psql_text = text;
  queue_.push_back(std::move(w));
}

}  // namespace bastion
