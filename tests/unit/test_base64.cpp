#include <catch2/catch.hpp>

#include "common/base64.h"

using namespace bastion;

TEST_CASE("base64: RFC 4648 test vectors both ways", "[base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    CHECK(base64_encode(plain) == coded);
    std::string out = "junk";
    CHECK(base64_decode(coded, out));
    CHECK(out == plain);
  }
}

TEST_CASE("base64: binary bytes round-trip", "[base64]") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  const std::string coded = base64_encode(bytes);
  CHECK(coded.size() == 344);
  CHECK(coded.substr(0, 8) == "AAECAwQF");
  CHECK(coded.substr(coded.size() - 8) == "/P3+/w==");
  std::string back;
  REQUIRE(base64_decode(coded, back));
  CHECK(back == bytes);
}

TEST_CASE("base64: malformed text is refused", "[base64]") {
  std::string out;
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zg==Zg==", "Zm=v", "Zm9v\n", " Zm9v", "Zm9-", "Zm9_", "Zm9v====",
                          "===="})
    CHECK_FALSE(base64_decode(bad, out));
}
