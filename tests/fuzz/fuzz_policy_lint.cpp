// Fuzzes the static reader behind `bastionctl policy check`
// (policy/policy_lint: a Lua tokenizer, review calls, mask methods), and the
// hook-name check. Checks, for any input:
//   * every review call and mask problem is on a line the text has;
//   * review calls come in text order;
//   * a mask problem names the file and quotes a method the mask spec refuses
//     or a pattern RE2 refuses;
//   * a hook name is never reported, another name at most once, by its name.
#include <algorithm>
#include <cstdint>
#include <string>

#include <re2/re2.h>

#include "policy/policy.h"
#include "policy/policy_library.h"
#include "policy/policy_lint.h"

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  const bastion::LuaTextScan scan = bastion::scan_policy_text(text, "f.lua");
  int last = 1;
  for (const auto& r : scan.reviews) {
    if (r.line < last || r.line > lines) fail();
    last = r.line;
  }
  for (const auto& p : scan.mask_problems) {
    if (!p.starts_with("f.lua:")) fail();
    const int line = std::atoi(p.c_str() + 6);
    if (line < 1 || line > lines) fail();
    // A column method the mask spec refuses, or an output pattern RE2 refuses.
    const auto method = p.find(": mask column method \""), pattern = p.find(": mask pattern \"");
    if (method != std::string::npos) {
      const auto open = method + 22, close = p.rfind("\" is not full");
      if (close == std::string::npos || close < open) fail();
      bastion::ColumnMaskRule rule;
      if (bastion::parse_column_mask_method(p.substr(open, close - open), rule)) fail();
    } else if (pattern != std::string::npos) {
      const auto open = pattern + 16, close = p.rfind("\" does not compile: ");
      if (close == std::string::npos || close < open) fail();
      if (RE2(p.substr(open, close - open), RE2::Quiet).ok()) fail();
    } else {
      fail();
    }
  }
  // The hook check on the input's words, each beside a real hook: a hook
  // itself is never a problem, any other name at most one, naming it.
  std::vector<std::string> names;
  std::string word;
  for (char c : text.substr(0, 256)) {
    if (c == ' ' || c == '\n') {
      if (!word.empty()) names.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) names.push_back(word);
  for (const auto& n : names) {
    const auto p = bastion::hook_problems({n, "on_command"});
    if (n == "on_session" || n == "on_command") {
      if (!p.empty()) fail();  // a hook itself is never a problem
    } else if (p.size() > 1 || (p.size() == 1 && !p[0].starts_with("unknown hook " + n))) {
      fail();
    }
  }
  return 0;
}
