// Which code points libvterm might treat as combining marks.
#pragma once
#include <cstdint>

namespace bastion {

// True for every code point libvterm 0.1.x treats as combining (its
// vterm_unicode_is_combining table, Unicode 5.0 Mn/Me/Cf plus U+1160-11FF and
// U+200B), and for every Mn/Me/Cf code point of Unicode 14. A superset on
// purpose: callers use it to decide what they must not reason about.
bool vterm_maybe_combining(std::uint32_t cp);

}  // namespace bastion
