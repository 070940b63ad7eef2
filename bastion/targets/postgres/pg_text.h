// Small pieces the SQL executor's files share: its input limits, text
// trimming (common/strings.h) and folding, and how the server reads string literals.
#pragma once
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

#include <libpq-fe.h>

#include "common/strings.h"

namespace bastion::pg_text {

inline constexpr std::size_t kMaxInput = 1 << 20;  // unfinished statement or line
inline constexpr std::size_t kInputChunk = 64 * 1024;

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What psql's lexer is told (psql's standard_strings()): unknown counts as off.
inline bool server_standard_strings(PGconn* c) {
  const char* v = PQparameterStatus(c, "standard_conforming_strings");
  return v && std::string_view(v) == "on";
}

}  // namespace bastion::pg_text
