// Fuzzes SQL splitting and classification (libpg_query + the tree walker),
// and the invariants of the facts a policy reads.
#include <cstdint>
#include <string_view>

#include "targets/postgres/sql_classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto stmts = bastion::classify_sql(std::string_view(reinterpret_cast<const char*>(data), size));
  if (stmts.size() > bastion::kSqlMaxStatements) __builtin_trap();
  for (const auto& s : stmts) {
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
