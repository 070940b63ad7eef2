// UTF-8 helpers for asciicast: JSON strings must be valid Unicode, terminal
// output is arbitrary bytes, and reads may cut a character in two.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace recorder {

// Length of the longest prefix of `bytes` that does not end inside a UTF-8
// sequence which could still be completed by more bytes. The remainder
// (at most 3 bytes) should be carried over to the next chunk.
std::size_t utf8_complete_prefix(std::string_view bytes);

// Appends `bytes` to `out` as the body of a JSON string (no quotes).
// Invalid UTF-8 bytes become U+FFFD (what a terminal shows for them).
// Returns true when any byte had to be replaced. With lf_as_crlf, every '\n'
// is escaped as the pair "\r\n" (lf_to_crlf fused into the escape: one pass
// and no translated copy on the output path of a channel without a pty).
bool append_json_escaped(std::string& out, std::string_view bytes, bool lf_as_crlf = false);

std::string base64_encode(std::string_view bytes);
// Returns false on malformed input.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace recorder
