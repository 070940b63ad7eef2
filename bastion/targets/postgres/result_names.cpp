#include "targets/postgres/result_names.h"

namespace bastion {

namespace {

std::string folded(std::string v) {
  for (auto& c : v) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return v;
}

}  // namespace

bool result_names_hidden(const SqlStatement& s) {
  const std::string& k = s.kind;
  return s.opaque || k == "fetch" || k == "execute" || k == "call" || k == "do" || !s.parse_error.empty() ||
         !s.functions.empty();
}

bool result_name_shown(const SqlStatement& s, const std::string& name, const std::string& catalog_column) {
  if (name.empty() || name == kUnnamedColumn) return true;
  if (!catalog_column.empty() && name == catalog_column) return true;
  return folded(s.text).find(folded(name)) != std::string::npos;
}

}  // namespace bastion
