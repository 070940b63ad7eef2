#include "recorder/line_chain.h"

#include <stdexcept>

#include <openssl/evp.h>

namespace recorder {

// One digest context and one fetched SHA-256, reused for every line: an
// implicit fetch and a context allocation per line cost more than the hash.
struct LineChain::Ctx {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
  Ctx() : md(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx(EVP_MD_CTX_new()) {
    if (!md || !ctx) {
      EVP_MD_free(md);
      EVP_MD_CTX_free(ctx);
      throw std::runtime_error("SHA-256 unavailable");
    }
  }
  ~Ctx() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
  void digest(const unsigned char* a, std::size_t an, std::string_view b, unsigned char out[32]) {
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 || (an && EVP_DigestUpdate(ctx, a, an) != 1) ||
        EVP_DigestUpdate(ctx, b.data(), b.size()) != 1 || EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32)
      throw std::runtime_error("SHA-256 failed");
  }
};

LineChain::LineChain() : ctx_(std::make_unique<Ctx>()) {}
LineChain::~LineChain() = default;

void LineChain::add(std::string_view line) {
  ctx_->digest(head_, sizeof head_, line, head_);
  last_line_.assign(line);
  ++lines_;
  bytes_ += line.size();
}

ChainState LineChain::state() const {
  return {lines_ ? lines_ - 1 : 0, bytes_, to_hex(head_, sizeof head_)};
}

std::string LineChain::last_line_digest() const { return lines_ ? sha256_hex(last_line_) : ""; }

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) s += kDigits[p[i] >> 4], s += kDigits[p[i] & 15];
  return s;
}

std::string sha256_hex(std::string_view data) {
  // Fetched once for the process (immutable, thread-safe to share): EVP_sha256()
  // fetches implicitly on every call, under a lock, and cost more than a short hash.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!kSha256) throw std::runtime_error("SHA-256 unavailable");
  unsigned char out[32];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, kSha256, nullptr) != 1) throw std::runtime_error("SHA-256 failed");
  return to_hex(out, sizeof out);
}

}  // namespace recorder
