#include "targets/postgres/wire/pg_wire_framer.h"

#include <cstdio>
#include <limits>
#include <stdexcept>

namespace bastion::pgwire {
namespace {

int32_t be32(std::string_view b, std::size_t at) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return static_cast<int32_t>(v);
}

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

constexpr std::size_t kMaxBody = static_cast<std::size_t>(std::numeric_limits<int32_t>::max()) - 4;

}  // namespace

std::size_t body_limit(char type, const FramerLimits& limits) {
  return type == 'd' || type == 'D' ? limits.max_copy_data : limits.max_message;
}

std::string type_name(char type) {
  const auto c = static_cast<unsigned char>(type);
  if (c > 0x20 && c < 0x7f) return std::string("'") + type + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

Framer::Framer(bool startup_phase, FramerLimits limits) : startup_(startup_phase), limits_(limits) {}

void Framer::feed(std::string_view bytes) {
  if (!error_.empty()) return;  // nothing more is read from a broken stream
  // Drop what was handed out already, once it is the larger part.
  if (off_ > 0 && off_ >= buf_.size() / 2) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  buf_.append(bytes);
}

std::size_t Framer::limit_for(char type) const {
  return startup_ ? limits_.max_startup : body_limit(type, limits_);
}

bool Framer::fail(std::string why) {
  error_ = std::move(why);
  std::string().swap(buf_);  // a refused stream holds no memory
  off_ = 0;
  return false;
}

std::size_t Framer::missing() const {
  const std::size_t header = startup_ ? 4 : 5;
  const std::string_view rest = std::string_view(buf_).substr(off_);
  if (!error_.empty() || rest.size() < header) return 0;
  const int32_t len = be32(rest, header - 4);
  // A length next() refuses asks for nothing.
  if (len < (startup_ ? 8 : 4) || static_cast<std::size_t>(len) - 4 > limit_for(startup_ ? 0 : rest[0])) return 0;
  const std::size_t whole = header - 4 + static_cast<std::size_t>(len);
  return whole > rest.size() ? whole - rest.size() : 0;
}

Framer::Status Framer::next(Message& out) {
  if (!error_.empty()) return Status::error;
  const std::string_view rest = std::string_view(buf_).substr(off_);
  const std::size_t header = startup_ ? 4 : 5;
  if (rest.size() < header) return Status::more;
  const char type = startup_ ? 0 : rest[0];
  const int32_t len = be32(rest, header - 4);
  if (startup_) {
    // The length counts itself; the smallest packet is the 4-byte code.
    if (len < 8 || static_cast<std::size_t>(len) - 4 > limits_.max_startup)
      return fail("startup packet length " + std::to_string(len) + " is invalid"), Status::error;
  } else {
    if (len < 4) return fail("message length " + std::to_string(len) + " is invalid"), Status::error;
    const std::size_t limit = body_limit(type, limits_);
    if (static_cast<std::size_t>(len) - 4 > limit)
      return fail("message " + type_name(type) + " of " + std::to_string(len - 4) + " bytes exceeds the limit (" +
                  std::to_string(limit) + ")"),
             Status::error;
  }
  const std::size_t whole = header - 4 + static_cast<std::size_t>(len);
  if (rest.size() < whole) return Status::more;
  out.type = type;
  out.body.assign(rest.substr(header, whole - header));
  off_ += whole;
  if (off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  }
  return Status::message;
}

std::string frame(char type, std::string_view body) {
  if (body.size() > kMaxBody) throw std::length_error("a PostgreSQL message body above 2 GiB");
  std::string out;
  out.reserve(5 + body.size());
  out += type;
  put32(out, static_cast<uint32_t>(body.size() + 4));
  out.append(body);
  return out;
}

std::string frame_startup(std::string_view body) {
  if (body.size() > kMaxBody) throw std::length_error("a PostgreSQL startup packet above 2 GiB");
  std::string out;
  out.reserve(4 + body.size());
  put32(out, static_cast<uint32_t>(body.size() + 4));
  out.append(body);
  return out;
}

}  // namespace bastion::pgwire
