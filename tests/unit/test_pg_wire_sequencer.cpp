// The response sequencer on real captured flows (simple query, multi-statement
// query with an error, psycopg pipelines with and without an error, prepared
// statements, COPY in and out), forwarded both pipelined ahead and in lockstep:
// the client gets the server's bytes unchanged and every answer is matched to
// the client message it answers. Then hand-built flows: synthetic refusals in
// a pipeline and in a split Query, COPY FROM STDIN corner cases, asynchronous
// messages, the proxy's own messages, and the violations that close.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "pg_wire_captures.h"
#include "targets/postgres/wire/pg_wire_framer.h"
#include "targets/postgres/wire/pg_wire_messages.h"
#include "targets/postgres/wire/pg_wire_sequencer.h"

using namespace bastion::pgwire;
using namespace pgwire_captures;
using namespace std::string_literals;

namespace {

std::vector<Message> frames(const std::string& stream, bool client) {
  Framer f(client, FramerLimits{});
  f.feed(stream);
  std::vector<Message> out;
  Message m;
  while (f.next(m) == Framer::Status::message) {
    out.push_back(m);
    f.end_startup();
  }
  REQUIRE(f.buffered() == 0);
  return out;
}

std::string types(const std::string& stream) {
  std::string t;
  for (const auto& m : frames(stream, false)) t += m.type;
  return t;
}

// A captured session after its startup: the client's messages after the
// startup packet, the server's after its first ReadyForQuery.
struct Flow {
  std::vector<Message> client, server;
  std::string server_bytes;
};
Flow flow(const std::string& c, const std::string& s) {
  Flow f;
  f.client = frames(c, true);
  f.client.erase(f.client.begin());
  f.server = frames(s, false);
  std::size_t z = 0;
  while (f.server[z].type != 'Z') ++z;
  f.server.erase(f.server.begin(), f.server.begin() + static_cast<std::ptrdiff_t>(z) + 1);
  for (const auto& m : f.server) f.server_bytes += frame(m.type, m.body);
  return f;
}

bool async(char t) { return t == 'N' || t == 'A' || t == 'S'; }

struct Drive {
  ResponseSequencer seq;
  std::map<uint64_t, int> index;  // ticket -> client message index
  int next = 0;
  std::string client;             // what the client got
  std::vector<int> answered;      // per server message: the client message index it answers
  std::string err;
  void forward(const Message& m) {
    const uint64_t t = seq.forwarded(m.type);
    REQUIRE(t != 0);
    index[t] = next++;
  }
  bool server(const Message& m) {
    if (!async(m.type)) answered.push_back(index.at(seq.answering()));
    std::string out;
    const bool ok = seq.on_server_message(m.type, frame(m.type, m.body), out, err);
    client += out;
    return ok;
  }
};

// Pipelined: every client message first, then the server's answers.
Drive ahead(const Flow& f) {
  Drive d;
  for (const auto& m : f.client) d.forward(m);
  for (const auto& m : f.server) REQUIRE(d.server(m));
  return d;
}

// Lockstep: client messages up to a Sync or Query (with its COPY data),
// then the server's answers up to its ReadyForQuery.
Drive lockstep(const Flow& f) {
  Drive d;
  std::size_t c = 0, s = 0;
  while (c < f.client.size() || s < f.server.size()) {
    while (c < f.client.size()) {
      const char t = f.client[c].type;
      d.forward(f.client[c++]);
      if (t == 'S') break;
      if (t == 'Q') {
        while (c < f.client.size() && (f.client[c].type == 'd' || f.client[c].type == 'c')) d.forward(f.client[c++]);
        break;
      }
    }
    while (s < f.server.size()) {
      const char t = f.server[s].type;
      REQUIRE(d.server(f.server[s++]));
      if (t == 'Z') break;
    }
  }
  return d;
}

}  // namespace

TEST_CASE("pg sequencer: real flows reach the client unchanged, each answer matched", "[pgwire]") {
  struct Case {
    const char* name;
    Flow f;
    std::vector<int> answered;
  };
  const std::vector<Case> cases = {
      {"simple query with an error", flow(kSimpleClient, kSimpleServer), {0, 0, 0, 0, 0, 0}},
      {"two statements in one Query", flow(kMultiClient, kMultiServer), std::vector<int>(8, 0)},
      {"COPY FROM STDIN", flow(kCopyinClient, kCopyinServer), {0, 0, 0}},
      {"COPY TO STDOUT", flow(kCopyoutClient, kCopyoutServer), std::vector<int>(8, 0)},
      // P B D E S | P B D E  P B D E S | P B D E S
      {"psycopg pipeline", flow(kPipelineClient, kPipelineServer),
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 12, 13, 14, 15, 16, 17, 18}},
      // P B D E S | P B D E  P B(error)  [D E P B D E skipped] S | P B D E S
      {"psycopg pipeline with an error", flow(kErrorClient, kErrorServer),
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 17, 18, 19, 20, 21, 22}},
      // P B D E S | P S | B D E S | B D E S | P B D E S
      {"psycopg prepared statement", flow(kPreparedClient, kPreparedServer),
       {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12, 13, 13, 14, 15, 16, 17, 18, 19}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    for (int mode = 0; mode < 2; ++mode) {
      Drive d = mode == 0 ? ahead(c.f) : lockstep(c.f);
      CHECK(d.client == c.f.server_bytes);
      CHECK(d.answered == c.answered);
      CHECK(d.seq.outstanding() == 0);
      CHECK(d.seq.answering() == 0);
      CHECK(d.seq.error().empty());
    }
  }
}

namespace {

std::string S(char t, std::string body = {}) { return frame(t, body); }
const std::string kRowDesc = encode_row_description({FieldDescription{"a", 16384, 1, 23, 4, -1, 0}});
const std::string kRow = encode_data_row({"1"s});
const std::string kZI = encode_ready_for_query('I');
const std::string kZT = encode_ready_for_query('T');
const std::string kRefusal = encode_error(make_fields("ERROR", "42501", "refused by policy"));
const std::string kGText = S('G', "\x00\x00\x01\x00\x00"s);

struct Rig {
  ResponseSequencer seq;
  std::string client, err;
  uint64_t fwd(char t, Delivery d = Delivery::all) {
    const uint64_t k = seq.forwarded(t, d);
    REQUIRE(k != 0);
    return k;
  }
  bool server(const std::string& framed) {
    std::string out;
    const bool ok = seq.on_server_message(framed[0], framed, out, err);
    client += out;
    return ok;
  }
  void all(std::initializer_list<std::string> msgs) {
    for (const auto& m : msgs) REQUIRE(server(m));
  }
};

}  // namespace

TEST_CASE("pg sequencer: a refusal at Bind in the middle of a pipeline goes where BindComplete would", "[pgwire]") {
  Rig r;
  // P1 B1 D1 E1 S | P2 B2(refused: D2 E2 dropped by the proxy) S | P3 B3 D3 E3 S
  r.fwd('P'), r.fwd('B'), r.fwd('D'), r.fwd('E'), r.fwd('S');
  r.fwd('P');
  REQUIRE(r.seq.synthetic(kRefusal));
  CHECK(r.seq.forwarded('H') != 0);  // Flush is harmless
  CHECK(r.seq.forwarded('D') == 0);  // the proxy must drop up to Sync
  CHECK(r.seq.error() == "client message 'D' forwarded after the bastion answered with an error (only Sync may follow)");
}

TEST_CASE("pg sequencer: the refusal's place, with the server answering around it", "[pgwire]") {
  Rig r;
  r.fwd('P'), r.fwd('B'), r.fwd('D');
  const uint64_t e1 = r.fwd('E');
  r.fwd('S');
  const uint64_t p2 = r.fwd('P');
  REQUIRE(r.seq.synthetic(kRefusal));
  CHECK(r.seq.take_due().empty());  // P1... still unanswered
  const uint64_t s2 = r.fwd('S');
  r.fwd('P'), r.fwd('B'), r.fwd('D');
  const uint64_t e3 = r.fwd('E');
  r.fwd('S');
  r.all({S('1'), S('2'), kRowDesc});
  CHECK(r.seq.answering() == e1);
  r.all({kRow, S('C', "SELECT 1\0"s), kZI});
  CHECK(r.seq.answering() == p2);
  r.all({S('1')});
  CHECK(r.client.substr(r.client.size() - kRefusal.size()) == kRefusal);  // right after ParseComplete
  CHECK(r.seq.answering() == s2);
  r.all({kZI, S('1'), S('2'), kRowDesc});
  CHECK(r.seq.answering() == e3);
  r.all({kRow, S('C', "SELECT 1\0"s), kZI});
  CHECK(types(r.client) == "12TDCZ1EZ12TDCZ");
  CHECK(r.seq.idle());
}

TEST_CASE("pg sequencer: a refusal the server would have skipped after its own error is dropped", "[pgwire]") {
  Rig r;
  r.fwd('P'), r.fwd('B'), r.fwd('D'), r.fwd('E');  // B1 fails at the server
  r.fwd('P');
  REQUIRE(r.seq.synthetic(kRefusal));  // B2 refused by the bastion
  r.fwd('S');
  const std::string server_error = encode_error(make_fields("ERROR", "22012", "division by zero"));
  r.all({S('1'), server_error, kZI});
  CHECK(r.client == S('1') + server_error + kZI);  // one error, as the server alone would give
  CHECK(r.seq.idle());
}

TEST_CASE("pg sequencer: settled() names what is done, skipped messages included", "[pgwire]") {
  Rig r;
  CHECK(r.seq.settled() == 0);
  const uint64_t p1 = r.fwd('P');
  const uint64_t b1 = r.fwd('B');
  r.fwd('E');
  const uint64_t b2 = r.fwd('B');  // skipped by the server after E1 fails
  const uint64_t e2 = r.fwd('E');
  const uint64_t s1 = r.fwd('S');
  CHECK(r.seq.settled() == p1 - 1);
  r.all({S('1')});
  CHECK(r.seq.settled() == p1);
  r.all({S('2')});
  CHECK(r.seq.settled() == b1);
  r.all({encode_error(make_fields("ERROR", "22012", "division by zero"))});
  CHECK(r.seq.settled() == e2);  // B2 and E2 will never be answered
  CHECK(b2 < e2);
  r.all({kZI});
  CHECK(r.seq.settled() == s1);
  const uint64_t h = r.fwd('H');  // never answered
  CHECK(r.seq.settled() == h);
}

TEST_CASE("pg sequencer: a Query split by the proxy ends with its refusal and the server's status", "[pgwire]") {
  Rig r;
  // "BEGIN; INSERT ...; DROP TABLE t" with DROP refused: the proxy forwards
  // the allowed prefix as one Query and ends the client's Query itself.
  const uint64_t q = r.fwd('Q', Delivery::all_but_ready);
  REQUIRE(r.seq.synthetic(kRefusal, true));
  CHECK(r.seq.answering() == q);
  r.all({S('C', "BEGIN\0"s), S('C', "INSERT 0 1\0"s), kZT});
  CHECK(r.client == S('C', "BEGIN\0"s) + S('C', "INSERT 0 1\0"s) + kRefusal + kZT);
  CHECK(r.seq.transaction_status() == 'T');
  CHECK(r.seq.idle());

  // The prefix fails at the server: the rest of the Query is not reported, one ReadyForQuery.
  Rig f;
  f.fwd('Q', Delivery::all_but_ready);
  REQUIRE(f.seq.synthetic(kRefusal, true));
  const std::string server_error = encode_error(make_fields("ERROR", "42P01", "no such table"));
  f.all({server_error, kZI});
  CHECK(f.client == server_error + kZI);

  // A Query answered by the bastion alone, nothing outstanding: due at once.
  Rig a;
  REQUIRE(a.seq.synthetic(kRefusal, true));
  CHECK(a.seq.take_due() == kRefusal + kZI);
  CHECK(a.seq.take_due().empty());
}

TEST_CASE("pg sequencer: COPY FROM STDIN with the data sent after CopyInResponse", "[pgwire]") {
  Rig r;
  const uint64_t q = r.fwd('Q');
  r.all({kGText});
  CHECK(r.seq.copy_in());
  CHECK(r.seq.answering() == q);
  r.fwd('d'), r.fwd('H'), r.fwd('d'), r.fwd('c');
  CHECK_FALSE(r.seq.copy_in());
  r.all({S('C', "COPY 2\0"s), kZI});
  CHECK(types(r.client) == "GCZ");
  CHECK(r.seq.idle());

  // Anything but copy messages during the COPY cannot be matched: refused.
  Rig x;
  x.fwd('Q');
  x.all({kGText});
  x.fwd('d');
  CHECK(x.seq.forwarded('Q') == 0);
  CHECK(x.seq.error() == "client message 'Q' during COPY FROM STDIN");
  std::string out, err;
  CHECK_FALSE(x.seq.on_server_message('C', S('C', "COPY 1\0"s), out, err));
  CHECK(err == "client message 'Q' during COPY FROM STDIN");

  // ... or pipelined into it before the server asked for data.
  Rig y;
  y.fwd('Q'), y.fwd('Q');
  CHECK_FALSE(y.server(kGText));
  CHECK(y.err == "client message 'Q' was pipelined into COPY FROM STDIN");
}

TEST_CASE("pg sequencer: extended COPY FROM STDIN with libpq's pipelined Sync", "[pgwire]") {
  // PQexecParams("COPY t FROM STDIN"): P B D E S, then after G: d c S.
  Rig r;
  r.fwd('P'), r.fwd('B'), r.fwd('D');
  const uint64_t e = r.fwd('E');
  r.fwd('S');  // read (and ignored) by the COPY
  r.all({S('1'), S('2'), S('n'), kGText});
  CHECK(r.seq.copy_in());
  CHECK(r.seq.answering() == e);
  r.fwd('d'), r.fwd('c');
  const uint64_t s2 = r.fwd('S');
  r.all({S('C', "COPY 1\0"s)});
  CHECK(r.seq.answering() == s2);
  r.all({kZI});
  CHECK(types(r.client) == "12nGCZ");
  CHECK(r.seq.idle());

  // The same COPY failing: whether the server answered that first Sync cannot be known.
  Rig f;
  f.fwd('P'), f.fwd('B'), f.fwd('D'), f.fwd('E'), f.fwd('S');
  f.all({S('1'), S('2'), S('n'), kGText});
  f.fwd('d'), f.fwd('c'), f.fwd('S');
  CHECK_FALSE(f.server(encode_error(make_fields("ERROR", "22P02", "invalid input syntax"))));
  CHECK(f.err == "a Sync sent during a COPY FROM STDIN that failed cannot be matched");

  // Failing without such a Sync is matched: the server skips to the client's Sync.
  Rig g;
  g.fwd('P'), g.fwd('B'), g.fwd('D'), g.fwd('E');
  g.all({S('1'), S('2'), S('n'), kGText});
  g.fwd('d'), g.fwd('d');
  const std::string bad = encode_error(make_fields("ERROR", "22P02", "invalid input syntax"));
  g.all({bad});
  CHECK_FALSE(g.seq.copy_in());  // the server left the COPY: the rest is ignored by it
  g.fwd('d'), g.fwd('c'), g.fwd('S');
  g.all({kZI});
  CHECK(types(g.client) == "12nGEZ");
  CHECK(g.seq.idle());
}

TEST_CASE("pg sequencer: COPY data pipelined before CopyInResponse is read by the COPY", "[pgwire]") {
  Rig r;
  r.fwd('Q'), r.fwd('d'), r.fwd('d'), r.fwd('c');
  const uint64_t q2 = r.fwd('Q');
  r.all({kGText, S('C', "COPY 2\0"s), kZI});
  CHECK(r.seq.answering() == q2);
  r.all({S('I'), kZI});
  CHECK(types(r.client) == "GCZIZ");
}

TEST_CASE("pg sequencer: COPY TO STDOUT inside a Query and inside an Execute", "[pgwire]") {
  Rig r;
  r.fwd('Q');
  r.all({S('H', "\x00\x00\x01\x00\x00"s), S('d', "1\n"), S('d', "2\n"), S('c'), S('C', "COPY 2\0"s), kZI});
  r.fwd('P'), r.fwd('B'), r.fwd('E'), r.fwd('S');
  r.all({S('1'), S('2'), S('H', "\x00\x00\x01\x00\x00"s), S('d', "1\n"), S('c'), S('C', "COPY 1\0"s), kZI});
  CHECK(types(r.client) == "HddcCZ12HdcCZ");
  CHECK(r.seq.idle());
  // CopyData after CopyDone is a violation.
  Rig v;
  v.fwd('Q');
  v.all({S('H', "\x00\x00\x01\x00\x00"s), S('c')});
  CHECK_FALSE(v.server(S('d', "x")));
  CHECK(v.err == "server message 'd' does not answer client message 'Q'");
}

TEST_CASE("pg sequencer: the statement of a Query each answer belongs to", "[pgwire]") {
  // "SELECT a FROM t; COPY t FROM STDIN; INSERT ...; SELECT 1/0; SELECT 2"
  Rig r;
  r.fwd('Q');
  std::vector<uint32_t> parts;
  auto step = [&](const std::string& m) {
    parts.push_back(r.seq.answering_part());
    REQUIRE(r.server(m));
  };
  step(kRowDesc), step(kRow), step(S('C', "SELECT 1\0"s));
  step(kGText);
  r.fwd('d'), r.fwd('c');
  step(S('C', "COPY 1\0"s)), step(S('C', "INSERT 0 1\0"s));
  step(encode_error(make_fields("ERROR", "22012", "division by zero")));
  step(kZI);
  CHECK(parts == std::vector<uint32_t>{0, 0, 0, 1, 1, 2, 3, 3});
  CHECK(r.seq.answering_part() == 0);
  CHECK(types(r.client) == "TDCGCCEZ");
}

TEST_CASE("pg sequencer: asynchronous messages pass anywhere, idle included", "[pgwire]") {
  Rig r;
  const std::string notice = encode_notice(make_fields("NOTICE", "00000", "hello"));
  const std::string notify = S('A', "\x00\x00\x00\x07" "chan\0payload\0"s);
  const std::string param = encode_parameter_status("TimeZone", "UTC");
  r.all({notify, param});  // nothing outstanding
  const uint64_t q = r.fwd('Q');
  r.all({notice, kRowDesc, notify, kRow, param, S('C', "SELECT 1\0"s)});
  CHECK(r.seq.answering() == q);
  r.all({notice, kZI, notify});
  CHECK(types(r.client) == "ASNTADSCNZA");
  CHECK(r.seq.idle());
}

TEST_CASE("pg sequencer: the proxy's own messages are answered to nobody", "[pgwire]") {
  Rig r;
  const uint64_t own = r.fwd('Q', Delivery::none);
  const uint64_t client = r.fwd('Q');
  CHECK(r.seq.answering() == own);
  r.all({kRowDesc, kRow, encode_notice(make_fields("NOTICE", "00000", "x")), S('C', "SELECT 1\0"s), kZI});
  CHECK(r.client.empty());
  CHECK(r.seq.answering() == client);
  r.all({S('I'), kZI});
  CHECK(r.client == S('I') + kZI);
}

TEST_CASE("pg sequencer: Describe statement, Close, FunctionCall, PortalSuspended", "[pgwire]") {
  Rig r;
  r.fwd('P'), r.fwd('D'), r.fwd('C'), r.fwd('B'), r.fwd('E'), r.fwd('E'), r.fwd('S'), r.fwd('F'), r.fwd('H');
  r.all({S('1'), S('t', "\x00\x01\x00\x00\x00\x17"s), kRowDesc, S('3'), S('2'), kRow, S('s'), kRow,
         S('C', "SELECT 2\0"s), kZT, S('V', "\x00\x00\x00\x01" "1"s), kZT});
  CHECK(types(r.client) == "1tT32DsDCZVZ");
  CHECK(r.seq.transaction_status() == 'T');
  CHECK(r.seq.idle());
}

TEST_CASE("pg sequencer: violations close the connection", "[pgwire]") {
  {
    Rig r;  // nothing asked
    CHECK_FALSE(r.server(kZI));
    CHECK(r.err == "server message 'Z' when nothing awaits an answer");
    CHECK_FALSE(r.server(encode_notice(make_fields("NOTICE", "00000", "x"))));  // sticky
  }
  {
    Rig r;  // a DataRow with no RowDescription before it: no columns to mask by
    r.fwd('Q');
    CHECK_FALSE(r.server(kRow));
    CHECK(r.err == "server message 'D' does not answer client message 'Q'");
  }
  {
    Rig r;
    r.fwd('P');
    CHECK_FALSE(r.server(S('2')));
    CHECK(r.err == "server message '2' does not answer client message 'P'");
  }
  {
    Rig r;
    r.fwd('S');
    CHECK_FALSE(r.server(S('Z', "X")));
    CHECK(r.err == "server ReadyForQuery: ReadyForQuery status 'X' is not 'I', 'T' or 'E'");
  }
  {
    Rig r;
    CHECK(r.seq.forwarded('p') == 0);
    CHECK(r.seq.error() == "client message 'p' is not allowed after startup");
  }
  {
    Rig r;
    r.fwd('X');
    CHECK(r.seq.forwarded('Q') == 0);
    CHECK(r.seq.error() == "client message 'Q' after Terminate");
  }
  {
    ResponseSequencer seq(3);
    CHECK(seq.forwarded('Q') != 0);
    CHECK(seq.forwarded('Q') != 0);
    CHECK(seq.forwarded('Q') != 0);
    CHECK(seq.forwarded('Q') == 0);
    CHECK(seq.error() == "more than 3 client messages await answers");
  }
  {
    Rig r;
    CHECK_FALSE(r.seq.synthetic("E\x00\x00\x00\x09" "abc"s));  // not whole messages
    CHECK(r.seq.outstanding() == 0);
  }
}

TEST_CASE("pg sequencer: a FATAL error is passed on and ends the stream", "[pgwire]") {
  Rig r;
  r.fwd('Q');
  const std::string fatal = encode_error(make_fields("FATAL", "57P01", "terminating connection due to administrator command"));
  REQUIRE(r.server(fatal));
  CHECK(r.client == fatal);
  CHECK_FALSE(r.server(kZI));
  CHECK(r.err == "server message 'Z' after its FATAL error");
  // Unsolicited, when idle: the same.
  Rig i;
  REQUIRE(i.server(encode_error(make_fields("ERROR", "57P01", "bye"))));
  CHECK_FALSE(i.server(kZI));
}
