// The output path's bulk scans (SSE2 runs of plain ASCII in
// append_json_escaped, memchr runs in lf_to_crlf) give exactly what the
// byte-at-a-time definitions give, for every byte value at every offset.
#include <catch2/catch.hpp>

#include <random>
#include <string>

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
