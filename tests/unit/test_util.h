// Helpers for unit tests: a temporary folder and running ssh-keygen.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "common/base64.h"

namespace testutil {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bastion-ut-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void sh(const std::string& cmd) {
  if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

inline std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) throw std::runtime_error("failed: " + cmd);
  return out;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void spit(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Creates key NAME (type, bits) in dir; returns its path.
inline std::string keygen(const TempDir& d, const std::string& name, const std::string& type = "ed25519",
                          int bits = 0) {
  const std::string p = d / name;
  sh("ssh-keygen -q -N '' -t " + type + (bits ? " -b " + std::to_string(bits) : "") + " -f " + p);
  return p;
}

// Signs KEY.pub with CA; returns the certificate blob (decoded).
inline std::string sign(const std::string& ca, const std::string& key, const std::string& args) {
  sh("ssh-keygen -q -s " + ca + " " + args + " " + key + ".pub");
  const std::string line = slurp(key + "-cert.pub");
  const auto a = line.find(' '), b = line.find(' ', a + 1);
  std::string blob;
  if (!bastion::base64_decode(line.substr(a + 1, b - a - 1), blob)) throw std::runtime_error("bad cert");
  return blob;
}

}  // namespace testutil
