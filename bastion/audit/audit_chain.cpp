#include "audit/audit_chain.h"

#include <cstring>

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

std::string row_json(sqlite3_stmt* st, int first) {
  nlohmann::json j = nlohmann::json::object();
  for (int c = first; c < sqlite3_column_count(st); ++c) {
    const char* name = sqlite3_column_name(st, c);
    if (std::strncmp(name, "cp_", 3) == 0) continue;
    switch (sqlite3_column_type(st, c)) {
      case SQLITE_NULL: j[name] = nullptr; break;
      case SQLITE_INTEGER: j[name] = static_cast<int64_t>(sqlite3_column_int64(st, c)); break;
      case SQLITE_FLOAT: j[name] = sqlite3_column_double(st, c); break;
      default: {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_type(st, c) == SQLITE_BLOB
                                                          ? sqlite3_column_blob(st, c)
                                                          : sqlite3_column_text(st, c));
        const std::string v(t ? t : "", t ? static_cast<std::size_t>(sqlite3_column_bytes(st, c)) : 0);
        // Lossless: text that is not UTF-8 (a command's bytes) would come out
        // of JSON as U+FFFD, and an edit of one invalid byte into another
        // would go unseen. Such text, and blobs, are kept as base64.
        std::string scratch;
        if (sqlite3_column_type(st, c) == SQLITE_BLOB || recorder::append_json_escaped(scratch, v))
          j[name] = {{"base64", recorder::base64_encode(v)}};
        else
          j[name] = v;
      }
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string chain_hash(const std::string& prev, int64_t seq, const std::string& table, const std::string& key,
                       const std::string& json, const std::string& writer, const std::string& at) {
  const nlohmann::json entry = nlohmann::json::array({seq, table, key, json, writer, at});
  return recorder::sha256_hex(prev + "\n" + entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace bastion
