#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "recorder/asciicast_reader.h"
#include "recorder/asciicast_writer.h"
#include "recorder/newline_translator.h"
#include "recorder/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  std::istringstream in(s);
  std::string err;
  if (auto cast = recorder::read_asciicast(in, err)) {
    recorder::asciicast_output(*cast);
    recorder::asciicast_raw_output(*cast, err);
  }
  // The writer side: arbitrary bytes must always produce JSON the reader takes back exactly.
  std::string out;
  recorder::append_json_escaped(out, s);
  // The fused no-pty path (LF recorded as CRLF while escaping) is exactly
  // escaping lf_to_crlf's copy: what a recording says did not change.
  std::string fused, two_pass;
  const bool fused_ok = recorder::append_json_escaped(fused, s, true);
  const bool two_pass_ok = recorder::append_json_escaped(two_pass, recorder::lf_to_crlf(s));
  if (fused != two_pass || fused_ok != two_pass_ok) std::abort();
  recorder::utf8_complete_prefix(s);
  return 0;
}
