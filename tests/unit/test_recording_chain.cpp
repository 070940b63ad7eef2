#include <catch2/catch.hpp>

#include <algorithm>

#include <tuple>

#include "memory_line_sink.h"
#include "recorder/async_file_sink.h"
#include "test_util.h"
#include "recorder/asciicast_writer.h"
#include "recorder/line_chain.h"
#include "recorder/recording_chain.h"

using namespace recorder;

namespace {

using testutil::MemorySink;

// h_i = SHA-256(h_{i-1} || line_i), h_0 = 32 zero bytes: computed here the long way.
std::string chain_of(const std::vector<std::string>& lines) {
  std::string h(32, '\0');
  for (const auto& l : lines) {
    const std::string hex = sha256_hex(h + l);
    h.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) h += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return to_hex(reinterpret_cast<const unsigned char*>(h.data()), h.size());
}

}  // namespace

TEST_CASE("the line chain is SHA-256 over the previous head and each line", "[recording_chain]") {
  LineChain c;
  CHECK(c.state().events == 0);
  c.add("{\"version\":2}\n");
  c.add("[0.1, \"o\", \"a\"]\n");
  const ChainState s = c.state();
  CHECK(s.events == 1);
  CHECK(s.bytes == 30);
  CHECK(s.digest == chain_of({"{\"version\":2}\n", "[0.1, \"o\", \"a\"]\n"}));
  CHECK(c.last_line_digest() == sha256_hex("[0.1, \"o\", \"a\"]\n"));
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("the writer's chain covers exactly the lines it handed over, header included", "[recording_chain]") {
  std::string text;
  double now = 0;
  AsciicastWriter w(std::make_unique<MemorySink>(text), {}, 0, [&now] { return now; });
  w.marker("exec: ls");
  now = 0.5;
  w.output("hello\r\n");
  w.output("\xff");  // invalid byte: an "o" event and its "b" event, two lines
  w.finish();
  const ChainState s = w.chain_state();
  const ChainScan scan = scan_recording_chain(text, {s});
  CHECK(s.bytes == text.size());
  CHECK(s.events == 4);
  CHECK(scan.file.digest == s.digest);
  CHECK(scan.matches == std::vector<bool>{true});
  CHECK(scan.partial_bytes == 0);
  CHECK_FALSE(scan.out_of_order_line);
  CHECK(scan.last_line_digest == w.last_line_digest());
}

TEST_CASE("the reader finds where the chain stops matching", "[recording_chain]") {
  std::string text;
  double now = 0;
  AsciicastWriter w(std::make_unique<MemorySink>(text), {}, 0, [&now] { return now; });
  w.marker("one");
  const ChainState cp = w.chain_state();
  for (int i = 0; i < 4; ++i) now += 0.25, w.output("line " + std::to_string(i) + "\n");
  const ChainState fin = w.chain_state();

  SECTION("intact") { CHECK(scan_recording_chain(text, {cp, fin}).matches == std::vector<bool>{true, true}); }
  SECTION("an edit after the checkpoint keeps the checkpoint") {
    std::string t = text;
    t[t.rfind("line 2")] = 'L';
    const auto s = scan_recording_chain(t, {cp, fin});
    CHECK(s.matches == std::vector<bool>{true, false});
    CHECK(s.file.events == fin.events);
    CHECK(s.file.bytes == fin.bytes);
  }
  SECTION("an edit of the header breaks both") {
    std::string t = text;
    t[t.find("80")] = '9';
    CHECK(scan_recording_chain(t, {cp, fin}).matches == std::vector<bool>{false, false});
  }
  SECTION("swapped lines are out of order") {
    const auto a = text.find("[0.5"), b = text.find("[0.75"), e = text.find("[1.0");
    const std::string t = text.substr(0, a) + text.substr(b, e - b) + text.substr(a, b - a) + text.substr(e);
    const auto s = scan_recording_chain(t, {fin});
    REQUIRE(s.out_of_order_line);
    CHECK(*s.out_of_order_line == 5);
    CHECK(s.matches == std::vector<bool>{false});
  }
  SECTION("a cut mid-line leaves partial bytes") {
    const auto s = scan_recording_chain(text.substr(0, text.size() - 3), {fin});
    CHECK(s.file.events == fin.events - 1);
    CHECK(s.partial_bytes > 0);
    CHECK(s.matches == std::vector<bool>{false});
  }
  SECTION("fed a byte at a time, the scan is the same") {
    std::string t = text;
    t[t.rfind("line 2")] = 'L';
    t += "[9, \"o\"";  // a partial last line
    ChainScanner sc({cp, fin});
    for (char ch : t) sc.feed(std::string_view(&ch, 1));
    const ChainScan a = sc.finish(), b = scan_recording_chain(t, {cp, fin});
    CHECK(a.file.digest == b.file.digest);
    CHECK(a.file.events == b.file.events);
    CHECK(a.matches == b.matches);
    CHECK(a.partial_bytes == b.partial_bytes);
    CHECK(a.partial_bytes == 7);
    CHECK(a.last_line_digest == b.last_line_digest);
  }
  SECTION("anything at all scans without throwing") {
    CHECK(scan_recording_chain("", {fin}).file.events == 0);
    CHECK(scan_recording_chain("\n\n\n", {fin}).file.events == 2);
    CHECK(scan_recording_chain(std::string("[1e999,\0\n[nan,x\n", 16), {}).file.events == 1);
  }
}

TEST_CASE("a giant line is hashed as it streams: the reader holds a few bytes of it, not the line",
          "[recording_chain]") {
  // 8 MiB of output in one event line, fed 64 KiB at a time (as verify reads).
  const std::string header = "{\"version\": 2}\n";
  const std::string giant = "[1.5, \"o\", \"" + std::string(8 << 20, 'x') + "\"]\n";
  const std::string after = "[2.5, \"o\", \"y\"]\n";
  const std::string file = header + giant + after + "[3.0, \"o\"";  // ends mid-line
  LineChain whole;
  whole.add(header);
  whole.add(giant);
  const ChainState at_giant = whole.state();
  whole.add(after);
  ChainScanner s({at_giant, whole.state()});
  std::size_t most = 0;
  for (std::size_t off = 0; off < file.size(); off += 64 << 10) {
    s.feed(std::string_view(file).substr(off, 64 << 10));
    most = std::max(most, s.buffered());
  }
  CHECK(most <= ChainScanner::kPrefixBytes);
  const ChainScan r = s.finish();
  CHECK(r.file.events == 2);
  CHECK(r.file.bytes == header.size() + giant.size() + after.size());
  CHECK(r.file.digest == whole.state().digest);
  CHECK(r.file.digest == chain_of({header, giant, after}));
  CHECK(r.last_line_digest == sha256_hex(after));
  CHECK(r.partial_bytes == 9);
  CHECK(r.matches == std::vector<bool>{true, true});
  CHECK(r.point_times[0] == 1.5);
  CHECK(r.last_time == 2.5);
  CHECK_FALSE(r.out_of_order_line);
}

TEST_CASE("a file sink extends the chain itself, as it writes, and matches the writer's own", "[recording_chain][sink]") {
  testutil::TempDir d;
  Flusher flusher(5);
  std::string err;
  auto file = AsyncFileSink::open(d / "c.cast", &flusher, err);
  REQUIRE(file);
  SharedSinkRef ref(file);
  CHECK(ref.chains_lines());  // the session thread does no hashing for it
  std::string text;  // the same lines through a sink that does not chain
  double now = 0;
  AsciicastWriter w(std::make_unique<SharedSinkRef>(file), {}, 0, [&now] { return now; });
  AsciicastWriter mem(std::make_unique<MemorySink>(text), {}, 0, [&now] { return now; });
  // Enough output to cross the kick size several times (flusher writes), with
  // checkpoints read in between (the producer flushes).
  const std::string chunk = std::string(3000, 'x') + "\r\n\xff" + std::string(1000, 'y');
  for (int i = 0; i < 400; ++i) {
    now += 0.001;
    w.output(chunk), mem.output(chunk);
    if (i % 97 == 0) {
      const ChainState a = w.chain_state(), b = mem.chain_state();
      CHECK(std::tie(a.events, a.bytes, a.digest) == std::tie(b.events, b.bytes, b.digest));
      CHECK(testutil::slurp(d / "c.cast").size() == a.bytes);  // flushed: the file holds what it vouches for
    }
  }
  w.finish(), mem.finish();
  const ChainState a = w.chain_state(), b = mem.chain_state();
  CHECK(std::tie(a.events, a.bytes, a.digest) == std::tie(b.events, b.bytes, b.digest));
  CHECK(w.last_line_digest() == mem.last_line_digest());
  const std::string on_disk = testutil::slurp(d / "c.cast");
  CHECK(on_disk == text);
  CHECK(scan_recording_chain(on_disk, {a}).matches == std::vector<bool>{true});
}
