#include "audit/audit_chain.h"

#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

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
// values are integers, NULLs and text of bytes below 0x7f only (ids, times,
// SQL, paths: nearly every row), built without a json tree; nullopt for any
// other row, which takes the general path. Both spell the same row the
// same bytes: verify recomputes the chain with this function.
std::optional<std::string> plain_row_json(const RowCells& st, int first) {
  static constexpr char hex[] = "0123456789abcdef";
  std::map<std::string_view, std::string> fields;  // sorted like nlohmann's object; a repeated name: the last
  for (int c = first; c < st.count(); ++c) {
    const char* name = st.name(c);
    if (std::strncmp(name, "cp_", 3) == 0) continue;
    for (const char* n = name; *n; ++n)
      if (static_cast<unsigned char>(*n) < 0x20 || static_cast<unsigned char>(*n) >= 0x7f || *n == '"' || *n == '\\')
        return std::nullopt;
    std::string v;
    switch (st.type(c)) {
      case RowCells::Type::null: v = "null"; break;
      case RowCells::Type::integer: v = std::to_string(st.integer(c)); break;
      case RowCells::Type::text: {
        const std::string_view t = st.bytes(c);
        const auto len = t.size();
        v.reserve(len + 2);
        v += '"';
        for (std::size_t i = 0; i < len; ++i) {
          const unsigned char ch = t[i];
          switch (ch) {
            case '"': v += "\\\""; break;
            case '\\': v += "\\\\"; break;
            case '\b': v += "\\b"; break;
            case '\f': v += "\\f"; break;
            case '\n': v += "\\n"; break;
            case '\r': v += "\\r"; break;
            case '\t': v += "\\t"; break;
            default:
              if (ch >= 0x7f) return std::nullopt;
              if (ch < 0x20) {
                v += "\\u00";
                v += hex[ch >> 4];
                v += hex[ch & 15];
              } else {
                v += static_cast<char>(ch);
              }
          }
        }
        v += '"';
        break;
      }
      default: return std::nullopt;  // float, blob
    }
    fields[name] = std::move(v);
  }
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += k;
    out += "\":";
    out += v;
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
  const nlohmann::json entry = nlohmann::json::array({seq, table, key, json, writer, at});
  return recorder::sha256_hex(prev + "\n" + entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace bastion
