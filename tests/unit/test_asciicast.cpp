#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "memory_line_sink.h"
#include "recorder/async_file_sink.h"
#include "recorder/asciicast_reader.h"
#include "recorder/asciicast_writer.h"
#include "recorder/utf8.h"
#include "test_util.h"

using namespace recorder;

namespace {

using testutil::MemorySink;

struct Cast {
  std::string text;
  double now = 0;
  AsciicastWriter w;
  explicit Cast(uint64_t cap = 0, AsciicastHeader h = {})
      : w(std::make_unique<MemorySink>(text), h, cap, [this] { return now; }) {}
  Asciicast read() {
    std::istringstream in(text);
    std::string err;
    auto c = read_asciicast(in, err);
    INFO(err);
    REQUIRE(c);
    return *c;
  }
};

}  // namespace

TEST_CASE("header and event lines are exact", "[asciicast]") {
  AsciicastHeader h;
  h.width = 100;
  h.height = 30;
  h.timestamp = 1700000000;
  h.title = "alice -> web1";
  h.command = "uname -a";
  h.env["TERM"] = "xterm";
  Cast c(0, h);
  c.now = 0.5;
  c.w.output("hi\r\n\x1b[0m\t\"q\"\\");
  c.now = 1.25;
  c.w.resize(120, 40);
  c.w.marker("exec: ls");
  c.w.finish();
  CHECK(c.text ==
        "{\"version\":2,\"width\":100,\"height\":30,\"timestamp\":1700000000,\"title\":\"alice -> web1\","
        "\"command\":\"uname -a\",\"env\":{\"TERM\":\"xterm\"}}\n"
        "[0.500000, \"o\", \"hi\\r\\n\\u001b[0m\\t\\\"q\\\"\\\\\"]\n"
        "[1.250000, \"r\", \"120x40\"]\n"
        "[1.250000, \"m\", \"exec: ls\"]\n");
}

TEST_CASE("a UTF-8 character split across reads is never split across events", "[asciicast]") {
  const std::string text = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80!";
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    Cast c;
    c.w.output(text.substr(0, cut));
    c.w.output(text.substr(cut));
    c.w.finish();
    const auto cast = c.read();
    std::string joined;
    for (const auto& e : cast.events) {
      CHECK(e.data.find("\xEF\xBF\xBD") == std::string::npos);  // no replacement char
      joined += e.data;
    }
    CHECK(joined == text);
  }
}

TEST_CASE("invalid UTF-8 is shown as U+FFFD and kept exactly", "[asciicast]") {
  Cast c;
  c.w.output(std::string("a\xFF" "b\xC3", 4));  // trailing lead byte, never completed
  c.w.output("z");
  c.w.finish();
  CHECK(c.text.find("\"o\", \"a\xEF\xBF\xBD" "b\"]") != std::string::npos);
  CHECK(c.text.find("\"b\", \"") != std::string::npos);
  const auto cast = c.read();
  CHECK(asciicast_output(cast) == std::string("a\xFF" "b\xC3z", 5));
}

TEST_CASE("the size cap is never exceeded and ends with a marker", "[asciicast]") {
  Cast c(1024);
  WriteResult last = WriteResult::ok;
  int n = 0;
  while (last == WriteResult::ok && n < 1000) last = c.w.output("0123456789abcdef" + std::to_string(n++));
  CHECK(last == WriteResult::capped);
  CHECK(c.w.capped());
  CHECK(c.text.size() <= 1024);
  CHECK(c.w.output("more") == WriteResult::capped);
  const auto cast = c.read();
  CHECK(cast.events.back().code == 'm');
  CHECK(cast.events.back().data == "recording size cap reached");
}

TEST_CASE("a truncated last line is tolerated; garbage elsewhere is not", "[asciicast]") {
  Cast c;
  c.w.output("one");
  c.w.output("two");
  c.w.finish();
  std::string cut = c.text.substr(0, c.text.size() - 5);
  std::istringstream in(cut);
  std::string err;
  auto cast = read_asciicast(in, err);
  REQUIRE(cast);
  CHECK(cast->truncated);
  CHECK(asciicast_output(*cast) == "one");

  std::istringstream bad("{\"version\":2,\"width\":1,\"height\":1}\nnot json\n[1, \"o\", \"x\"]\n");
  CHECK_FALSE(read_asciicast(bad, err));
  CHECK(err == "line 2: not valid JSON");
  std::istringstream v3("{\"version\":3,\"term\":{\"cols\":1,\"rows\":1}}\n");
  CHECK_FALSE(read_asciicast(v3, err));
  CHECK(err == "line 1: not an asciicast v2 header");
}

namespace {

// Context switches of every thread of this process but the caller's: what
// background threads (the flusher) did meanwhile.
uint64_t other_threads_switches() {
  uint64_t total = 0;
  const std::string self = std::to_string(gettid());
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    if (e.path().filename() == self) continue;
    std::ifstream f(e.path() / "status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        total += std::stoull(line.substr(line.find(':') + 1));
  }
  return total;
}

}  // namespace

TEST_CASE("the flusher sleeps while no sink has lines, and flushes soon after one gets some", "[asciicast][sink]") {
  testutil::TempDir d;
  Flusher flusher(10);
  std::string err;
  auto sink = AsyncFileSink::open(d / "idle.cast", &flusher, err);
  REQUIRE(sink);
  sink->write_line("first\n");
  const auto flushed = [&](const std::string& text) {
    for (int i = 0; i < 200 && testutil::slurp(d / "idle.cast") != text; ++i) usleep(10'000);
    return testutil::slurp(d / "idle.cast") == text;
  };
  REQUIRE(flushed("first\n"));
  usleep(50'000);  // the round that wrote it is over
  // Idle: a 10 ms interval would be about 30 wakeups here.
  const uint64_t before = other_threads_switches();
  usleep(300'000);
  CHECK(other_threads_switches() - before <= 2);
  sink->write_line("second\n");
  CHECK(flushed("first\nsecond\n"));
}

TEST_CASE("async file sink writes whole lines and reports write errors", "[asciicast][sink]") {
  testutil::TempDir d;
  Flusher flusher(10);
  std::string err;
  {
    auto sink = AsyncFileSink::open(d / "a.cast", &flusher, err);
    REQUIRE(sink);
    AsciicastWriter w(std::make_unique<SharedSinkRef>(sink), {}, 0, [] { return 0.0; });
    w.output("hello");
    w.finish();
    CHECK_FALSE(w.failed());
  }
  CHECK(testutil::slurp(d / "a.cast").find("[0.000000, \"o\", \"hello\"]\n") != std::string::npos);
  // Exclusive create: never appends to (or clobbers) an existing recording.
  CHECK(AsyncFileSink::open(d / "a.cast", &flusher, err) == nullptr);

  // A full disk: /dev/full fails every write with ENOSPC, and the writer says so.
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto full = AsyncFileSink::adopt(fd, nullptr);  // no flusher: writes inline
  AsciicastWriter w(std::make_unique<SharedSinkRef>(full), {}, 0, [] { return 0.0; });
  CHECK(w.failed());
  CHECK(w.output("x") == WriteResult::failed);
  CHECK(w.error() == "recording write failed: No space left on device");
}

TEST_CASE("hostile header numbers are range-checked (found by fuzzing)", "[asciicast]") {
  std::istringstream in("{\"version\":2,\"width\":1e30,\"height\":-5,\"timestamp\":1.5}\n[0.1, \"o\", \"x\"]\n");
  std::string err;
  auto cast = read_asciicast(in, err);
  REQUIRE(cast);
  CHECK(cast->header.width == 0);
  CHECK(cast->header.height == 0);
  CHECK(cast->header.timestamp == 0);
}

TEST_CASE("a sink past its kick size is written by the flusher's thread, not the producer's", "[asciicast][sink]") {
  testutil::TempDir d;
  Flusher flusher(60 * 1000);  // no periodic pass within the test: only a kick writes
  std::string err;
  auto sink = AsyncFileSink::open(d / "k.cast", &flusher, err);
  REQUIRE(sink);
  const std::string line(1023, 'x');
  std::size_t written = 0;
  // Below the kick size nothing is written: the producer only buffers.
  while (written + 1024 < AsyncFileSink::kKickAt) sink->write_line(line + "\n"), written += 1024;
  CHECK(testutil::slurp(d / "k.cast").empty());
  sink->write_line(line + "\n"), written += 1024;  // crosses kKickAt: the flusher is woken
  REQUIRE(written < AsyncFileSink::kHighWater);    // far from the inline (back-pressure) flush
  std::size_t size = 0;
  for (int i = 0; i < 500 && size < written; ++i) {
    size = testutil::slurp(d / "k.cast").size();
    if (size < written) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(size == written);
  sink->close();
}

TEST_CASE("the writer counts the events it hands over without making a chaining sink flush", "[asciicast][sink]") {
  testutil::TempDir d;
  Flusher flusher(60 * 1000);  // no periodic pass: only an asked-for flush writes
  std::string err;
  auto sink = AsyncFileSink::open(d / "e.cast", &flusher, err);
  REQUIRE(sink);
  AsciicastWriter w(std::make_unique<SharedSinkRef>(sink), {}, 0, [] { return 0.0; });
  for (int i = 0; i < 5; ++i) w.output("line\r\n");
  w.marker("m");
  CHECK(w.events_handed() == 6);
  // Counting did not write: the session asks this before every sleep.
  CHECK(testutil::slurp(d / "e.cast").empty());
  CHECK(w.chain_state().events == 6);  // the chain agrees (and this one flushes)
  CHECK(!testutil::slurp(d / "e.cast").empty());
  w.finish();
}
