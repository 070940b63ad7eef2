// Masks result columns (SQL) before they are rendered, so neither the user,
// the recording nor any log sees the values. Columns are matched by where
// they come from (PostgreSQL reports the table and column behind each result
// column), so an alias does not unmask them. A computed column of a query
// that reads a table holding a masked column is masked whole when its
// expression can carry a masked value (see computed_columns.h; unless the
// policy says derived = "keep").
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "targets/postgres/result_renderer.h"

namespace bastion {

// Where a result column comes from, as resolved from the catalog.
struct ColumnOrigin {
  bool computed = true;  // no table column behind it
  std::string table;     // relation name (unqualified)
  std::string column;
  // Computed only: whether its expression may carry a masked value (the
  // default, when nothing analysed it, fails closed).
  bool may_carry_masked = true;
};

class ColumnMasker {
 public:
  ColumnMasker(std::vector<ColumnMaskRule> rules, bool mask_derived, std::string hash_key)
      : rules_(std::move(rules)), mask_derived_(mask_derived), key_(std::move(hash_key)) {}

  // Decides, once per result, which of its columns are masked and how.
  // `reads_masked_table`: the statement reads a relation holding a masked column.
  void plan(const std::vector<ResultColumn>& cols, const std::vector<ColumnOrigin>& origins,
            bool reads_masked_table);
  // When the catalog could not be consulted: mask every column (fail closed).
  void plan_all(std::size_t ncols);
  // Masks one more column of the current plan in full.
  void mask_whole(std::size_t col);
  // Whether a rule names this table column.
  bool masks_column(const std::string& table, const std::string& column) const {
    return rule_for(table, column) != nullptr;
  }
  // Whether a rule masks a column of this name in some table.
  bool masks_name(std::string_view column) const;
  void apply(std::vector<Cell>& row) const;
  bool active() const { return !plan_.empty(); }
  // Whether the current plan masks result column `col`.
  bool masks(std::size_t col) const { return col < plan_.size() && plan_[col] != nullptr; }
  // Column names whose values are masked in the current result (for the audit log).
  std::vector<std::string> masked_names(const std::vector<ResultColumn>& cols) const;
  // Of those, the ones masked because they are computed from masked data.
  std::vector<std::string> derived_names(const std::vector<ResultColumn>& cols) const;

  std::string mask_value(const std::string& v, const ColumnMaskRule& r) const;

 private:
  const ColumnMaskRule* rule_for(const std::string& table, const std::string& column) const;
  std::vector<ColumnMaskRule> rules_;
  bool mask_derived_;
  std::string key_;
  std::vector<const ColumnMaskRule*> plan_;  // per result column; null = shown
  std::vector<bool> derived_;                // per result column: masked as computed
  ColumnMaskRule whole_;                     // full mask for derived/fail-closed columns
};

}  // namespace bastion
