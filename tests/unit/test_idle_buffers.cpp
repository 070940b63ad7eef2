#include <catch2/catch.hpp>

#include <string>

#include "recorder/async_file_sink.h"
#include "sinks/client_sink.h"
#include "test_util.h"

using namespace bastion;

TEST_CASE("a drained client queue gives its memory back on trim, a pending one keeps its bytes", "[sink][idle]") {
  ClientSink c;
  c.write(Stream::out, std::string(300 * 1024, 'a'));
  c.write(Stream::err, "e");
  c.pending(Stream::out).erase(0, 300 * 1024);  // what drain_to_client does
  REQUIRE(c.pending(Stream::out).capacity() >= 300 * 1024);
  c.trim();
  CHECK(c.pending(Stream::out).capacity() < 64);
  CHECK(c.pending(Stream::err) == "e");  // not drained: untouched
}

TEST_CASE("a quiet recording file gives its buffers back on trim, and keeps writing after", "[sink][idle]") {
  testutil::TempDir d;
  recorder::Flusher flusher(10);
  std::string err;
  auto sink = recorder::AsyncFileSink::open(d / "t.cast", &flusher, err);
  REQUIRE(sink);
  // Past the high-water mark: flushed inline, both buffers grown by the burst.
  for (int i = 0; i < 3; ++i) sink->write_line(std::string(recorder::AsyncFileSink::kHighWater, 'x') + "\n");
  sink->flush();
  sink->trim();
  sink->write_line("after\n");
  sink->flush();
  const std::string all = testutil::slurp(d / "t.cast");
  CHECK(all.size() == 3 * (recorder::AsyncFileSink::kHighWater + 1) + 6);
  CHECK(all.substr(all.size() - 6) == "after\n");
}
