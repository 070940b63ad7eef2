// The hash chain over a recording's lines: h_0 = 32 zero bytes,
// h_i = SHA-256(h_{i-1} || line_i), where line_1 is the header and each line
// includes its '\n'. The writer extends it as it emits; a reader recomputes
// it from the file (recording_chain.h). Editing, inserting, deleting or
// reordering any line changes every digest after it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace recorder {

// Where a chain stands: event lines after the header, bytes of every line
// (header included), and the head digest in lower-case hex.
struct ChainState {
  uint64_t events = 0;
  uint64_t bytes = 0;
  std::string digest;
};

class LineChain {
 public:
  LineChain();
  ~LineChain();
  LineChain(const LineChain&) = delete;
  LineChain& operator=(const LineChain&) = delete;

  void add(std::string_view line);
  uint64_t lines() const { return lines_; }
  ChainState state() const;
  // SHA-256 of the last line alone (hex; "" before any line): lets a reader
  // tell a cut-off end from lines missing in the middle.
  std::string last_line_digest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  unsigned char head_[32] = {};
  std::string last_line_;  // a copy is cheaper than hashing every line twice
  uint64_t lines_ = 0;
  uint64_t bytes_ = 0;
};

std::string to_hex(const unsigned char* p, std::size_t n);
// SHA-256 of `data`, hex.
std::string sha256_hex(std::string_view data);

}  // namespace recorder
