// One statement a wire client runs, from its decision to the end of its
// result: the gate's result (audit row, masks), the mask plan of its
// RowDescription, each DataRow masked, server messages about it redacted
// under column masks, and the line the recording gets when it ends.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filters/mask_patterns.h"
#include "filters/masking_filter.h"
#include "policy/command_gate.h"
#include "sources/held_command.h"
#include "targets/postgres/column_masker.h"
#include "targets/postgres/pg_connection.h"
#include "targets/postgres/sql_classifier.h"
#include "targets/postgres/statement_tree.h"
#include "targets/postgres/wire/pg_wire_messages.h"
#include "targets/postgres/wire/pg_wire_origin_cache.h"

namespace bastion::pgwire {

// Where result columns come from: every column of `table_oids`, looked up
// in the catalog. False when the lookup failed (then every column is
// masked: fail closed).
bool lookup_origins(PgConnection& catalog, const std::vector<uint32_t>& table_oids, OriginMap& out);

// The origins of the wanted (table oid, column) pairs (and of the rest of
// their relations); empty or false: unavailable, every column masked.
using OriginResolver = std::function<bool(const std::vector<ColumnKey>& wanted, OriginMap& out)>;

struct WireStatement {
  SqlStatement stmt;
  std::vector<SqlParam> params;
  GateResult gate;
  std::optional<HeldCommand> review;
  double started = 0;
  uint64_t rows = 0;
  bool ended = false;
  // Set once decided and allowed:
  std::unique_ptr<ColumnMasker> masker;      // column masks
  std::unique_ptr<MaskingFilter> text_masks;  // the decision's output patterns, per value
  StatementTree tree;
  bool withhold_messages = false;
  // It reads a relation, or what its text hides (a user function, DO,
  // EXECUTE, FETCH): its computed columns may carry masked values.
  bool may_read_masked = false;
  bool planned = false;          // a RowDescription gave the current plan
  std::vector<int16_t> formats;  // of the planned columns
  std::vector<int16_t> bind_result_formats;  // Bind's (extended protocol)
  std::string masked_columns;
  bool names_withheld = false;  // RowDescription names replaced (plan_result)

  bool masks_anything() const { return masker || text_masks; }
};

// The parse tree of the statement text analysed last, when small. Parse
// keeps no tree (prepared statements are many and a tree is tens of times
// its text), so each Bind under column masks parses again; a client binding
// the same prepared statement over and over (an ORM, pgbench -M prepared)
// finds it here instead. One entry per connection: bounded by kMaxBytes.
class TreeCache {
 public:
  static constexpr std::size_t kMaxBytes = 256 << 10;
  // Parses `sql` into `out`, or adopts the tree kept for the same text.
  bool parse(const std::string& sql, StatementTree& out);

 private:
  std::string text_;
  std::shared_ptr<const ParseTree> tree_;
  PtNode stmt_;
};

// After the decision: installs masks and returns why the bastion refuses
// the statement under them ("" to run it). Under column masks a statement
// that reads any relation counts as reading masked data (the catalog
// connection cannot see the client's search_path or uncommitted tables).
// `patterns`: compiled output masks shared across statements, `trees` the
// last statement's tree (either may be null).
std::string prepare_masks(WireStatement& s, const std::string& mask_key, MaskPatternCache* patterns = nullptr,
                          TreeCache* trees = nullptr);

// A RowDescription of this statement's result: plans its masks. "" or why
// the result cannot be masked (a masked column in binary format).
// `resolve` may be empty (unavailable: every column masked).
// Under column masks, names a result got from somewhere its text does not
// show are replaced in `fields` (names_withheld is then set).
std::string plan_result(WireStatement& s, std::vector<FieldDescription>& fields, const OriginResolver& resolve);

// A DataRow, masked per the plan (a row without a plan: every column
// masked). False when it does not decode or a masked value is binary.
bool mask_data_row(WireStatement& s, std::string_view body, std::string& framed_out);

// An ErrorResponse/NoticeResponse about a statement under masks: only
// severity and SQLSTATE survive (the server quotes values).
Fields redacted(const Fields& f, const char* what);

// "(3 rows, 1.2 ms)", "INSERT 0 1 (0.4 ms)", "ERROR: ..." for the recording.
std::string summary(const WireStatement& s, const std::string& tag, const std::string& error, double ms);

}  // namespace bastion::pgwire
