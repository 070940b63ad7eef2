#include "targets/postgres/wire/pg_wire_executor.h"

#include <algorithm>

#include "common/log.h"
#include "targets/postgres/wire/pg_wire_startup.h"

namespace bastion::pgwire {
namespace {

// Client bytes waiting for the server, per connection: more than one libssh
// receive window (1.28 MB), so a client's burst is taken in one pass.
constexpr std::size_t kMaxPending = 2 << 20;
// Client messages awaiting answers: the sequencer closes the connection past
// kMaxOutstanding; the client is not read past half of it (a client that
// pipelines without reading its answers waits instead).
constexpr std::size_t kMaxOutstanding = 1 << 16;

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

}  // namespace

PgWireExecutor::PgWireExecutor(const TargetConfig& t, const PostgresCredential& cred, CommandGate& gate,
                               CancelKeys& keys, Watch watch)
    : target_(t), cred_(cred), gate_(gate), keys_(keys), watch_(std::move(watch)),
      from_client_(true, client_limits()), from_server_(false, server_limits()), seq_(kMaxOutstanding) {}

PgWireExecutor::~PgWireExecutor() { close(); }

std::size_t PgWireExecutor::input_capacity() {
  if (up_ && !to_server_.empty()) up_->write(to_server_);
  if (closing_ || terminated_) return 0;
  if (seq_.outstanding() >= kMaxOutstanding / 2) return 0;
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

void PgWireExecutor::forward(char type, std::string_view body, Sent x) {
  const uint64_t ticket = seq_.forwarded(type);
  if (!ticket) {
    // Answers to it could not be matched for certain: nothing is sent.
    for (auto& s : x.stmts) end_statement(*s, "", "not run: " + seq_.error());
    return protocol_error(seq_.error());
  }
  to_server_ += frame(type, body);
  if (x.type) sent_.emplace(ticket, std::move(x));
  if (type == 'B' || type == 'E' || type == 'F') ran_since_sync_ = true;
  else if (type == 'S') ran_since_sync_ = false;  // its ReadyForQuery reports what changed
}

std::string PgWireExecutor::pipelined_lexing_refusal(std::string_view sql) const {
  if (!settings_unseen()) return "";
  // Only a backslash (standard_conforming_strings, and a trail byte of a
  // multi-byte client_encoding) and non-ASCII bytes (client_encoding) can be
  // read otherwise; text without them means the same under any setting.
  const bool sensitive = std::any_of(sql.begin(), sql.end(), [](char c) {
    return c == '\\' || static_cast<unsigned char>(c) >= 0x80;
  });
  if (!sensitive) return "";
  return "bastion: this SQL came before the server answered what was sent ahead of it, which may change how the "
         "server reads a backslash or non-ASCII text (standard_conforming_strings, client_encoding); "
         "send it after that answer (after Sync)";
}

void PgWireExecutor::answer(std::string framed, bool ready) {
  if (!seq_.synthetic(std::move(framed), ready))
    return protocol_error(seq_.error().empty() ? "the bastion's answer is not whole messages" : seq_.error());
  flush_due();
}

void PgWireExecutor::refuse_extended(const std::string& framed_error) {
  answer(framed_error, false);
  skip_to_sync_ = true;  // the client's next messages up to Sync are dropped, as the server would
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
  const std::string closed = "the connection closed before the statement ended";
  for (auto& [ticket, x] : sent_)
    if (x.type != 'D')
      for (auto& s : x.stmts) end_statement(*s, "", closed);
  sent_.clear();
  for (auto& [name, s] : portals_)  // bound, or suspended, and never finished
    if (s && s->started > 0) end_statement(*s, "", closed);
  for (auto& s : orphans_) end_statement(*s, "", closed);
  orphans_.clear();
  if (up_ && watching_ && watch_) watch_(up_->socket(), false);
  watching_ = false;
  up_.reset();
  catalog_.reset();
}

}  // namespace bastion::pgwire
