// Output of a channel without a pty is bare "\n" line ends: the user's own
// terminal (cooked, ONLCR) showed each as "\r\n", a player does not. Such
// output is recorded with every "\n" written as "\r\n", which draws what the
// user saw and is exactly invertible: the recorded stream has a '\r' right
// before every '\n', and removing exactly that one gives the target's bytes
// back (a "\r\n" from the target is recorded "\r\r\n").
//
// The header says so in a field players ignore (asciinema 2.2 and
// asciinema-player 3.x read only the fields they know):
//   "bastion_newlines": "crlf"
// A recording without it is raw (pty channels, and every older recording).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recorder {

enum class OutputNewlines { raw, crlf };

inline constexpr const char* kNewlinesHeaderKey = "bastion_newlines";
inline constexpr const char* kNewlinesCrlf = "crlf";

// What the header field holds; nullopt for a value this reader does not know.
std::optional<OutputNewlines> newlines_from_header(std::string_view value);

// Every '\n' becomes "\r\n".
std::string lf_to_crlf(std::string_view bytes);

// Undoes lf_to_crlf over a stream cut anywhere. A '\n' without its '\r' (a
// stream lf_to_crlf did not make) makes the result unrecoverable: ok() turns
// false and stays so.
class CrlfUndo {
 public:
  void feed(std::string_view bytes, std::string& out);
  // A trailing '\r' held back (it may have been the one before a '\n').
  void finish(std::string& out);
  bool ok() const { return bare_lf_at_ == kNone; }
  // Offset in the recorded stream of the first bare '\n'.
  uint64_t bare_lf_at() const { return bare_lf_at_; }

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  bool cr_held_ = false;
  uint64_t offset_ = 0;
  uint64_t bare_lf_at_ = kNone;
};

}  // namespace recorder
