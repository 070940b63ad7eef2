#include "sources/shell_line_facts.h"

#include <nlohmann/json.hpp>

namespace bastion {

void ShellLineFacts::describe(FactWriter& out) const {
  out.text("source", line.source);
  out.text("prompt", line.prompt);
  out.flag("prompt_known", line.prompt_known);
  out.flag("nested", line.nested);
  out.text("program", line.program);
  out.flag("hidden", line.hidden);
  out.text("hidden_chars", std::to_string(line.hidden_chars));
  out.flag("pasted", line.pasted);
  out.flag("continued", line.continued);
  out.flag("fullscreen", line.fullscreen);
}

std::string ShellLineFacts::audit_details() const {
  nlohmann::json j = {{"source", line.source}};
  if (!line.prompt.empty()) j["prompt"] = line.prompt;
  if (!line.prompt_known) j["prompt_known"] = false;
  if (line.nested) j["nested"] = true, j["program"] = line.program;
  if (line.hidden) j["hidden"] = true, j["hidden_chars"] = line.hidden_chars;
  if (line.pasted) j["pasted"] = true;
  if (line.continued) j["continued"] = true;
  if (line.fullscreen) j["fullscreen"] = true;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
