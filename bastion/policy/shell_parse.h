// The fail-closed command analysis policies see as c.parts: parse_shell's
// parts plus, per part, the real program behind known wrappers (env, nice,
// sudo, bash -c, ...) and every reason the line cannot be resolved
// statically (`opaque`). Code run through `bash -c`, `eval`, `su -c` or
// `find -exec` becomes parts of its own, appended after the line's parts.
#pragma once
#include <string>
#include <string_view>

#include "policy/shell_words.h"

namespace bastion {

ShellParse parse_command(std::string_view line);

// False when a shell given this text would print PS2 and wait for more:
// an open quote ('', "", $''), a trailing backslash(-newline), a line ending
// in | && || |&, an open ( { $( ` or if/for/while/until/case/{ compound, or a
// here-document whose delimiter line has not come yet (<<- strips tabs).
// True for complete text and for text with a hard syntax error (`fi`
// alone, a stray `)`), so the caller submits it and parse_error shows.
bool shell_text_complete(std::string_view text);

// JSON for an audit row's `details`: every opaque reason of every part and
// the parse error, e.g. {"opaque":[{"part":1,"reasons":["..."]}]}; "" when
// the line resolved statically. c.parts[i].opaque shows only the first.
std::string shell_audit_details(const ShellParse& parse);

// True when the part has at least one opaque reason or the parse failed.
inline bool part_is_opaque(const SimpleCommand& p) { return !p.opaque.empty(); }

}  // namespace bastion
