#include "config/config_reader.h"

#include <filesystem>
#include <fstream>

#include "common/secret_file.h"

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
  std::ifstream f(path);
  if (!f) fail(line, key, "cannot read " + path);
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
