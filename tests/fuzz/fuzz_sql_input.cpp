// Fuzzes the console's input path: keystrokes through the line editor, lines
// into the statement accumulator (cut at every 0x00 byte, so chunk
// boundaries land anywhere), complete input into the classifier. Checks that
// no byte is lost or invented between the accumulator and the classifier.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sources/line_editor.h"
#include "sources/sql_input.h"
#include "targets/postgres/pg_executor.h"
#include "targets/postgres/sql_classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  bastion::SqlInputBuffer buf;
  std::string taken;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    if (i < in.size() && in[i] != '\0') continue;
    buf.append(in.substr(start, i - start));
    const std::string c = buf.take_complete();
    if (!c.empty() && c.back() != ';') __builtin_trap();
    taken += c;
    bastion::classify_sql(c);
    start = i + 1;
  }
  taken += buf.take_all();
  std::string expected;
  for (char ch : in)
    if (ch != '\0') expected += ch;
  if (taken != expected) __builtin_trap();

  bastion::LineEditor ed(4096, 8);
  std::string out;
  std::vector<bastion::LineEditor::Event> ev;
  ed.begin("db=> ", out);
  std::size_t used = 0;
  while (used < in.size()) {
    const std::size_t n = ed.feed(in.substr(used), out, ev);
    if (n == 0) break;
    used += n;
    for (const auto& e : ev) ed.add_history(e.text);
    ev.clear();
  }
  if (ed.line().size() > 4096) __builtin_trap();
  bastion::parse_sql_exec_line(std::string(in.substr(0, 256)));
  return 0;
}
