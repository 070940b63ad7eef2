#include <cstdint>
#include <sstream>
#include <string>

#include "recorder/asciicast_reader.h"
#include "recorder/asciicast_writer.h"
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
  recorder::utf8_complete_prefix(s);
  return 0;
}
