// Fuzzes the PostgreSQL v3 wire codec: random bytes through a Framer (client
// or server side, small limits) fed in random chunkings, every decoder on
// every message body, and the message types as a random event sequence for
// the ResponseSequencer. Invariants:
//  * framing does not depend on how the stream is chunked, and after each
//    drain the framer holds less than one header plus the pending message's
//    limit (oversized frames are refused from the length word);
//  * encode(decode(x)) == x for every message kind that has an encoder
//    (DataRow and ErrorResponse included);
//  * the sequencer never throws or crashes; its errors are sticky; tickets
//    increase; what it hands the client is whole messages, with never more
//    ReadyForQuery than the client asked for (a Sync, Query or FunctionCall
//    delivered to it, or a synthetic answer ending a Query). With bit 1 of
//    the first byte set, the stream is sequencer events (op, type pairs)
//    with well-formed server bodies, to reach its deeper states.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "targets/postgres/wire/pg_wire_framer.h"
#include "targets/postgres/wire/pg_wire_messages.h"
#include "targets/postgres/wire/pg_wire_sequencer.h"

using namespace bastion::pgwire;

namespace {
[[noreturn]] void fail() { __builtin_trap(); }

struct Rng {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};

struct Framed {
  std::vector<Message> msgs;
  std::string error;
};

bool is_ssl_or_gss(const Message& m) {
  StartupPacket p;
  std::string err;
  return decode_startup(m.body, p, err) && (p.code == kSslRequestCode || p.code == kGssEncRequestCode);
}

// Feeds the stream in chunks (whole when rng is null), draining after each.
Framed run(std::string_view stream, bool client, const FramerLimits& lim, Rng* rng) {
  Framer f(client, lim);
  Framed out;
  std::size_t fed = 0;
  while (fed < stream.size() && out.error.empty()) {
    const std::size_t n = rng ? 1 + rng->next() % 64 : stream.size();
    const std::string_view chunk = stream.substr(fed, n);
    f.feed(chunk);
    fed += chunk.size();
    Message m;
    Framer::Status st;
    while ((st = f.next(m)) == Framer::Status::message) {
      if (f.in_startup() && !is_ssl_or_gss(m)) f.end_startup();
      out.msgs.push_back(std::move(m));
    }
    if (st == Framer::Status::error) {
      out.error = f.error();
      if (f.buffered() != 0) fail();  // a refused stream holds nothing
      break;
    }
    // What is held is one partial message: below its header and limit.
    const std::size_t held = f.buffered();
    const std::size_t header = f.in_startup() ? 4 : 5;
    if (held >= header) {
      const char type = stream[fed - held];
      if (held >= header + f.limit_for(type)) fail();
    }
  }
  return out;
}

void roundtrips(const Message& m) {
  const std::string_view b = m.body;
  std::string err, s1, s2;
  {
    std::vector<std::optional<std::string>> row;
    if (decode_data_row(b, row, err) && encode_data_row(row) != frame('D', b)) fail();
  }
  {
    Fields f;
    if (decode_fields(b, f, err)) {
      if (encode_error(f) != frame('E', b) || encode_notice(f) != frame('N', b)) fail();
    }
  }
  {
    std::vector<FieldDescription> fd;
    if (decode_row_description(b, fd, err) && encode_row_description(fd) != frame('T', b)) fail();
  }
  {
    BindMsg bm;
    if (decode_bind(b, bm, err)) {
      if (encode_bind(bm) != frame('B', b)) fail();
      for (std::size_t i = 0; i < bm.params.size(); ++i)
        if (bm.param_format(i) != 0 && bm.param_format(i) != 1) fail();
    }
  }
  {
    ParseMsg p;
    if (decode_parse(b, p, err) && encode_parse(p) != frame('P', b)) fail();
  }
  {
    StartupPacket p;
    if (decode_startup(b, p, err) && encode_startup(p) != frame_startup(b)) fail();
  }
  if (decode_query(b, s1, err) && encode_query(s1) != frame('Q', b)) fail();
  if (decode_command_complete(b, s1, err) && encode_command_complete(s1) != frame('C', b)) fail();
  if (decode_parameter_status(b, s1, s2, err) && encode_parameter_status(s1, s2) != frame('S', b)) fail();
  {
    ExecuteMsg e;
    if (decode_execute(b, e, err) && encode_execute(e) != frame('E', b)) fail();
  }
  {
    TargetRef t;
    if (decode_describe_or_close(b, t, err) && encode_describe(t) != frame('D', b)) fail();
  }
  {
    int32_t pid = 0, key = 0;
    if (decode_backend_key_data(b, pid, key, err) && encode_backend_key_data(pid, key) != frame('K', b)) fail();
  }
  {
    char st = 0;
    if (decode_ready_for_query(b, st, err) && encode_ready_for_query(st) != frame('Z', b)) fail();
  }
  {
    std::vector<uint32_t> types;
    decode_parameter_description(b, types, err);
    CopyResponse cr;
    if (decode_copy_response(b, cr, err) && cr.format == 0)
      for (int16_t f : cr.column_formats)
        if (f != 0) fail();
  }
}

// Whole messages only.
void check_whole(const std::string& out) {
  std::size_t at = 0;
  while (at < out.size()) {
    if (out.size() - at < 5) fail();
    uint32_t len = 0;
    for (std::size_t i = 1; i <= 4; ++i) len = (len << 8) | static_cast<uint8_t>(out[at + i]);
    if (len < 4 || len > out.size() - at - 1) fail();
    at += 1 + len;
  }
}

void sequence(const std::vector<Message>& msgs, Rng& rng) {
  ResponseSequencer seq(64);
  uint64_t last_ticket = 0;
  bool broken = false;
  for (const auto& m : msgs) {
    if (m.type == 0) continue;
    const uint32_t r = rng.next();
    std::string out, err;
    switch (r % 4) {
      case 0:
      case 1: {
        const auto d = static_cast<Delivery>((r >> 4) % 3);
        const uint64_t t = seq.forwarded(m.type, d);
        if (t != 0) {
          if (broken || t <= last_ticket) fail();
          last_ticket = t;
        } else {
          broken = broken || !seq.error().empty();
        }
        break;
      }
      case 2: {
        const uint64_t before = seq.answering();
        (void)before;
        const bool ok = seq.on_server_message(m.type, frame(m.type, m.body), out, err);
        if (!ok) {
          if (err.empty() || seq.error() != err) fail();
          broken = true;
        } else if (broken) {
          fail();  // sticky
        }
        check_whole(out);
        break;
      }
      default:
        if (r & 0x100) {
          seq.synthetic(frame(m.type, m.body), (r & 0x200) != 0);
        } else {
          out = seq.take_due();
          check_whole(out);
        }
    }
    if (broken && seq.error().empty()) fail();
  }
}

std::size_t count_ready(const std::string& out) {
  std::size_t n = 0;
  for (std::size_t at = 0; at + 5 <= out.size();) {
    uint32_t len = 0;
    for (std::size_t i = 1; i <= 4; ++i) len = (len << 8) | static_cast<uint8_t>(out[at + i]);
    n += out[at] == 'Z';
    at += 1 + len;
  }
  return n;
}

// A well-formed server message of this type (sel picks a variant).
std::string server_message(char type, uint8_t sel) {
  switch (type) {
    case 'Z': return encode_ready_for_query("ITE"[sel % 3]);
    case 'E': return encode_error(make_fields(sel & 1 ? "FATAL" : "ERROR", "XX000", "e"));
    case 'N': return encode_notice(make_fields("NOTICE", "00000", "n"));
    case 'G': case 'H': case 'W': return frame(type, std::string("\0\0\1\0\0", 5));
    case 'D': return encode_data_row({std::string("x"), std::nullopt});
    case 'T': return encode_row_description({FieldDescription{"a", 1, 1, 23, 4, -1, 0}});
    case 'C': return encode_command_complete("SELECT 1");
    case 'S': return encode_parameter_status("a", "b");
    case 't': return frame('t', std::string("\0\0", 2));
    case 'V': return frame('V', std::string("\xff\xff\xff\xff", 4));
    default: return frame(type, {});
  }
}

void events(std::string_view in) {
  ResponseSequencer seq(32);
  std::size_t asked = 0, readies = 0;  // ReadyForQuery the client may get / got
  uint64_t last_ticket = 0, last_settled = 0;
  static const char kTypes[] = "QPBEDCSHFdcfX1234ZTDCIsnGHWdcEtVNAS";
  for (std::size_t i = 0; i + 1 < in.size(); i += 2) {
    const auto op = static_cast<uint8_t>(in[i]);
    const char type = kTypes[static_cast<uint8_t>(in[i + 1]) % (sizeof kTypes - 1)];
    std::string out, err;
    switch (op % 8) {
      case 0: case 1: case 2: {
        const auto d = static_cast<Delivery>((op >> 3) % 3);
        const uint64_t t = seq.forwarded(type, d);
        if (t == 0) {
          if (seq.error().empty()) fail();
          return;
        }
        if (t <= last_ticket) fail();
        last_ticket = t;
        if (d == Delivery::all && (type == 'S' || type == 'Q' || type == 'F')) ++asked;
        break;
      }
      case 3: case 4: case 5: {
        const std::string m = server_message(type, op >> 3);
        if (!seq.on_server_message(type, m, out, err)) {
          if (err.empty() || seq.error() != err) fail();
          return;
        }
        break;
      }
      case 6: {
        const bool with_ready = op & 0x10;
        const std::string m = server_message(type == 'Z' ? 'N' : type, op >> 5);  // no ReadyForQuery inside
        if (seq.synthetic(m, with_ready) && with_ready) ++asked;
        break;
      }
      default: out = seq.take_due();
    }
    check_whole(out);
    readies += count_ready(out);
    if (readies > asked) fail();
    // What the proxy retires (statements ended as not run) only grows, and
    // never covers a message still to be answered.
    const uint64_t settled = seq.settled();
    if (settled < last_settled || settled > last_ticket) fail();
    if (seq.answering() != 0 && settled >= seq.answering()) fail();
    last_settled = settled;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const bool client = data[0] & 1;
  FramerLimits lim;
  lim.max_message = 1 + data[1] % 200;
  lim.max_copy_data = 1 + data[2] % 400;
  lim.max_startup = 4 + data[3] % 120;
  Rng rng{0x9e3779b9u ^ (static_cast<uint32_t>(data[0]) << 24 | static_cast<uint32_t>(data[1]) << 8 | data[2])};
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
  if (data[0] & 2) {
    events(stream);
    return 0;
  }

  const Framed whole = run(stream, client, lim, nullptr);
  const Framed chunked = run(stream, client, lim, &rng);
  if (whole.error != chunked.error || whole.msgs.size() != chunked.msgs.size()) fail();
  for (std::size_t i = 0; i < whole.msgs.size(); ++i)
    if (whole.msgs[i].type != chunked.msgs[i].type || whole.msgs[i].body != chunked.msgs[i].body) fail();
  for (const auto& m : whole.msgs) roundtrips(m);
  sequence(whole.msgs, rng);
  return 0;
}
