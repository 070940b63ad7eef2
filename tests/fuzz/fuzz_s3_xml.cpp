// Fuzzes what the recordings shipper reads from an S3 answer
// (recordings/s3_client: s3_xml_text for UploadId and ETag, s3_error_code).
// Checks, for any body:
//   * a text found is at most 1024 bytes, holds no markup, entity or control
//     byte, and really sits between <Tag> and </Tag> in the body;
//   * an error code is at most 64 of [A-Za-z0-9.] and appears as <Code>X</Code>.
#include <cstdint>
#include <string>
#include <string_view>

#include "recordings/s3_client.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (std::string_view tag : {"UploadId", "ETag", "Code"}) {
    const auto t = bastion::s3_xml_text(body, tag);
    if (!t) continue;
    if (t->size() > 1024) fail();
    for (char c : *t)
      if (c == '<' || c == '&' || static_cast<unsigned char>(c) < 0x20) fail();
    const std::string whole = "<" + std::string(tag) + ">" + *t + "</" + std::string(tag) + ">";
    if (body.find(whole) == std::string_view::npos) fail();
  }
  const std::string code = bastion::s3_error_code(body);
  if (code.size() > 64) fail();
  for (char c : code)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')) fail();
  if (!code.empty() && body.find("<Code>" + code + "</Code>") == std::string_view::npos) fail();
  return 0;
}
