#include <stdexcept>

#include "targets/target_kind.h"

namespace bastion {

const TargetKind& kind_of(const TargetConfig& t) {
  const auto* k = dynamic_cast<const TargetKind*>(t.schema);
  if (!k) throw std::logic_error("target " + t.name + " has no kind");
  return *k;
}

const TargetKind* TargetKinds::find(std::string_view type) const {
  for (const auto& k : kinds_)
    if (type == k->type()) return k.get();
  return nullptr;
}

std::vector<std::string> TargetKinds::types() const {
  std::vector<std::string> out;
  for (const auto& k : kinds_) out.emplace_back(k->type());
  return out;
}

std::optional<ParsedCommand> TargetKinds::parse(const std::string& kind, const std::string& text,
                                                const CommandOptions& options) const {
  for (const auto& k : kinds_)
    for (const auto& c : k->command_kinds())
      if (c == kind) return k->parse_command(kind, text, options);
  return std::nullopt;
}

std::set<std::string> TargetKinds::option_names(const std::string& kind) const {
  for (const auto& k : kinds_)
    for (const auto& c : k->command_kinds())
      if (c == kind) return k->command_options(kind);
  return {};
}

std::vector<std::string> TargetKinds::command_kinds() const {
  std::vector<std::string> out;
  for (const auto& k : kinds_)
    for (auto& c : k->command_kinds()) out.push_back(std::move(c));
  return out;
}

}  // namespace bastion
