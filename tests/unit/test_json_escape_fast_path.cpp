// The output path's bulk scans (SSE2 runs of plain ASCII in
// append_json_escaped, memchr runs in lf_to_crlf) give exactly what the
// byte-at-a-time definitions give, for every byte value at every offset.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "memory_line_sink.h"
#include "recorder/asciicast_writer.h"
#include "recorder/newline_translator.h"
#include "recorder/utf8.h"

namespace {

std::string crlf_reference(const std::string& in) {
  std::string out;
  for (const char c : in) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string random_text(std::mt19937& rng, std::size_t n) {
  // Mostly plain text with a few of everything else, so runs of every length end on every kind of byte.
  static const std::string plain = "abcdefghijklmnopqrstuvwxyz 0123456789.-_/";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned r = rng() % 100;
    if (r < 80) s += plain[rng() % plain.size()];
    else s += static_cast<char>(rng() % 256);
  }
  return s;
}

}  // namespace

TEST_CASE("lf_to_crlf's runs match the byte-at-a-time definition", "[recorder]") {
  std::mt19937 rng(7);
  for (int k = 0; k < 2000; ++k) {
    const std::string s = random_text(rng, rng() % 200);
    REQUIRE(recorder::lf_to_crlf(s) == crlf_reference(s));
  }
  CHECK(recorder::lf_to_crlf("") == "");
  CHECK(recorder::lf_to_crlf("\n\n") == "\r\n\r\n");
}

TEST_CASE("append_json_escaped: every byte value at every offset of a 16-byte block", "[recorder]") {
  // A plain run of 40 bytes with one byte B at offset K: the escape of B must
  // sit exactly at K, and the rest must be copied.
  for (int b = 0; b < 256; ++b) {
    for (std::size_t k = 0; k < 40; ++k) {
      std::string in(40, 'a');
      in[k] = static_cast<char>(b);
      std::string single;
      recorder::append_json_escaped(single, std::string(1, static_cast<char>(b)));
      std::string out;
      recorder::append_json_escaped(out, in);
      REQUIRE(out == std::string(k, 'a') + single + std::string(39 - k, 'a'));
    }
  }
}

TEST_CASE("append_json_escaped on random text equals escaping it in pieces", "[recorder]") {
  // Splitting at plain-ASCII boundaries cannot change the result: a
  // reference that never takes the bulk path (one byte at a time where it is
  // plain ASCII) must agree with the whole-string call.
  std::mt19937 rng(11);
  for (int k = 0; k < 2000; ++k) {
    const std::string s = random_text(rng, rng() % 300);
    std::string whole;
    const bool r1 = recorder::append_json_escaped(whole, s);
    std::string pieces;
    bool r2 = false;
    std::size_t i = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      std::size_t len = 1;
      if (c >= 0x80) {  // keep a multi-byte sequence (or an invalid byte run) together
        while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
      }
      r2 = recorder::append_json_escaped(pieces, s.substr(i, len)) || r2;
      i += len;
    }
    REQUIRE(whole == pieces);
    REQUIRE(r1 == r2);
  }
}

namespace {

// Text with many line ends, CR LF pairs and UTF-8 characters, so random cuts
// fall between a CR and its LF and inside characters.
std::string random_lines(std::mt19937& rng, std::size_t n) {
  static const std::vector<std::string> pieces = {"a", "b", " ", "0", "\n", "\r", "\r\n", "\n\n", "\xc3\xa9",
                                                  "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\"", "\\",
                                                  "\x1b[0m", "\t", std::string(1, '\0')};
  std::string s;
  while (s.size() < n) {
    if (rng() % 3 == 0) s += "the quick brown fox";
    else s += pieces[rng() % pieces.size()];
  }
  return s;
}

// Every event line after the header.
std::string events(const std::string& cast) { return cast.substr(cast.find('\n') + 1); }

}  // namespace

TEST_CASE("append_json_escaped with lf_as_crlf equals escaping lf_to_crlf's copy", "[recorder]") {
  std::mt19937 rng(13);
  for (int k = 0; k < 3000; ++k) {
    const std::string s = k % 2 ? random_lines(rng, rng() % 300) : random_text(rng, rng() % 300);
    std::string fused, two_pass;
    const bool r1 = recorder::append_json_escaped(fused, s, true);
    const bool r2 = recorder::append_json_escaped(two_pass, recorder::lf_to_crlf(s));
    REQUIRE(fused == two_pass);
    REQUIRE(r1 == r2);
  }
}

TEST_CASE("a crlf writer records exactly what lf_to_crlf then a raw writer recorded, however the output is cut",
          "[recorder]") {
  // The recording's bytes (hence its chain and signed digests) must not
  // change: "o" and "b" events, UTF-8 carry across cuts, a CR at the end of
  // one chunk with its LF at the start of the next, and the cap.
  std::mt19937 rng(17);
  for (int k = 0; k < 1500; ++k) {
    const std::string s = random_lines(rng, rng() % 400);
    const uint64_t cap = k % 5 == 0 ? 600 + rng() % 800 : 0;
    std::string fused, two_pass;
    {
      recorder::AsciicastHeader crlf;
      crlf.newlines = recorder::OutputNewlines::crlf;
      recorder::AsciicastWriter w1(std::make_unique<testutil::MemorySink>(fused), crlf, cap, [] { return 0.5; });
      // A title as long as the crlf field, so both headers count the same
      // bytes towards the cap.
      recorder::AsciicastHeader raw;
      raw.title = std::string(15, 't');
      recorder::AsciicastWriter w2(std::make_unique<testutil::MemorySink>(two_pass), raw, cap, [] { return 0.5; });
      std::size_t i = 0;
      while (i < s.size()) {
        const std::size_t len = std::min<std::size_t>(s.size() - i, 1 + rng() % 24);
        const std::string_view chunk = std::string_view(s).substr(i, len);
        REQUIRE(w1.output(chunk) == w2.output(recorder::lf_to_crlf(chunk)));
        i += len;
      }
    }
    INFO("input " << s.size() << " bytes, cap " << cap);
    REQUIRE(fused.find('\n') == two_pass.find('\n'));
    REQUIRE(events(fused) == events(two_pass));
  }
}
