#include <catch2/catch.hpp>

#include <random>

#include "filters/masking_filter.h"

using namespace bastion;

namespace {

class Capture : public OutputSink {
 public:
  void write(Stream, std::string_view data) override {
    text.append(data);
    pieces.emplace_back(data);
  }
  std::string text;
  std::vector<std::string> pieces;
};

std::string run(const std::vector<MaskRule>& rules, const std::vector<std::string>& reads) {
  OutputPipeline p;
  Capture c;
  p.add_filter(std::make_unique<MaskingFilter>(rules));
  p.add_sink(&c);
  for (const auto& r : reads) p.write(Stream::out, r);
  p.end_of_stream();
  return c.text;
}

// The text cut at the given offsets.
std::vector<std::string> cut(const std::string& text, std::vector<std::size_t> at) {
  std::vector<std::string> reads;
  std::size_t from = 0;
  for (std::size_t to : at) {
    reads.push_back(text.substr(from, to - from));
    from = to;
  }
  reads.push_back(text.substr(from));
  return reads;
}

std::string masked_whole(const std::vector<MaskRule>& rules, std::string text) {
  MaskingFilter(rules).mask(text);
  return text;
}

const std::vector<MaskRule> kAws{{"AKIA[0-9A-Z]{16}", "[MASKED]"}};

}  // namespace

TEST_CASE("masks every match, including ones split across reads", "[mask]") {
  const std::vector<MaskRule> rules{{"AKIA[0-9A-Z]{16}", "[MASKED]"}, {"(?i)password=\\S+", "password=****"}};
  CHECK(run(rules, {"key AKIAABCDEFGHIJKLMNOP here\n"}) == "key [MASKED] here\n");
  const std::string line = "key AKIAABCDEFGHIJKLMNOP and Password=hunter2 end\n";
  for (std::size_t cut = 1; cut < line.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(run(rules, {line.substr(0, cut), line.substr(cut)}) == "key [MASKED] and password=**** end\n");
  }
  // A secret at the very end with no newline is masked at end of stream.
  CHECK(run(rules, {"AKIAABCDEFGH", "IJKLMNOP"}) == "[MASKED]");
}

TEST_CASE("a secret in a 100 KB line is masked wherever the reads split it", "[mask]") {
  const std::string secret = "AKIAABCDEFGHIJKLMNOP";
  const std::string before(50'000, 'x'), after(50'000, 'y');
  const std::string line = before + secret + after;
  const std::string expected = before + "[MASKED]" + after;
  const std::size_t at = before.size();
  // Two reads: the boundary at every offset from just before to just after the secret.
  for (std::size_t c = at - 2; c <= at + secret.size() + 2; ++c) {
    INFO("cut at " << c);
    REQUIRE(run(kAws, cut(line, {c})) == expected);
  }
  // Three reads: both boundaries anywhere in and around the secret.
  for (std::size_t a = at - 1; a <= at + secret.size(); ++a)
    for (std::size_t b = a + 1; b <= at + secret.size() + 1; ++b) {
      INFO("cuts at " << a << " and " << b);
      REQUIRE(run(kAws, cut(line, {a, b})) == expected);
    }
}

TEST_CASE("secrets next to read boundaries, back to back, at the edges of a long line", "[mask]") {
  const std::string s1 = "AKIAABCDEFGHIJKLMNOP", s2 = "AKIAQRSTUVWXYZ234567";
  std::string line;
  for (int i = 0; i < 300; ++i) line += (i % 3 == 0 ? s1 + s2 : i % 3 == 1 ? s2 : std::string(37, '-') + s1);
  line += s1;  // the stream ends on a secret
  const std::string expected = masked_whole(kAws, line);
  REQUIRE(expected.find("AKIA") == std::string::npos);
  // Reads of exactly one secret, of a secret and a byte, and of a secret less a byte.
  for (std::size_t size : {20u, 21u, 19u, 40u, 1u, 7u}) {
    std::vector<std::size_t> at;
    for (std::size_t c = size; c < line.size(); c += size) at.push_back(c);
    INFO("reads of " << size);
    CHECK(run(kAws, cut(line, at)) == expected);
  }
}

TEST_CASE("capture groups are kept when the match straddles reads", "[mask]") {
  const std::vector<MaskRule> rules{{"(password=)[^ ]{1,32}", "****"},
                                    {"(\"[\\w.-]{1,20}\": \")[A-Za-z0-9+/]{4,64}={0,2}(\")", "****"}};
  const std::string filler(6000, '.');
  const std::string line = filler + " password=hunter2 {\"token\": \"aHVudGVyMi1zZWNyZXQ=\"} " + filler;
  const std::string expected = filler + " password=**** {\"token\": \"****\"} " + filler;
  REQUIRE(masked_whole(rules, line) == expected);
  for (std::size_t c = filler.size(); c <= filler.size() + 50; ++c) {
    INFO("cut at " << c);
    CHECK(run(rules, cut(line, {c})) == expected);
  }
}

TEST_CASE("a greedy unbounded pattern catches a match shorter than the cap across reads", "[mask]") {
  const std::vector<MaskRule> rules{{"password=\\S+", "password=****"}};
  std::string words;
  while (words.size() < 100'000) words += "word ";
  const std::string line = words + "password=hunter2hunter2 " + words;
  const std::string expected = words + "password=**** " + words;
  for (std::size_t c = words.size(); c <= words.size() + 24; ++c) {
    INFO("cut at " << c);
    CHECK(run(rules, cut(line, {c})) == expected);
  }
  // Also when the output arrives in many small reads.
  std::vector<std::size_t> at;
  for (std::size_t c = 4093; c < line.size(); c += 4093) at.push_back(c);
  CHECK(run(rules, cut(line, at)) == expected);
}

TEST_CASE("a released piece never ends inside a UTF-8 character", "[mask]") {
  const std::vector<MaskRule> rules{{"€[0-9]{1,6}", "€***"}, {"AKIA[0-9A-Z]{16}", "[MASKED]"}};
  std::string line;
  for (int i = 0; line.size() < 20'000; ++i) line += i % 7 == 0 ? "€123 " : i % 5 == 0 ? "😀" : "é";
  const std::string expected = masked_whole(rules, line);
  for (std::size_t size : {1u, 2u, 3u, 5u, 7u, 4096u}) {
    OutputPipeline p;
    Capture c;
    p.add_filter(std::make_unique<MaskingFilter>(rules));
    p.add_sink(&c);
    for (std::size_t from = 0; from < line.size(); from += size) p.write(Stream::out, line.substr(from, size));
    p.end_of_stream();
    INFO("reads of " << size);
    CHECK(c.text == expected);
    for (const auto& piece : c.pieces) {
      REQUIRE_FALSE(piece.empty());
      CHECK((static_cast<unsigned char>(piece.front()) & 0xC0) != 0x80);  // starts a character
      // ends a character: the last lead byte's sequence is complete
      std::size_t lead = piece.size() - 1;
      while (lead > 0 && (static_cast<unsigned char>(piece[lead]) & 0xC0) == 0x80) --lead;
      const unsigned b = static_cast<unsigned char>(piece[lead]);
      const std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
      CHECK(piece.size() - lead == len);
    }
  }
}

TEST_CASE("held output never exceeds the longest match less one", "[mask]") {
  // Near-misses (one character short of a key) keep a match growing at every
  // boundary; nothing matches, so what is held is what went in but not out.
  std::string line;
  for (int i = 0; line.size() < 20'000; ++i) line += i % 2 ? "AKIA0123456789ABCDE-" : "text ";
  OutputPipeline p;
  Capture c;
  p.add_filter(std::make_unique<MaskingFilter>(kAws));
  p.add_sink(&c);
  std::mt19937 rng(12);
  std::size_t in = 0, most = 0;
  while (in < line.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 50, line.size() - in);
    p.write(Stream::out, line.substr(in, n));
    in += n;
    REQUIRE(line.compare(0, c.text.size(), c.text) == 0);
    REQUIRE(in - c.text.size() <= 19);  // "AKIA[0-9A-Z]{16}" matches at most 20 bytes
    most = std::max(most, in - c.text.size());
  }
  CHECK(most == 19);
  p.end_of_stream();
  CHECK(c.text == line);
}

TEST_CASE("the held amount is bounded with matches too, and reported", "[mask]") {
  const std::vector<MaskRule> rules{{"AKIA[0-9A-Z]{16}", "[MASKED]"}, {"\\btoken=[a-z]{8}\\b", "token=****"}};
  MaskingFilter f(rules);
  CHECK(f.max_held() == (19 + 3) + (13 + 1 + 3));  // per rule: longest-1 (+1 for \b), +3 for UTF-8
  std::string line;
  for (int i = 0; line.size() < 50'000; ++i) line += i % 3 ? "AKIAABCDEFGHIJKLMNOP token=abcdefgh " : "é€ ";
  std::mt19937 rng(7);
  std::string out;
  for (std::size_t in = 0; in < line.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 64, line.size() - in);
    std::string data = line.substr(in, n);
    in += n;
    f.filter(Stream::out, data);
    out += data;
    REQUIRE(f.held(Stream::out) <= f.max_held());
    REQUIRE(f.held(Stream::err) == 0);
  }
  std::string tail;
  f.flush(Stream::out, tail);
  CHECK(f.held(Stream::out) == 0);
  CHECK(out + tail == masked_whole(rules, line));
}

TEST_CASE("streaming gives what masking the whole text gives, however it is split", "[mask]") {
  const std::vector<MaskRule> rules{
      {"AKIA[0-9A-Z]{16}", "[A]"},
      {"(?m)^(\\s+[\\w.-]+: )[A-Za-z0-9+/]{4,40}={0,2}$", "[B]"},
      {"\\bkey=[0-9a-f]{4,12}\\b", "[C]"},
      {"(?i)(bearer )[a-z0-9]{6,20}", "[D]"},
      {"^start", "[E]"},
      {"end$", "[F]"},
      {"é{2,3}", "[G]"},
  };
  std::mt19937 rng(2026);
  const std::vector<std::string> words{"AKIAABCDEFGHIJKLMNOP", "AKIA", "\n  password: aHVudGVy\n", "  x: ab==\n",
                                       "key=abcdef", "key=abcdefabcdefabcdef", "xkey=abcd ", "Bearer Tok3n99x ",
                                       "start", "end", "éé", "ééé", "é", " ", "\n", "aaaa", "😀"};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int n = 5 + static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) text += words[rng() % words.size()];
    std::vector<std::size_t> at;
    for (std::size_t c = 1 + rng() % 40; c < text.size(); c += 1 + rng() % 40) at.push_back(c);
    INFO("round " << round);
    REQUIRE(run(rules, cut(text, at)) == masked_whole(rules, text));
  }
}

TEST_CASE("a command's masks catch a match split across reads of a long line", "[mask]") {
  OutputPipeline p;
  Capture c;
  p.add_sink(&c);
  p.begin_command(std::make_unique<MaskingFilter>(kAws));
  const std::string filler(10'000, 'r');
  p.write(Stream::out, filler + "AKIAABCDEF");
  p.write(Stream::out, "GHIJKLMNOP" + filler);
  p.end_command();
  p.write(Stream::out, "AKIAABCDEFGHIJKLMNOP\n");  // after the command: not masked
  p.end_of_stream();
  CHECK(c.text == filler + "[MASKED]" + filler + "AKIAABCDEFGHIJKLMNOP\n");
}

TEST_CASE("held text is bounded and released on request", "[mask]") {
  MaskingFilter f(std::vector<MaskRule>{{"secret", "***"}});
  std::string data = "prompt$ ";
  f.filter(Stream::out, data);
  CHECK(data == "pro");  // "secret" is 6 bytes: 5 are held
  CHECK(f.holding());
  std::string tail;
  f.flush(Stream::out, tail);
  CHECK(tail == "mpt$ ");
  CHECK_FALSE(f.holding());
  // A very long line holds back only what a match could still need.
  std::string big(100'000, 'x');
  f.filter(Stream::out, big);
  CHECK(big.size() == 100'000 - 5);
  CHECK(f.holding());
  // An unbounded pattern holds back at most the cap.
  MaskingFilter g(std::vector<MaskRule>{{"x+y", "***"}});
  std::string many(200'000, 'x');
  g.filter(Stream::out, many);
  CHECK(many.size() == 200'000 - (MaskingFilter::kLookaheadCap - 1));
}

TEST_CASE("replacement text is literal", "[mask]") {
  CHECK(run({{"a+", "\\1$&"}}, {"xaay\n"}) == "x\\1$&y\n");
}

TEST_CASE("a capture group is kept in front of the replacement", "[mask]") {
  const std::vector<MaskRule> rules{{"(?i)((?:password|token)\\s*[=:]\\s*)\\S+", "****"},
                                    {"(?m)^(\\s+[\\w.-]+: )[A-Za-z0-9+/]{8,}={0,2}$", "****"}};
  CHECK(run(rules, {"db password=hunter2 token: abc\n"}) == "db password=**** token: ****\n");
  CHECK(run(rules, {"data:\n  password: aHVudGVyMi1zZWNyZXQ=\n"}) == "data:\n  password: ****\n");
  const std::vector<MaskRule> json{{"(\"[\\w.-]+\": \")[A-Za-z0-9+/]{4,}={0,2}(\")", "****"}};
  CHECK(run(json, {"{\"password\": \"aHVudGVy\", \"kind\": \"Secret\"}\n"}) ==
        "{\"password\": \"****\", \"kind\": \"****\"}\n");
}

TEST_CASE("the work per byte stays bounded when a large window meets small reads", "[mask]") {
  // An unbounded pattern holds 64 KiB; searching it again for each 64-byte
  // read would cost a thousand times the output.
  MaskingFilter f(std::vector<MaskRule>{{"(?i)((?:password|token)\\s*[=:]\\s*)\\S+", "****"}, {"AKIA[0-9A-Z]{16}", "****"}});
  std::string line;
  for (int i = 0; line.size() < 4'000'000; ++i) line += i % 5000 ? "some ordinary output " : "token=AKIAABCDEFGHIJKLMNOP ";
  std::string out;
  for (std::size_t in = 0; in < line.size(); in += 64) {
    std::string data = line.substr(in, 64);
    f.filter(Stream::out, data);
    out += data;
    REQUIRE(f.held(Stream::out) <= f.max_held());
  }
  std::string tail;
  f.flush(Stream::out, tail);
  CHECK(out + tail == masked_whole({{"(?i)((?:password|token)\\s*[=:]\\s*)\\S+", "****"}, {"AKIA[0-9A-Z]{16}", "****"}}, line));
  CHECK(f.searched() <= 6 * 2 * line.size());  // two rules, each searching every byte at most ~5 times
}

TEST_CASE("output written from a read buffer is masked like any other, and passes as read without a mask", "[mask]") {
  // SshExecutor hands the pipeline a view of its read buffer; the pipeline
  // skips the copy only when no filter at all applies.
  const std::string line = "key AKIAABCDEFGHIJKLMNOP here\n";
  for (std::size_t at = 1; at < line.size(); ++at) {
    INFO("cut at " << at);
    OutputPipeline p;
    Capture c;
    p.add_filter(std::make_unique<MaskingFilter>(kAws));
    p.add_sink(&c);
    p.write_view(Stream::out, std::string_view(line).substr(0, at));
    p.write_view(Stream::out, std::string_view(line).substr(at));
    p.end_of_stream();
    CHECK(c.text == "key [MASKED] here\n");
  }
  {  // a command's masks alone (a SQL statement's)
    OutputPipeline p;
    Capture c;
    p.add_sink(&c);
    p.begin_command(std::make_unique<MaskingFilter>(kAws));
    p.write_view(Stream::out, line);
    p.end_command();
    p.write_view(Stream::err, line);  // after the command: its masks no longer apply
    CHECK(c.text == "key [MASKED] here\n" + line);
  }
  {
    OutputPipeline p;
    Capture c;
    p.add_sink(&c);
    p.write_view(Stream::out, line);
    CHECK(c.pieces == std::vector<std::string>{line});
    CHECK(p.take_activity());
  }
}

TEST_CASE("mask pattern cache: one compilation per rule set, shared by filters that keep their own stream state") {
  MaskPatternCache cache;
  const std::vector<MaskRule> rules = {{"sk_live_[0-9a-z]+", "[key]"}};
  const auto a = cache.get(rules);
  CHECK(cache.get(rules) == a);
  CHECK(cache.get({{"sk_live_[0-9a-z]+", "[other]"}}) != a);  // the replacement is part of the key
  CHECK(cache.get({{"sk_live_[0-9a-z]+[key]", ""}}) != a);     // and where pattern ends and replacement begins
  MaskingFilter f1(a), f2(a);
  std::string x = "one sk_live_ab", y = "two sk_live_cd tail";
  f1.filter(Stream::out, x);  // f1 holds back a possible continuation
  f2.filter(Stream::out, y);
  std::string rest1 = "cd end", rest2;
  f1.filter(Stream::out, rest1);
  f1.flush(Stream::out, rest2);
  CHECK(x + rest1 + rest2 == "one [key] end");
  std::string tail2;
  f2.flush(Stream::out, tail2);
  CHECK(y + tail2 == "two [key] tail");
  // Bounded: the least recently used set is compiled again.
  for (int i = 0; i < static_cast<int>(MaskPatternCache::kEntries); ++i) cache.get({{"p" + std::to_string(i), ""}});
  CHECK(cache.get(rules) != a);
  // A pattern that does not compile masks everything rather than nothing.
  MaskingFilter bad(cache.get({{"(", ""}}));
  std::string s = "secret";
  bad.mask(s);
  CHECK(s == "");
}
