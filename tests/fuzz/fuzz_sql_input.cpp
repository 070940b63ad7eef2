// Fuzzes the console's input path: keystrokes through the line editor,
// lines into psql's lexer (the statement splitter, a policy boundary),
// statements into the classifier. Checks what makes the splitter safe:
// every statement it hands out ends with its ';' and splits again into
// exactly itself; and with standard_conforming_strings off, the text the
// parser is given (E'' literals) splits exactly as the original did.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sources/line_editor.h"
#include "targets/postgres/sql_input.h"
#include "targets/postgres/pg_executor.h"
#include "targets/postgres/sql_classifier.h"

namespace {

std::vector<bastion::SqlInputItem> split(std::string_view text, bool std_strings,
                                         const bastion::SqlInputBuffer::Variables& vars, std::string& rest) {
  bastion::SqlInputBuffer b;
  b.set_standard_strings(std_strings);
  std::vector<bastion::SqlInputItem> items;
  std::size_t start = 0;
  while (true) {
    const auto nl = text.find('\n', start);
    b.feed_line(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start), vars, items);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  rest = b.take_all();
  return items;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // "\;" and "\:" put a character in the text that means more there than
  // in the input: the fixed-point checks do not apply to them, nor to:
  // :{?name} is replaced by TRUE or FALSE, which may join what precedes it
  // ("$:{?n}$" sends "$FALSE$"): psql's lexer and the server's then differ,
  // and the parser's split (the server's) is what decides.
  const bool plain = in.find("\\;") == std::string_view::npos && in.find("\\:") == std::string_view::npos &&
                     in.find(":{?") == std::string_view::npos;
  const bastion::SqlInputBuffer::Variables none;
  for (const bool std_strings : {true, false}) {
    std::string rest;
    for (const auto& item : split(in, std_strings, none, rest)) {
      if (item.kind == bastion::SqlInputItem::Kind::meta) {
        if (item.text.empty() || item.text[0] != '\\') __builtin_trap();
        continue;
      }
      if (item.text.empty() || item.text.back() != ';') __builtin_trap();
      bastion::classify_sql(item.text);
      // (:{?name} becomes TRUE or FALSE: text that still holds one, made
      // by nesting, means something else when split again, as in psql.)
      if (!plain || item.text.find(":{?") != std::string::npos) continue;
      std::string again_rest;
      const auto again = split(item.text, std_strings, none, again_rest);
      if (again.size() != 1 || again[0].text != item.text || !again_rest.empty()) __builtin_trap();
      if (!std_strings) {
        bool national = false;
        const std::string parsed = bastion::with_escape_string_literals(item.text, national);
        if (national) continue;
        const auto as_parsed = split(parsed, true, none, again_rest);
        if (as_parsed.size() != 1 || as_parsed[0].kind != bastion::SqlInputItem::Kind::statement ||
            !again_rest.empty())
          __builtin_trap();
      }
    }
  }
  // Variables: interpolated text may hold anything; it must not crash.
  std::string rest;
  split(in, true, {{"v", "1; SELECT :v"}, {"w", std::string(in.substr(0, 64))}}, rest);

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
