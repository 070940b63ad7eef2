#include <algorithm>

#include "targets/kubectl/kubectl_flags.h"

namespace bastion {

std::string normalize_kubectl_flag(std::string_view name) {
  std::string n(name);
  std::replace(n.begin(), n.end(), '_', '-');  // kubectl's WordSepNormalizeFunc; '.' is left alone
  return n;
}

const KubectlFlagRow* KubectlCommandSpec::find_long(std::string_view normalized_name) const {
  for (const auto& f : flags)
    if (normalized_name == f.name) return &f;
  return nullptr;
}

const KubectlFlagRow* KubectlCommandSpec::find_short(char c) const {
  if (c == '\0') return nullptr;
  for (const auto& f : flags)
    if (f.shorthand == c) return &f;
  return nullptr;
}

KubectlFlagTable::KubectlFlagTable() {
  // cobra gives every command -h/--help.
  static constexpr KubectlFlagRow kHelp{"help", 'h', KubectlArity::boolean};
  for (std::size_t i = 0; i < kKubectlCommandCount; ++i) {
    const KubectlCommandRow& row = kKubectlCommands[i];
    KubectlCommandSpec c;
    c.path = row.path;
    for (std::string_view a = row.aliases; !a.empty();) {
      const auto comma = a.find(',');
      c.aliases.emplace_back(a.substr(0, comma));
      a = comma == std::string_view::npos ? std::string_view{} : a.substr(comma + 1);
    }
    for (const KubectlFlagRow* f = row.flags; f->name[0] != '\0'; ++f) c.flags.push_back(*f);
    for (std::size_t g = 0; g < kKubectlGlobalFlagCount; ++g)
      if (!c.find_long(kKubectlGlobalFlags[g].name)) c.flags.push_back(kKubectlGlobalFlags[g]);
    if (!c.find_long("help")) c.flags.push_back(kHelp);
    commands_.push_back(std::move(c));
  }
  // Children: "a b c" is a child of "a b"; the root ("") comes first in the generated table.
  for (std::size_t i = 1; i < commands_.size(); ++i) {
    const std::string& p = commands_[i].path;
    const auto sp = p.rfind(' ');
    const std::string parent = sp == std::string::npos ? "" : p.substr(0, sp);
    for (auto& c : commands_)
      if (c.path == parent) c.children.push_back(i);
  }
}

const KubectlFlagTable& KubectlFlagTable::installed() {
  static const KubectlFlagTable table;  // immutable once built
  return table;
}

long KubectlFlagTable::find_child(const KubectlCommandSpec& parent, std::string_view word) const {
  for (const std::size_t i : parent.children) {
    const KubectlCommandSpec& c = commands_[i];
    const auto sp = c.path.rfind(' ');
    const std::string_view name = sp == std::string::npos ? std::string_view(c.path) : std::string_view(c.path).substr(sp + 1);
    if (name == word || std::find(c.aliases.begin(), c.aliases.end(), word) != c.aliases.end())
      return static_cast<long>(i);
  }
  return -1;
}

}  // namespace bastion
