// The query filter sees every recorded byte before an auditor's terminal
// does. Properties: the same output however the input is cut; never more
// than kMaxHeld bytes held; nothing it would drop is left in its output
// (filtering twice changes nothing); no known query survives.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "recorder/newline_translator.h"
#include "recorder/terminal_query_filter.h"

namespace {

std::string run(std::string_view in, std::size_t cut) {
  recorder::TerminalQueryFilter f;
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += cut) {
    f.feed(in.substr(i, cut), out);
    if (f.held() > recorder::TerminalQueryFilter::kMaxHeld + 1) std::abort();
  }
  f.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t cut = 1 + data[0] % 16;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string whole = run(in, in.size() + 1);
  if (run(in, cut) != whole) std::abort();
  if (run(whole, whole.size() + 1) != whole) std::abort();
  for (const std::string_view q : {"\x05", "\x1b[6n", "\x1b[5n", "\x1b[c", "\x1b[>c", "\x1b[=c", "\x1bZ", "\x1b[>q",
                                   "\x1bP$q", "\x1bP+q", "\x1b]11;?\x07", "\x1b]11;?\x1b\\", "\xc2\x9b" "6n"})
    if (whole.find(q) != std::string::npos) std::abort();
  // The newline translation is undone exactly, however the recording is cut.
  const std::string rec = recorder::lf_to_crlf(in);
  recorder::CrlfUndo undo;
  std::string back;
  for (std::size_t i = 0; i < rec.size(); i += cut) undo.feed(std::string_view(rec).substr(i, cut), back);
  undo.finish(back);
  if (!undo.ok() || back != in) std::abort();
  return 0;
}
