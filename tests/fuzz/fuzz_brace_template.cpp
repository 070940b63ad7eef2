// Fuzzes the brace template (approvals.webhook_text): checking and expanding
// never crash, a template that checks expands every placeholder, and the
// expansion of a valid template holds no brace it did not write.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/brace_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view tmpl(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> names{"id", "event", "command"};
  const std::string err = bastion::brace_template_error(tmpl, names);
  std::size_t calls = 0;
  const std::string out = bastion::brace_template_expand(tmpl, [&](std::string_view n) {
    ++calls;
    return std::string(n.size(), 'v');  // no braces in values
  });
  if (err.empty()) {
    // Every brace in the output came from a "{{" or "}}" in the template.
    std::size_t braces_in = 0, braces_out = 0;
    for (std::size_t i = 0; i + 1 < tmpl.size(); ++i)
      if ((tmpl[i] == '{' || tmpl[i] == '}') && tmpl[i + 1] == tmpl[i]) ++braces_in, ++i;
    for (char c : out) braces_out += c == '{' || c == '}';
    if (braces_in != braces_out) __builtin_trap();
  }
  if (out.size() > size * 8 + 8 && calls == 0) __builtin_trap();
  return 0;
}
