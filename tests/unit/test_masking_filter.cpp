#include <catch2/catch.hpp>

#include "filters/masking_filter.h"

using namespace bastion;

namespace {

class Capture : public OutputSink {
 public:
  void write(Stream, std::string_view data) override { text.append(data); }
  std::string text;
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

TEST_CASE("held text is bounded and released on request", "[mask]") {
  MaskingFilter f(std::vector<MaskRule>{{"secret", "***"}});
  std::string data = "prompt$ ";
  f.filter(Stream::out, data);
  CHECK(data.empty());
  CHECK(f.holding());
  std::string tail;
  f.flush(Stream::out, tail);
  CHECK(tail == "prompt$ ");
  CHECK_FALSE(f.holding());
  // A very long line is not held beyond kMaxHold.
  std::string big(MaskingFilter::kMaxHold + 10, 'x');
  f.filter(Stream::out, big);
  CHECK(big.size() == MaskingFilter::kMaxHold + 10);
  CHECK_FALSE(f.holding());
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
