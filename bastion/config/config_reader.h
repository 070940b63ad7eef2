// Reads the config file's Lua tables field by field (lua/lua_table_reader.h):
// errors name file, line and key ("FILE:LINE: KEY: problem"). Every accessor
// reads the table on top of the Lua stack.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "common/secret_file.h"
#include "lua/lua_table_reader.h"

namespace bastion {

using ConfigError = LuaTableError;

// The typed field reads of LuaTableReader, plus what reading a config file
// adds: paths relative to its folder, and held credentials.
class ConfigReader : public LuaTableReader {
 public:
  ConfigReader(lua_State* L, std::string path, std::string src, std::string dir)
      : LuaTableReader(L, std::move(path), std::move(src)), dir_(std::move(dir)) {}

  // A path relative to the config file's folder made absolute.
  std::string resolve(const std::string& p) const;
  // A held credential: read now, once; refused when group/other may read it.
  void read_secret(int line, const std::string& key, const std::string& path, HeldSecret& out) const;
  void check_readable(int line, const std::string& key, const std::string& path) const;
  // A time in seconds: an integer (seconds) or a duration string ("90s",
  // "5m", "8h", "2d", "1w"), in [lo, hi]. Every time-valued key reads
  // through this, so all take both forms and fail with the same text.
  std::optional<int64_t> duration(const char* field, int line, const std::string& qual, int64_t lo, int64_t hi);

 private:
  std::string dir_;
};

// "7d", "5m", "90s": a bound of a duration in the largest unit that divides it.
std::string duration_bound_text(int64_t seconds);
// The one error text of a time out of [lo, hi] or not a duration.
std::string duration_error(int64_t lo, int64_t hi);

// Reads the fields of one table (a target, one of its credentials) whose
// keys are qualified as `qual` ("targets.db.") and found from `line` on.
class TableReader {
 public:
  TableReader(ConfigReader& r, int line, std::string qual) : r_(r), line_(line), q_(std::move(qual)) {}
  ConfigReader& reader() const { return r_; }
  int line() const { return line_; }
  int line_of(const char* key) const { return r_.line_of(key, line_); }
  const std::string& qual() const { return q_; }
  [[noreturn]] void fail(const char* key, const std::string& msg) const { r_.fail(line_of(key), q_ + key, msg); }

  std::optional<std::string> str(const char* f) const { return r_.str(f, line_of(f), q_); }
  std::string str_or(const char* f, std::string dflt) const { return str(f).value_or(std::move(dflt)); }
  // Required and not empty.
  std::string need(const char* f) const;
  // A path, resolved against the config's folder ("" when absent).
  std::string path(const char* f) const;
  std::optional<int64_t> integer(const char* f, int64_t lo, int64_t hi) const { return r_.integer(f, line_of(f), q_, lo, hi); }
  std::optional<int64_t> duration(const char* f, int64_t lo, int64_t hi) const { return r_.duration(f, line_of(f), q_, lo, hi); }
  std::optional<bool> boolean(const char* f) const { return r_.boolean(f, line_of(f), q_); }
  void read_secret(const char* f, const std::string& path, HeldSecret& out) const { r_.read_secret(line_of(f), q_ + f, path, out); }
  void check_readable(const char* f, const std::string& path) const { r_.check_readable(line_of(f), q_ + f, path); }

 private:
  ConfigReader& r_;
  int line_;
  std::string q_;
};

}  // namespace bastion
