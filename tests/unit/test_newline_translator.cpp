#include <catch2/catch.hpp>

#include <sstream>

#include "memory_line_sink.h"
#include "recorder/asciicast_reader.h"
#include "recorder/asciicast_writer.h"
#include "recorder/newline_translator.h"
#include "sinks/recorder_sink.h"

using namespace recorder;

namespace {

using testutil::MemorySink;

std::string undo_in_pieces(std::string_view recorded, std::size_t piece, bool* ok = nullptr) {
  CrlfUndo undo;
  std::string out;
  for (std::size_t i = 0; i < recorded.size(); i += piece) undo.feed(recorded.substr(i, piece), out);
  undo.finish(out);
  if (ok) *ok = undo.ok();
  return out;
}

// What a channel without a pty records through its RecorderSink.
std::string record(const std::vector<std::string>& chunks, OutputNewlines newlines) {
  std::string text;
  AsciicastHeader h;
  h.newlines = newlines;
  {
    AsciicastWriter w(std::make_unique<MemorySink>(text), h, 0, [] { return 0.0; });
    bastion::RecorderSink sink(&w);
    for (const auto& c : chunks) sink.write(bastion::Stream::out, c);
  }
  return text;
}

Asciicast read(const std::string& text) {
  std::istringstream in(text);
  std::string err;
  auto c = read_asciicast(in, err);
  INFO(err);
  REQUIRE(c);
  return *c;
}

}  // namespace

TEST_CASE("every LF is recorded as CR LF, and undone exactly", "[newlines]") {
  CHECK(lf_to_crlf("a\nb\n") == "a\r\nb\r\n");
  CHECK(lf_to_crlf("a\r\nb\rc") == "a\r\r\nb\rc");
  CHECK(lf_to_crlf("\n\n") == "\r\n\r\n");
  for (const std::string& raw : {std::string("a\nb\n"), std::string("a\r\nb\r\r\n\n\r"), std::string("\r"),
                                std::string("\r\r\n\n\r\n"), std::string(""), std::string("x\0\n\xff\r", 6)}) {
    const std::string rec = lf_to_crlf(raw);
    for (std::size_t piece = 1; piece <= rec.size() + 1; ++piece) {
      bool ok = false;
      INFO("piece " << piece);
      CHECK(undo_in_pieces(rec, piece, &ok) == raw);
      CHECK(ok);
    }
  }
}

TEST_CASE("a bare LF in a CR LF stream is reported, not guessed", "[newlines]") {
  CrlfUndo undo;
  std::string out;
  undo.feed("a\r\nb\nc", out);
  CHECK_FALSE(undo.ok());
  CHECK(undo.bare_lf_at() == 4);
}

TEST_CASE("a recording without a pty says crlf, shows CR LF and gives the raw bytes back", "[newlines]") {
  // The chunks split a CR LF pair, a UTF-8 character and an invalid byte
  // (which makes a "b" event holding the exact recorded bytes).
  const std::vector<std::string> chunks = {"a\nb\r", "\n\xc3", "\xa9\n\xff", "z\n"};
  const std::string text = record(chunks, OutputNewlines::crlf);
  CHECK(text.substr(0, text.find('\n')) ==
        R"({"version":2,"width":80,"height":24,"timestamp":0,"bastion_newlines":"crlf"})");
  CHECK(text.find("\"b\"") != std::string::npos);
  const Asciicast cast = read(text);
  CHECK(cast.header.newlines == OutputNewlines::crlf);
  CHECK(asciicast_output(cast) == "a\r\nb\r\r\n\xc3\xa9\r\n\xffz\r\n");
  std::string err;
  const auto raw = asciicast_raw_output(cast, err);
  REQUIRE(raw);
  CHECK(*raw == "a\nb\r\n\xc3\xa9\n\xffz\n");
}

TEST_CASE("a pty recording stays as sent and has no newline field", "[newlines]") {
  const std::string text = record({"a\r\nb\n"}, OutputNewlines::raw);
  CHECK(text.find("bastion_newlines") == std::string::npos);
  const Asciicast cast = read(text);
  CHECK(cast.header.newlines == OutputNewlines::raw);
  std::string err;
  CHECK(asciicast_output(cast) == "a\r\nb\n");
  CHECK(asciicast_raw_output(cast, err) == std::optional<std::string>("a\r\nb\n"));
}

TEST_CASE("an unknown newline field or a contradicting body is refused", "[newlines]") {
  std::string err;
  {
    std::istringstream in("{\"version\":2,\"width\":80,\"height\":24,\"bastion_newlines\":\"lf\"}\n");
    CHECK_FALSE(read_asciicast(in, err));
    CHECK(err == "line 1: unknown \"bastion_newlines\" value");
  }
  {
    std::istringstream in("{\"version\":2,\"width\":80,\"height\":24,\"bastion_newlines\":1}\n");
    CHECK_FALSE(read_asciicast(in, err));
  }
  const Asciicast cast = read("{\"version\":2,\"width\":80,\"height\":24,\"bastion_newlines\":\"crlf\"}\n"
                              "[0.1, \"o\", \"a\\r\\nb\\n\"]\n");
  CHECK_FALSE(asciicast_raw_output(cast, err));
  CHECK(err == "output byte 4: a bare LF in a recording whose header says bastion_newlines crlf (not written by "
               "the bastion): the raw bytes are not recoverable");
}
