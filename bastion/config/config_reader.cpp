#include "config/config_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/file_util.h"
#include "common/secret_file.h"
#include "common/time_util.h"

namespace bastion {

std::string ConfigReader::resolve(const std::string& p) const {
  if (p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(dir_) / p).lexically_normal().string();
}

void ConfigReader::read_secret(int line, const std::string& key, const std::string& path, HeldSecret& out) const {
  std::string err;
  if (!read_secret_file(path, out.bytes, err)) fail(line, key, err);
}

void ConfigReader::check_readable(int line, const std::string& key, const std::string& path) const {
  struct stat st{};
  std::string why;
  const int fd = open_regular_file(path, st, why);
  if (fd < 0) fail(line, key, path + ": " + why);
  ::close(fd);
}

std::string duration_bound_text(int64_t s) {
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::string duration_error(int64_t lo, int64_t hi) {
  return "expected a duration from " + duration_bound_text(lo) + " to " + duration_bound_text(hi) +
         " (seconds, or a number with s, m, h, d or w: \"90s\", \"5m\", \"8h\", \"2d\")";
}

std::optional<int64_t> ConfigReader::duration(const char* field, int line, const std::string& qual, int64_t lo,
                                              int64_t hi) {
  const auto text = [&]() -> std::optional<std::string> {
    try {
      return str_or_integer(field, line, qual);
    } catch (const ConfigError&) {
      return std::string("?");  // a table or a fraction: not a duration either
    }
  }();
  if (!text) return std::nullopt;
  const int64_t s = parse_duration(*text);
  if (s < lo || s > hi) fail(line, qual + field, duration_error(lo, hi));
  return s;
}

std::string TableReader::need(const char* f) const {
  auto v = str(f);
  if (!v || v->empty()) fail(f, "required");
  return *v;
}

std::string TableReader::path(const char* f) const {
  const auto v = str(f);
  return v ? r_.resolve(*v) : std::string();
}

}  // namespace bastion
