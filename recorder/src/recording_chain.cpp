#include "recorder/recording_chain.h"

#include <cstdlib>
#include <stdexcept>

#include <openssl/evp.h>

namespace recorder {
namespace {

// An event line starts "[SECONDS,": its time, or nullopt for anything else
// (the header, a line that is not an event).
std::optional<double> event_time(std::string_view line) {
  if (line.size() < 3 || line[0] != '[') return std::nullopt;
  const std::size_t comma = line.find(',');
  if (comma == std::string_view::npos || comma > 32) return std::nullopt;
  const std::string num(line.substr(1, comma - 1));
  char* end = nullptr;
  const double t = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0') return std::nullopt;
  return t;
}

}  // namespace

// Two running SHA-256 contexts: the chain (seeded with the previous head)
// and the line alone.
struct ChainScanner::Hash {
  struct MdFree {
    void operator()(EVP_MD* m) const { EVP_MD_free(m); }
  };
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD, MdFree> md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  std::unique_ptr<EVP_MD_CTX, CtxFree> chain{EVP_MD_CTX_new()}, line{EVP_MD_CTX_new()};
  Hash() {
    if (!md || !chain || !line) throw std::runtime_error("SHA-256 unavailable");
  }
  static void check(bool ok) {
    if (!ok) throw std::runtime_error("SHA-256 failed");
  }
  static void final32(EVP_MD_CTX* c, unsigned char out[32]) {
    unsigned int n = 0;
    check(EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32);
  }
};

ChainScanner::ChainScanner(std::vector<ChainState> points)
    : points_(std::move(points)), hash_(std::make_unique<Hash>()) {
  scan_.matches.assign(points_.size(), false);
  scan_.point_times.assign(points_.size(), std::nullopt);
}

ChainScanner::~ChainScanner() = default;

void ChainScanner::begin_line() {
  Hash::check(EVP_DigestInit_ex2(hash_->chain.get(), hash_->md.get(), nullptr) == 1 &&
              EVP_DigestUpdate(hash_->chain.get(), head_, sizeof head_) == 1 &&
              EVP_DigestInit_ex2(hash_->line.get(), hash_->md.get(), nullptr) == 1);
  in_line_ = true;
  line_bytes_ = 0;
  prefix_.clear();
}

void ChainScanner::end_line() {
  Hash::final32(hash_->chain.get(), head_);
  unsigned char last[32];
  Hash::final32(hash_->line.get(), last);
  scan_.last_line_digest = to_hex(last, sizeof last);
  in_line_ = false;
  ++lines_;
  bytes_ += line_bytes_;
  std::optional<double> t = 0.0;  // the header is at 0
  if (lines_ > 1) {
    t = event_time(prefix_);
    if (t && last_time_ && *t < *last_time_ && !scan_.out_of_order_line) scan_.out_of_order_line = lines_;
    if (t) last_time_ = scan_.last_time = t;
    else scan_.last_untimed_event = lines_ - 1;
  }
  const uint64_t events = lines_ - 1;
  std::string digest;  // hex only when a point asks for this event count
  for (std::size_t i = 0; i < points_.size(); ++i) {
    if (points_[i].events != events) continue;
    scan_.point_times[i] = t;
    if (digest.empty()) digest = to_hex(head_, sizeof head_);
    if (points_[i].bytes == bytes_ && points_[i].digest == digest) scan_.matches[i] = true;
  }
}

void ChainScanner::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (!in_line_) begin_line();
    const std::size_t nl = bytes.find('\n');
    const std::string_view part = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl + 1);
    Hash::check(EVP_DigestUpdate(hash_->chain.get(), part.data(), part.size()) == 1 &&
                EVP_DigestUpdate(hash_->line.get(), part.data(), part.size()) == 1);
    if (prefix_.size() < kPrefixBytes) prefix_.append(part.substr(0, kPrefixBytes - prefix_.size()));
    line_bytes_ += part.size();
    bytes.remove_prefix(part.size());
    if (nl != std::string_view::npos) end_line();
  }
}

ChainScan ChainScanner::finish() {
  scan_.partial_bytes = in_line_ ? line_bytes_ : 0;
  scan_.file = {lines_ ? lines_ - 1 : 0, bytes_, to_hex(head_, sizeof head_)};
  if (!lines_) scan_.last_line_digest.clear();
  return scan_;
}

ChainScan scan_recording_chain(std::string_view content, const std::vector<ChainState>& points) {
  ChainScanner s(points);
  s.feed(content);
  return s.finish();
}

}  // namespace recorder
