// Fuzzes SQL splitting and classification (libpg_query + the tree walker).
#include <cstdint>
#include <string_view>

#include "targets/postgres/sql_classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto stmts = bastion::classify_sql(std::string_view(reinterpret_cast<const char*>(data), size));
  if (stmts.size() > bastion::kSqlMaxStatements) __builtin_trap();
  return 0;
}
