// Renders query results the way psql does: aligned tables (with psql's
// centring, right-aligned numbers, '+' for multi-line values and
// "(N rows)"), expanded records (\x), CSV, and JSON (an array of objects,
// one per line). Rows stream in: the aligned and expanded formats lay out a
// batch at a time (like psql's FETCH_COUNT), so memory stays bounded however
// large the result.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

struct PrintOptions {
  enum class Format { aligned, csv, json };
  Format format = Format::aligned;
  bool expanded = false;
  std::string null_display;  // psql's default: nothing
  bool footer = true;  // "(N rows)"
  std::string title;   // centred above an aligned table (psql's describe commands)
  std::string footer_lines;  // under an aligned table (psql's "Indexes:" and the like)
};

struct ResultColumn {
  std::string name;
  enum class Type { text, number, boolean, json } type = Type::text;
};

struct Cell {
  std::string value;
  bool null = false;
};

class ResultRenderer {
 public:
  virtual ~ResultRenderer() = default;
  virtual void begin(const std::vector<ResultColumn>& cols, std::string& out) = 0;
  virtual void row(std::vector<Cell> cells, std::string& out) = 0;
  // `rows` is the number of rows shown.
  virtual void end(uint64_t rows, std::string& out) = 0;
};

// The aligned and expanded formats lay out at most this much at once (the
// bytes of the values plus kRenderCellOverhead per cell), then flush.
constexpr std::size_t kRenderBatchBytes = 4 << 20;
constexpr std::size_t kRenderCellOverhead = 8;

// A value as psql's aligned and expanded formats show it (pg_wcsformat):
// CR as "\r", TAB as blanks to the next multiple of 8 columns, other
// control characters as "\x1B" or "\u0085"; line ends stay.
std::string psql_display_text(std::string_view value);

std::unique_ptr<ResultRenderer> make_renderer(const PrintOptions& opt, std::size_t batch_rows = 1000);

// The ResultColumn type for a PostgreSQL type OID.
ResultColumn::Type column_type(unsigned oid);

}  // namespace bastion
