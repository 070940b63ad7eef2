// Case-insensitive substring search for the audit store's readers, the same
// for every pattern length: the full-text index (trigram) folds Unicode case,
// so the short-pattern scan and the not-yet-indexed rows must too (SQLite's
// LIKE folds ASCII only).
#pragma once
#include <string>
#include <string_view>

struct sqlite3;

namespace bastion {

// Lower-cases every character the C.UTF-8 locale knows a lower case for;
// bytes that are not UTF-8 are kept as they are.
std::string fold_case(std::string_view utf8);

// Registers contains_ci(TEXT, NEEDLE) on `db`: 1 when NEEDLE occurs in TEXT
// ignoring case, else 0 (NULL TEXT: 0). False when SQLite refuses it.
bool register_contains_ci(sqlite3* db);

}  // namespace bastion
