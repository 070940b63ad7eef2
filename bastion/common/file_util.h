// Reading a whole (small) file: configs, policies, KRLs, case tables.
#pragma once
#include <fstream>
#include <iterator>
#include <string>

namespace bastion {

// False when the file cannot be opened; `out` then stays empty.
inline bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace bastion
