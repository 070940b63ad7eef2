// The one way user-controlled text is shown to a person: on a terminal
// (ssh approvals@..., bastionctl, notices and refusals in a session) or in a
// text log line. Use it on EVERY string a user, a certificate, a target or a
// policy can influence (command text, key ID, principals, target and user
// names, reasons, comments, error messages that quote input) at the point it
// is put into text a human reads. Never escape twice; never escape our own
// fixed wording.
//
// Why: terminals act on control bytes (CR rewinds the line, ESC [K erases it,
// ESC ] sets titles) and on bidi/invisible characters (U+202E reverses the
// text after it, U+200B is invisible). Unescaped, a held command
// "rm -rf /srv\r\x1b[Ksudo systemctl status nginx" shows the approver only
// "sudo systemctl status nginx".
//
// Rules (display_escape):
//   * printable ASCII and valid printable UTF-8 pass unchanged;
//   * backslash becomes "\\" (so every escape below is unambiguous and
//     distinct inputs stay distinct);
//   * CR, LF, TAB become "\r", "\n", "\t"; other C0 controls and DEL become
//     "\xNN" (lowercase hex, e.g. "\x1b");
//   * C1 controls U+0080..U+009F become "\u0085" style;
//   * characters that reorder, hide or fake text become "\u202e" style (or
//     "\U000e0041" above U+FFFF): bidi controls, zero-width and other format
//     characters (Unicode Cf), default-ignorable characters (variation
//     selectors, Hangul fillers, tag characters), line/paragraph separators,
//     non-ASCII spaces that look like U+0020, noncharacters; see
//     display_escape.cpp for the exact list;
//   * bytes that are not valid UTF-8 (stray continuation bytes, overlong
//     forms, surrogates, > U+10FFFF, truncated sequences) become "\xNN" each.
// The result is valid UTF-8 and contains no byte < 0x20 and no 0x7f.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace bastion {

// One line: nothing in the result can start a new line or move the cursor.
std::string display_escape(std::string_view text);

// For a block shown over several lines (a multi-line SQL statement in
// `approvals show`): the same rules, except that LF is kept so the statement
// reads as written. CR is still escaped (it would overwrite a line). The
// caller must prefix every output line with a fixed marker, so that a line of
// the text cannot pass for a line of ours.
std::string display_escape_multiline(std::string_view text);

// display_escape, cut to at most max_chars characters of escaped text (never
// inside an escape or a UTF-8 character). When cut, the result ends with a
// visible marker "… [N bytes in all]" (N = text.size()), never silently.
std::string display_escape_truncated(std::string_view text, std::size_t max_chars);

}  // namespace bastion
