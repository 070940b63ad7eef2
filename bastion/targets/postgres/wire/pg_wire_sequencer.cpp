#include "targets/postgres/wire/pg_wire_sequencer.h"

#include "targets/postgres/wire/pg_wire_framer.h"
#include "targets/postgres/wire/pg_wire_messages.h"

namespace bastion::pgwire {
namespace {

bool asynchronous(char type) { return type == 'N' || type == 'A' || type == 'S'; }

bool extended(char client_type) {
  return client_type == 'P' || client_type == 'B' || client_type == 'D' || client_type == 'E' || client_type == 'C';
}

// An ErrorResponse after which the server closes the connection.
bool fatal(const Fields& f) {
  const std::string* v = field(f, 'V');
  if (!v) v = field(f, 'S');  // servers before 9.6 send only the (maybe localized) 'S'
  return v && (*v == "FATAL" || *v == "PANIC");
}

}  // namespace

ResponseSequencer::ResponseSequencer(std::size_t max_outstanding) : max_(max_outstanding) {}

bool ResponseSequencer::violation(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

uint64_t ResponseSequencer::refuse(std::string why) {
  violation(std::move(why));
  return 0;
}

uint64_t ResponseSequencer::forwarded(char type, Delivery delivery) {
  if (!error_.empty()) return 0;
  switch (type) {
    case 'Q': case 'P': case 'B': case 'E': case 'D': case 'C': case 'S': case 'H': case 'F':
    case 'd': case 'c': case 'f': case 'X':
      break;
    default:
      return refuse("client message " + type_name(type) + " is not allowed after startup");
  }
  if (client_closed_) return refuse("client message " + type_name(type) + " after Terminate");
  if (client_skip_ && type != 'S' && type != 'H')
    return refuse("client message " + type_name(type) +
                  " forwarded after the bastion answered with an error (only Sync may follow)");
  if (q_.size() >= max_) return refuse("more than " + std::to_string(max_) + " client messages await answers");
  const uint64_t ticket = next_ticket_++;
  if (copy_open_) {
    // The server reads these as part of its COPY FROM STDIN.
    switch (type) {
      case 'd': case 'H': return ticket;
      case 'c': case 'f': copy_open_ = false; return ticket;
      case 'S': ++copy_syncs_; return ticket;
      default: return refuse("client message " + type_name(type) + " during COPY FROM STDIN");
    }
  }
  if (type == 'X') {
    client_closed_ = true;
    return ticket;
  }
  if (type == 'H') return ticket;  // never answered
  if (type == 'd' || type == 'c' || type == 'f') {
    // Never answered, but a COPY the server has yet to start for an earlier
    // message would read them: keep where they are, one entry per run.
    if (q_.empty()) return ticket;
    if (q_.back().kind != Kind::copy_run) {
      Entry run;
      run.kind = Kind::copy_run;
      q_.push_back(std::move(run));
    }
    Entry& run = q_.back();
    if (!run.run_end) (type == 'd' ? run.run_data : run.run_end) = true;
    return ticket;
  }
  if (type == 'S') {
    client_skip_ = false;
    open_segment_ = false;
    server_skip_ = false;  // this is the Sync the server skips to
  } else {
    if (extended(type)) open_segment_ = true;
    if (server_skip_) return ticket;  // discarded by the server, never answered
  }
  Entry e;
  e.type = type;
  e.delivery = delivery;
  e.ticket = ticket;
  q_.push_back(std::move(e));
  return ticket;
}

bool ResponseSequencer::synthetic(std::string bytes, bool with_ready) {
  if (!error_.empty()) return false;
  // Whole messages only; note whether they leave the client after an error.
  bool ends_in_error = false;
  for (std::size_t at = 0; at < bytes.size();) {
    if (bytes.size() - at < 5) return false;
    uint32_t len = 0;
    for (std::size_t i = 1; i <= 4; ++i) len = (len << 8) | static_cast<uint8_t>(bytes[at + i]);
    if (len < 4 || len > bytes.size() - at - 1) return false;
    if (bytes[at] == 'E') ends_in_error = true;
    if (bytes[at] == 'Z') ends_in_error = false;
    at += 1 + len;
  }
  if (with_ready) ends_in_error = false;
  if (ends_in_error) client_skip_ = true;
  if (q_.size() >= max_) return violation("more than " + std::to_string(max_) + " answers outstanding");
  Entry e;
  e.kind = Kind::synthetic;
  e.with_ready = with_ready;
  e.bytes = std::move(bytes);
  q_.push_back(std::move(e));
  return true;
}

void ResponseSequencer::deliver(std::string& out, char type, std::string_view bytes, Delivery d) {
  if (d == Delivery::none || (d == Delivery::all_but_ready && type == 'Z')) return;
  // After an ErrorResponse the client expects only its ReadyForQuery.
  if (client_failed_ && type != 'Z' && !asynchronous(type)) return;
  out.append(bytes);
  if (type == 'E') client_failed_ = true;
  if (type == 'Z') client_failed_ = false;
}

void ResponseSequencer::drain(std::string& out) {
  while (!q_.empty() && q_.front().kind != Kind::message) {
    Entry& e = q_.front();
    if (e.kind == Kind::synthetic) {
      const std::string_view b = e.bytes;
      for (std::size_t at = 0; at < b.size();) {  // whole messages: checked by synthetic()
        uint32_t len = 0;
        for (std::size_t i = 1; i <= 4; ++i) len = (len << 8) | static_cast<uint8_t>(b[at + i]);
        deliver(out, b[at], b.substr(at, 1 + len), Delivery::all);
        at += 1 + len;
      }
      if (e.with_ready) {
        const std::string z = encode_ready_for_query(status_);
        deliver(out, 'Z', z, Delivery::all);
      }
    }
    q_.pop_front();  // a copy run at the head belongs to no COPY: the server ignores it
  }
}

std::string ResponseSequencer::take_due() {
  std::string out;
  if (error_.empty()) drain(out);
  return out;
}

bool ResponseSequencer::idle() const {
  return q_.empty() && !server_skip_ && !client_skip_ && !open_segment_ && !copy_open_ && error_.empty();
}

uint64_t ResponseSequencer::answering() const {
  for (const Entry& e : q_)
    if (e.kind == Kind::message) return e.ticket;
  return 0;
}

uint64_t ResponseSequencer::settled() const {
  const uint64_t head = answering();
  return head ? head - 1 : next_ticket_ - 1;
}

uint32_t ResponseSequencer::answering_part() const {
  for (const Entry& e : q_)
    if (e.kind == Kind::message) return e.part;
  return 0;
}

// The server started COPY FROM STDIN for the head: what the client sent
// after it, up to its CopyDone/CopyFail, is read by the COPY.
bool ResponseSequencer::start_copy_in() {
  in_copy_in_ = true;
  copy_syncs_ = 0;
  copy_open_ = true;
  for (std::size_t i = 1; i < q_.size() && copy_open_;) {
    Entry& e = q_[i];
    if (e.kind == Kind::copy_run) {
      if (e.run_end) copy_open_ = false;
      ++i;
    } else if (e.kind == Kind::message) {
      if (e.type != 'S')
        return violation("client message " + type_name(e.type) + " was pipelined into COPY FROM STDIN");
      ++copy_syncs_;  // ignored by the COPY: no ReadyForQuery for it
      q_.erase(q_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  return true;
}

bool ResponseSequencer::end_copy_in(bool ok) {
  if (!in_copy_in_) return true;
  if (ok && copy_open_) return violation("the server ended COPY FROM STDIN before the client did");
  // An error may come before the COPY read those Syncs (then each gets a
  // ReadyForQuery) or after (then none does): no way to tell which.
  if (!ok && copy_syncs_ > 0) return violation("a Sync sent during a COPY FROM STDIN that failed cannot be matched");
  in_copy_in_ = false;
  copy_open_ = false;  // later CopyData etc. are ignored by the server
  copy_syncs_ = 0;
  return true;
}

// After an error in an extended-query message (the head): the server
// discards every client message up to the next Sync.
void ResponseSequencer::skip_to_sync() {
  for (std::size_t i = 1; i < q_.size();) {
    const Entry& e = q_[i];
    if (e.kind == Kind::message && e.type == 'S') return;
    if (e.kind == Kind::synthetic) {
      ++i;  // kept in order: drain() drops it, the client has its error already
      continue;
    }
    q_.erase(q_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  server_skip_ = true;  // up to a Sync the client has yet to send
}

bool ResponseSequencer::answer(Entry& h, char type, std::string_view framed, std::string& out, bool& done) {
  done = false;
  // Starting a COPY erases entries behind the head: `h` may move then.
  const Delivery delivery = h.delivery;
  const char client_type = h.type;
  const std::string_view body = framed.size() >= 5 ? framed.substr(5) : std::string_view();
  std::string err;
  auto bad = [&]() {
    return violation("server message " + type_name(type) + " does not answer client message " + type_name(client_type));
  };
  auto copy_start = [&](Stage s) {
    CopyResponse cr;
    if (!decode_copy_response(body, cr, err)) return violation("server copy response: " + err);
    h.stage = s;
    if (s == Stage::copy_in || s == Stage::copy_both) return start_copy_in();
    return true;
  };
  bool ok = true;
  switch (h.type) {
    case 'P': done = type == '1'; ok = done; break;
    case 'B': done = type == '2'; ok = done; break;
    case 'C': done = type == '3'; ok = done; break;
    case 'D':
      if (type == 't' && h.stage == Stage::start) h.stage = Stage::described;
      else if (type == 'T' || type == 'n') done = true;
      else ok = false;
      break;
    case 'S': done = type == 'Z'; ok = done; break;
    case 'F':
      if (type == 'V' && h.stage == Stage::start) h.stage = Stage::fn_done;
      else if (type == 'Z' && h.stage == Stage::fn_done) done = true;
      else ok = false;
      break;
    case 'E':
    case 'Q': {
      const bool query = h.type == 'Q';
      switch (h.stage) {
        case Stage::start:
        case Stage::rows:
          if (type == 'D' && (h.stage == Stage::rows || !query)) break;
          if (type == 'T' && query && h.stage == Stage::start) h.stage = Stage::rows;
          else if (type == 'C' || type == 'I' || (type == 's' && !query)) {
            if (type != 'C' && h.stage == Stage::rows) ok = false;  // a row set ends with CommandComplete
            h.stage = Stage::start;
            done = !query;
          } else if (type == 'G' && h.stage == Stage::start) ok = copy_start(Stage::copy_in);
          else if (type == 'H' && h.stage == Stage::start) ok = copy_start(Stage::copy_out);
          else if (type == 'W' && h.stage == Stage::start) ok = copy_start(Stage::copy_both);
          else if (type == 'Z' && query && h.stage == Stage::start) done = true;
          else ok = false;
          break;
        case Stage::failed: done = type == 'Z'; ok = done; break;
        case Stage::copy_out:
        case Stage::copy_both:
          if (type == 'd') break;
          if (type == 'c') h.stage = Stage::copy_out_done;
          else if (type == 'C' && h.stage == Stage::copy_both) {
            if (!end_copy_in(true)) return false;
            h.stage = Stage::start;
            done = !query;
          } else ok = false;
          break;
        case Stage::copy_out_done:
          if (type != 'C') { ok = false; break; }
          if (!end_copy_in(true)) return false;  // copy both: the client side is over too
          h.stage = Stage::start;
          done = !query;
          break;
        case Stage::copy_in:
          if (type != 'C') { ok = false; break; }
          if (!end_copy_in(true)) return false;
          h.stage = Stage::start;
          done = !query;
          break;
        default: ok = false;
      }
      break;
    }
    default: ok = false;
  }
  if (!error_.empty()) return false;
  if (!ok) return bad();
  if (type == 'Z') {
    char status = 0;
    if (!decode_ready_for_query(body, status, err)) return violation("server ReadyForQuery: " + err);
    status_ = status;
  }
  if (client_type == 'Q' && (type == 'C' || type == 'I')) ++q_.front().part;  // the head: never erased
  deliver(out, type, framed, delivery);
  return true;
}

bool ResponseSequencer::on_server_message(char type, std::string_view framed, std::string& to_client,
                                          std::string& err) {
  to_client.clear();
  auto failed = [&]() {
    err = error_;
    return false;
  };
  if (!error_.empty()) return failed();
  if (server_closed_) {
    violation("server message " + type_name(type) + " after its FATAL error");
    return failed();
  }
  if (framed.size() < 5 || framed[0] != type) {
    violation("server message " + type_name(type) + " is not framed");
    return failed();
  }
  drain(to_client);
  Entry* head = q_.empty() ? nullptr : &q_.front();  // drain() leaves a message entry or nothing
  if (asynchronous(type)) {
    const Delivery d = type == 'N' && head ? head->delivery : Delivery::all;
    deliver(to_client, type, framed, d == Delivery::all_but_ready ? Delivery::all : d);
    return true;
  }
  if (type == 'E') {
    Fields f;
    std::string why;
    if (!decode_fields(framed.substr(5), f, why)) {
      violation("server ErrorResponse: " + why);
      return failed();
    }
    // The server ends the connection after it; one nothing asked for is
    // the server ending an idle connection.
    if (fatal(f) || !head) {
      server_closed_ = true;
      to_client.append(framed);
      return true;
    }
    Entry& h = *head;
    deliver(to_client, type, framed, h.delivery);
    const bool copy_failed = h.stage == Stage::copy_in || h.stage == Stage::copy_both;
    if (copy_failed && !end_copy_in(false)) return failed();
    if (h.type == 'Q') {
      h.stage = Stage::failed;
    } else if (h.type == 'F') {
      h.stage = Stage::fn_done;
    } else if (h.type == 'S') {
      // A failed commit: its ReadyForQuery still comes.
    } else {
      skip_to_sync();
      q_.pop_front();
      drain(to_client);
    }
    return true;
  }
  if (!head) {
    violation("server message " + type_name(type) + " when nothing awaits an answer");
    return failed();
  }
  bool done = false;
  if (!answer(*head, type, framed, to_client, done)) return failed();
  if (done) {
    q_.pop_front();
    drain(to_client);
  }
  return true;
}

}  // namespace bastion::pgwire
