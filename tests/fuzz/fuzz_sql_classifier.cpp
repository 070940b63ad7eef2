// Fuzzes SQL splitting and classification (libpg_query + the tree walker),
// and the invariants of the facts a policy reads.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets/postgres/sql_classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto stmts = bastion::classify_sql(std::string_view(reinterpret_cast<const char*>(data), size));
  // At most the cap, and then one more that stands for the rest (refused
  // wherever it goes): nothing past the cap is ever dropped silently.
  if (stmts.size() > bastion::kSqlMaxStatements + 1) __builtin_trap();
  if (stmts.size() == bastion::kSqlMaxStatements + 1 && !stmts.back().over_limit) __builtin_trap();
  for (std::size_t i = 0; i < stmts.size(); ++i) {
    const auto& s = stmts[i];
    if (s.over_limit && (!s.syntax_error || i + 1 != stmts.size())) __builtin_trap();
    // A statement carrying the whole input's tree points into it.
    if (s.tree && !s.node.is_object()) __builtin_trap();
    const bastion::SqlFacts f = bastion::sql_facts(s);
    // Opaque always says why; a reason never comes without the flag.
    if (f.opaque != !f.opaque_reasons.empty()) __builtin_trap();
    // COPY ... TO is a copy; setting names are normalised (lower-case).
    if (f.copy_to && f.statement != "copy") __builtin_trap();
    for (const auto& set : f.sets)
      for (char c : set.name)
        if (c >= 'A' && c <= 'Z') __builtin_trap();
  }
  return 0;
}
