// The "LINE n: ..." excerpt and caret that psql prints under an error with a
// position, computed here as libpq does it (fe-protocol3.c,
// reportErrorPosition) for errors the bastion finds before the server sees
// the statement (a syntax error), so they read exactly like the server's.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// `position` counts characters (UTF-8) from 1, as PostgreSQL's cursor
// position does. "" when it lies outside `query`. Two lines, each ending
// in '\n': the excerpt (tabs as spaces, long lines cut around the position
// with "...") and the caret under the position.
std::string pg_error_position(std::string_view query, int position);

}  // namespace bastion
