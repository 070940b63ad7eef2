// Splits one direction of a PostgreSQL protocol v3 byte stream into whole
// messages. The length word is checked against the limits before the body
// is buffered, so a peer cannot make the bastion hold more than one limit
// (plus what the caller feeds in one go) for a message it never finishes.
// Pure code: no sockets, no libpq.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bastion::pgwire {

constexpr int32_t kProtocol3 = 196608, kSslRequestCode = 80877103, kCancelRequestCode = 80877102,
                  kGssEncRequestCode = 80877104;

// type 0: an untyped startup-phase packet; body excludes type and length.
struct Message {
  char type = 0;
  std::string body;
};

// Limits bound a message's BODY (the bytes after the length word).
// max_message: every typed message but CopyData ('d') and DataRow ('D');
// those two use max_copy_data (note 'D' is also the client's small Describe:
// one Framer per direction, each with the limits of its direction).
// max_startup: an untyped startup packet (PostgreSQL's own limit is 10000).
struct FramerLimits {
  std::size_t max_message = 1 << 20;
  std::size_t max_startup = 10000;
  std::size_t max_copy_data = 1 << 20;
};

// The body limit for a typed message of this type.
std::size_t body_limit(char type, const FramerLimits& limits);

class Framer {
 public:
  Framer(bool startup_phase, FramerLimits limits);
  // Appends (the caller bounds how much it feeds before draining).
  void feed(std::string_view bytes);
  enum class Status { more, message, error };
  // Pops one whole message. error is sticky; the buffer is released then.
  Status next(Message& out);
  // e.g. "message length 3 is invalid", "message 'Q' of 2000000 bytes exceeds the limit (1048576)".
  const std::string& error() const { return error_; }
  // Later messages are typed.
  void end_startup() { startup_ = false; }
  bool in_startup() const { return startup_; }
  std::size_t buffered() const { return buf_.size() - off_; }
  // Frames bigger than this many bytes (body) are refused from the length
  // word alone, before buffering the body. In the startup phase the type is
  // ignored.
  std::size_t limit_for(char type) const;
  // Bytes still missing for the message being received (0 at a boundary or
  // when its header is incomplete): lets the proxy read no more than needed.
  std::size_t missing() const;

 private:
  bool fail(std::string why);

  bool startup_;
  FramerLimits limits_;
  std::string buf_;
  std::size_t off_ = 0;
  std::string error_;
};

// type + int32 length + body. Throws std::length_error for a body that
// does not fit the length word (never the case for bodies the decoders accept).
std::string frame(char type, std::string_view body);
// int32 length + body: an untyped startup-phase packet.
std::string frame_startup(std::string_view body);

// A message type for error texts: 'Q', or 0x01 when not printable.
std::string type_name(char type);

}  // namespace bastion::pgwire
