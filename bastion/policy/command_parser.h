// Turns the text of a command of some kind (a statement, an invocation) into what
// a session would decide: the text and facts the policy sees, or the
// bastion's own refusal. Used where no session runs: `bastionctl policy
// test` and policy test cases. The target kinds implement it.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "policy/command_facts.h"

namespace bastion {

struct ParsedCommand {
  std::string text = {};  // as the policy sees it
  std::shared_ptr<const CommandFacts> facts = nullptr;
  std::string refusal = {};  // refused whatever the policy says
  std::string error = {};    // not one command of this kind (a usage error)
  // Not a policy question (API discovery): allowed without asking; why.
  std::string undecided = {};
};

// What a test case says besides the command (a namespace, whether it was
// approved, ...), by the case's field names; booleans as "true"/"false".
using CommandOptions = std::map<std::string, std::string>;

class CommandParser {
 public:
  virtual ~CommandParser() = default;
  // nullopt when no target kind parses commands of `kind` (exec, shell, ...).
  virtual std::optional<ParsedCommand> parse(const std::string& kind, const std::string& text,
                                             const CommandOptions& options) const = 0;
  // The option names (case fields) the parser of `kind` reads; a case
  // naming any other field is refused as a misspelling.
  virtual std::set<std::string> option_names(const std::string& kind) const = 0;
  // The target type a request names when its test says none.
  virtual std::string default_target_type() const = 0;
};

}  // namespace bastion
