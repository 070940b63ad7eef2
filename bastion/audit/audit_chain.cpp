#include "audit/audit_chain.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "common/json_ascii.h"
#include "recorder/line_chain.h"
#include "recorder/utf8.h"

namespace bastion {

const ChainedTable* chained_table(const std::string& name) {
  for (const auto& t : kChainedTables)
    if (name == t.name) return &t;
  return nullptr;
}

namespace {

// The JSON nlohmann's dump gives (sorted keys, no spaces) for a row whose
// values are integers, NULLs and ASCII text only (ids, times,
// SQL, paths: nearly every row), built without a json tree; nullopt for any
// other row, which takes the general path. Both spell the same row the
// same bytes: verify recomputes the chain with this function.
std::optional<std::string> plain_row_json(const RowCells& st, int first) {
  // Each cell is read once (every read of a SQLite column is a library call
  // under its mutex); the views stay valid until the statement moves.
  struct Field {
    std::string_view name;
    int column;
    RowCells::Type type;
    std::string_view text;
  };
  std::vector<Field> fields;  // sorted below like nlohmann's object; a repeated name: the last
  const int count = st.count();
  fields.reserve(static_cast<std::size_t>(std::max(0, count - first)));
  std::size_t size = 2;
  for (int c = first; c < count; ++c) {
    const std::string_view name = st.name(c);
    if (name.starts_with("cp_")) continue;
    for (const char ch : name)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f || ch == '"' || ch == '\\')
        return std::nullopt;
    Field f{name, c, st.type(c), {}};
    if (f.type == RowCells::Type::text) f.text = st.bytes(c);
    else if (f.type != RowCells::Type::null && f.type != RowCells::Type::integer) return std::nullopt;  // float, blob
    size += name.size() + f.text.size() + 24;
    fields.push_back(f);
  }
  std::sort(fields.begin(), fields.end(),
            [](const Field& a, const Field& b) { return a.name != b.name ? a.name < b.name : a.column < b.column; });
  std::string out = "{";
  out.reserve(size + size / 8);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i + 1 < fields.size() && fields[i + 1].name == fields[i].name) continue;  // the last of a repeated name
    const Field& f = fields[i];
    if (out.size() > 1) out += ',';
    out += '"';
    out += f.name;
    out += "\":";
    switch (f.type) {
      case RowCells::Type::null: out += "null"; break;
      case RowCells::Type::integer: out += std::to_string(st.integer(f.column)); break;
      default:
        if (!append_ascii_json_string(out, f.text, JsonDel::raw)) return std::nullopt;
    }
  }
  return out += '}';
}

}  // namespace

std::string row_json(const RowCells& st, int first) {
  if (auto plain = plain_row_json(st, first)) return std::move(*plain);
  nlohmann::json j = nlohmann::json::object();
  for (int c = first; c < st.count(); ++c) {
    const char* name = st.name(c);
    if (std::strncmp(name, "cp_", 3) == 0) continue;
    switch (st.type(c)) {
      case RowCells::Type::null: j[name] = nullptr; break;
      case RowCells::Type::integer: j[name] = st.integer(c); break;
      case RowCells::Type::real: j[name] = st.real(c); break;
      default: {
        const std::string v(st.bytes(c));
        // Lossless: text that is not UTF-8 (a command's bytes) would come out
        // of JSON as U+FFFD, and an edit of one invalid byte into another
        // would go unseen. Such text, and blobs, are kept as base64.
        std::string scratch;
        if (st.type(c) == RowCells::Type::blob || recorder::append_json_escaped(scratch, v))
          j[name] = {{"base64", recorder::base64_encode(v)}};
        else
          j[name] = v;
      }
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

class SqliteCells final : public RowCells {
 public:
  explicit SqliteCells(sqlite3_stmt* st) : st_(st) {}
  int count() const override { return sqlite3_column_count(st_); }
  const char* name(int c) const override { return sqlite3_column_name(st_, c); }
  Type type(int c) const override {
    switch (sqlite3_column_type(st_, c)) {
      case SQLITE_NULL: return Type::null;
      case SQLITE_INTEGER: return Type::integer;
      case SQLITE_FLOAT: return Type::real;
      case SQLITE_BLOB: return Type::blob;
      default: return Type::text;
    }
  }
  int64_t integer(int c) const override { return sqlite3_column_int64(st_, c); }
  double real(int c) const override { return sqlite3_column_double(st_, c); }
  std::string_view bytes(int c) const override {
    const auto* t = static_cast<const char*>(sqlite3_column_type(st_, c) == SQLITE_BLOB
                                                 ? sqlite3_column_blob(st_, c)
                                                 : static_cast<const void*>(sqlite3_column_text(st_, c)));
    return t ? std::string_view(t, static_cast<std::size_t>(sqlite3_column_bytes(st_, c))) : std::string_view();
  }

 private:
  sqlite3_stmt* st_;
};

}  // namespace

std::string row_json(sqlite3_stmt* st, int first) { return row_json(SqliteCells(st), first); }

std::string chain_hash(const std::string& prev, int64_t seq, const std::string& table, const std::string& key,
                       const std::string& json, const std::string& writer, const std::string& at) {
  // prev "\n" [seq,"table","key","json","writer","at"], as nlohmann dumps
  // the array; built directly when every text is ASCII (nearly always).
  std::string text;
  text.reserve(prev.size() + table.size() + key.size() + json.size() + json.size() / 8 + writer.size() + at.size() + 64);
  text += prev;
  text += "\n[";
  text += std::to_string(seq);
  bool plain = true;
  for (const std::string* v : {&table, &key, &json, &writer, &at}) {
    text += ',';
    if (!(plain = append_ascii_json_string(text, *v, JsonDel::raw))) break;
  }
  if (plain) return recorder::sha256_hex(text += ']');
  const nlohmann::json entry = nlohmann::json::array({seq, table, key, json, writer, at});
  return recorder::sha256_hex(prev + "\n" + entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace bastion
