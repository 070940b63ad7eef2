// Reads the config file's Lua tables field by field. Errors name file, line
// and key ("FILE:LINE: KEY: problem"); the line is found by locating the key
// in the source, since Lua tables do not remember where a field was set.
// Every accessor reads the table on top of the Lua stack.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <lua.hpp>

#include "common/secret_file.h"

namespace bastion {

class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ConfigReader {
 public:
  ConfigReader(lua_State* L, std::string path, std::string src, std::string dir)
      : L_(L), path_(std::move(path)), src_(std::move(src)), dir_(std::move(dir)) {}

  lua_State* lua() const { return L_; }
  // Line of the first `key =` at or after `from` (1-based); `from` if not found.
  int line_of(const std::string& key, int from = 1) const;
  [[noreturn]] void fail(int line, const std::string& key, const std::string& msg) const;

  // A string, or an integer given as its decimal text (for keys like
  // max_startups that take "10:30:100" or 50).
  std::optional<std::string> str_or_integer(const char* field, int line, const std::string& qual);
  std::optional<std::string> str(const char* field, int line, const std::string& qual);
  std::optional<int64_t> integer(const char* field, int line, const std::string& qual, int64_t lo, int64_t hi);
  std::optional<bool> boolean(const char* field, int line, const std::string& qual);
  // A string or a list of strings.
  std::vector<std::string> str_list(const char* field, int line, const std::string& qual);
  std::map<std::string, std::string> str_map(const char* field, int line, const std::string& qual);
  // Refuses keys of the table on top that are not in `known` (typos).
  void only_keys(const std::set<std::string>& known, int line, const std::string& qual);
  // Whether the table on top sets any of `keys`.
  bool has_any(const std::set<std::string>& keys) const;

  // A path relative to the config file's folder made absolute.
  std::string resolve(const std::string& p) const;
  // A held credential: read now, once; refused when group/other may read it.
  void read_secret(int line, const std::string& key, const std::string& path, HeldSecret& out) const;
  void check_readable(int line, const std::string& key, const std::string& path) const;

 private:
  lua_State* L_;
  std::string path_, src_, dir_;
};

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
  std::optional<bool> boolean(const char* f) const { return r_.boolean(f, line_of(f), q_); }
  void read_secret(const char* f, const std::string& path, HeldSecret& out) const { r_.read_secret(line_of(f), q_ + f, path, out); }
  void check_readable(const char* f, const std::string& path) const { r_.check_readable(line_of(f), q_ + f, path); }

 private:
  ConfigReader& r_;
  int line_;
  std::string q_;
};

}  // namespace bastion
