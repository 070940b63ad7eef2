// The PostgreSQL v3 framer on real captured streams split at every byte,
// and its limits: refused from the length word alone, before the body is
// buffered, with the exact error; errors are sticky and release the buffer.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pg_wire_captures.h"
#include "targets/postgres/wire/pg_wire_framer.h"

using namespace bastion::pgwire;
using namespace pgwire_captures;

namespace {

struct Framed {
  std::vector<Message> msgs;
  Framer::Status last = Framer::Status::more;
  std::string error;
};

// Feeds `chunks` in order; a client stream starts in the startup phase,
// which ends after the first packet that is not an SSLRequest.
Framed run(const std::vector<std::string>& chunks, bool client, FramerLimits limits = {}) {
  Framer f(client, limits);
  Framed out;
  for (const auto& c : chunks) {
    f.feed(c);
    Message m;
    while ((out.last = f.next(m)) == Framer::Status::message) {
      if (f.in_startup() && m.body.substr(0, 4) != std::string("\x04\xd2\x16\x2f", 4)) f.end_startup();
      out.msgs.push_back(m);
    }
    if (out.last == Framer::Status::error) break;
  }
  out.error = f.error();
  return out;
}

std::string types(const Framed& f) {
  std::string t;
  for (const auto& m : f.msgs) t += m.type ? m.type : '0';
  return t;
}

std::string reframe(const Framed& f) {
  std::string out;
  for (const auto& m : f.msgs) out += m.type ? frame(m.type, m.body) : frame_startup(m.body);
  return out;
}

}  // namespace

TEST_CASE("pg framer: real streams frame into their messages and back to the same bytes", "[pgwire]") {
  const Framed c = run({kPipelineClient}, true);
  CHECK(c.last == Framer::Status::more);
  CHECK(types(c) == "0PBDESPBDEPBDESPBDESX");
  CHECK(reframe(c) == kPipelineClient);
  const Framed s = run({kPipelineServer}, false);
  CHECK(types(s) == "RSSSSSSSSSSSSSKZ12nCZ12TDC12TDCZ12nCZ");
  CHECK(reframe(s) == kPipelineServer);
  CHECK(types(run({kCopyinClient}, true)) == "0QdcX");
  CHECK(types(run({kCopyoutServer}, false)) == "RSSSSSSSSSSSSSKZHddddcCZ");
}

TEST_CASE("pg framer: a stream split at every byte boundary frames the same", "[pgwire]") {
  for (const std::string* stream : {&kErrorClient, &kErrorServer, &kCopyinClient, &kSimpleServer}) {
    const bool client = stream == &kErrorClient || stream == &kCopyinClient;
    const Framed whole = run({*stream}, client);
    for (std::size_t cut = 0; cut <= stream->size(); ++cut) {
      const Framed split = run({stream->substr(0, cut), stream->substr(cut)}, client);
      REQUIRE(types(split) == types(whole));
      REQUIRE(reframe(split) == *stream);
    }
    std::vector<std::string> bytes;
    for (char ch : *stream) bytes.emplace_back(1, ch);
    CHECK(reframe(run(bytes, client)) == *stream);
  }
}

TEST_CASE("pg framer: an SSLRequest then the startup packet, both untyped", "[pgwire]") {
  const std::string ssl("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
  const Framed f = run({ssl + kSimpleClient}, true);
  CHECK(types(f) == "00QX");
  CHECK(f.msgs[0].body == std::string("\x04\xd2\x16\x2f", 4));
}

TEST_CASE("pg framer: lengths below the minimum are refused", "[pgwire]") {
  CHECK(run({std::string("Q\x00\x00\x00\x03", 5)}, false).error == "message length 3 is invalid");
  CHECK(run({std::string("Q\xff\xff\xff\xff", 5)}, false).error == "message length -1 is invalid");
  CHECK(run({std::string("\x00\x00\x00\x07", 4)}, true).error == "startup packet length 7 is invalid");
  // Exactly 4: an empty body (Sync) is fine.
  const Framed sync = run({std::string("S\x00\x00\x00\x04", 5)}, false);
  CHECK(sync.error.empty());
  CHECK(types(sync) == "S");
}

TEST_CASE("pg framer: an oversized frame is refused from its header, before its body", "[pgwire]") {
  FramerLimits lim;
  lim.max_message = 1000;
  lim.max_copy_data = 5000;
  lim.max_startup = 100;
  Framer f(false, lim);
  f.feed(std::string("Q\x00\x1e\x84\x84", 5));  // length 2000004: body 2000000
  Message m;
  CHECK(f.next(m) == Framer::Status::error);
  CHECK(f.error() == "message 'Q' of 2000000 bytes exceeds the limit (1000)");
  CHECK(f.buffered() == 0);
  f.feed(std::string(100, 'x'));  // sticky; nothing more is held
  CHECK(f.next(m) == Framer::Status::error);
  CHECK(f.buffered() == 0);

  // At the limit: accepted. DataRow / CopyData use max_copy_data.
  CHECK(run({frame('Q', std::string(1000, 'a'))}, false, lim).error.empty());
  CHECK(run({frame('Q', std::string(1001, 'a'))}, false, lim).error == "message 'Q' of 1001 bytes exceeds the limit (1000)");
  CHECK(run({frame('D', std::string(5000, 'a'))}, false, lim).error.empty());
  CHECK(run({frame('d', std::string(5001, 'a'))}, false, lim).error == "message 'd' of 5001 bytes exceeds the limit (5000)");
  CHECK(run({std::string("\x01\x00\x00\x10\x00", 5)}, false, lim).error ==
        "message 0x01 of 4092 bytes exceeds the limit (1000)");
  // Startup packets: max_startup.
  CHECK(run({frame_startup(std::string(100, 'a'))}, true, lim).error.empty());
  CHECK(run({std::string("\x00\x00\x00\x69", 4)}, true, lim).error == "startup packet length 105 is invalid");
  CHECK(f.limit_for('D') == 5000);
  CHECK(f.limit_for('P') == 1000);
}

TEST_CASE("pg framer: a partial message holds no more than its header and body", "[pgwire]") {
  Framer f(false, FramerLimits{});
  const std::string q = frame('Q', "select 1");
  f.feed(q.substr(0, 3));
  Message m;
  CHECK(f.next(m) == Framer::Status::more);
  CHECK(f.missing() == 0);  // header incomplete
  f.feed(q.substr(3, 4));
  CHECK(f.next(m) == Framer::Status::more);
  CHECK(f.missing() == q.size() - 7);
  f.feed(q.substr(7) + "S");
  CHECK(f.next(m) == Framer::Status::message);
  CHECK(m.type == 'Q');
  CHECK(m.body == std::string("select 1", 8));
  CHECK(f.buffered() == 1);
  CHECK(f.next(m) == Framer::Status::more);

  // A header next() will refuse asks for no bytes.
  FramerLimits lim;
  lim.max_message = 100;
  Framer big(false, lim);
  big.feed(std::string("Q\x7f\xff\xff\xff", 5));
  CHECK(big.missing() == 0);
  CHECK(big.next(m) == Framer::Status::error);
  Framer small(true, lim);
  small.feed(std::string("\x00\x00\x00\x05", 4));
  CHECK(small.missing() == 0);
}

TEST_CASE("pg framer: frame() writes type, length, body", "[pgwire]") {
  CHECK(frame('Z', "I") == std::string("Z\x00\x00\x00\x05I", 6));
  CHECK(frame_startup(std::string("\x04\xd2\x16\x2f", 4)) == std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
  CHECK(type_name('Q') == "'Q'");
  CHECK(type_name('\n') == "0x0a");
}
