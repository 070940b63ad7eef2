// Bounds-checked reader for the SSH wire encoding (RFC 4251 §5).
// Every getter returns false instead of reading past the end.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace bastion {

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool u8(uint8_t& v) {
    if (data_.size() - pos_ < 1) return false;
    v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool u32(uint32_t& v) {
    if (data_.size() - pos_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool u64(uint64_t& v) {
    if (data_.size() - pos_ < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool string(std::string_view& v) {
    uint32_t len;
    const std::size_t save = pos_;
    if (!u32(len) || data_.size() - pos_ < len) {
      pos_ = save;
      return false;
    }
    v = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

inline void wire_put_string(std::string& out, std::string_view s) {
  const auto n = static_cast<uint32_t>(s.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out.append(s);
}

}  // namespace bastion
