// Recomputes the audit chain of an audit store (SQLite or PostgreSQL, read
// through AuditSource: one code path), checks its anchors'
// signatures, and compares every current row of the chained tables with its
// latest chained snapshot: a row edited, deleted or inserted with SQL
// directly is reported with its table and key. Entries the signing bastiond
// did not append (its anchors name them) are listed: a problem on a table
// only bastiond writes, a note on one an admin command writes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>


namespace bastion {

class AuditSource;
class AuditVerifier;

// An entry a signed anchor says bastiond did not append.
struct ForeignEntry {
  int64_t seq = 0;
  std::string table, key, writer;  // writer: what the entry claims
  bool ok = false;                 // a note (an admin command's write), not a problem
  std::string what;                // the line verify prints
};

// A chain entry as bastiond's log ("audit chain head") or an earlier verify
// showed it: the witness a cut of the chain's tail cannot remove.
struct ChainHead {
  int64_t seq = 0;
  std::string hash;
};

// "SEQ:HASH" (a 64-digit hex hash); nullopt when it is anything else.
std::optional<ChainHead> parse_chain_head(const std::string& text);

struct ChainReport {
  int64_t entries = 0;
  int64_t signed_upto = 0;  // highest seq a valid anchor vouches for
  std::string signed_hash, signed_at;  // that entry's hash, and when the anchor was signed
  std::vector<std::string> problems;
  std::vector<std::string> notes;  // worth a look, not a failure
  std::vector<ForeignEntry> foreign;
};

// Unsigned entries younger than this (by their `at`) are expected on a
// running bastiond, which anchors about once a second.
inline constexpr double kUnsignedGraceSeconds = 10.0;
// A bastiond killed before its next anchor leaves entries it wrote unsigned;
// the next bastiond names them foreign. Those that claim bastiond and are
// dated at most this long after the previous anchor are such leftovers.
inline constexpr double kLeftoverSeconds = 2.0;

// expect: an entry the chain must hold with that hash (verify --expect-head).
ChainReport verify_audit_chain(AuditSource& db, const AuditVerifier& key, const std::optional<ChainHead>& expect = std::nullopt);

// commands_fts (the search index) against commands: the indexed range within
// the table, and every indexed command in the index. Problems, if any; none
// on a store without a search index (PostgreSQL).
std::vector<std::string> verify_search_index(AuditSource& db);

}  // namespace bastion
