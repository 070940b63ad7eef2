// Result column names under column masks. A name normally comes from the
// statement's text (an alias, a function name) or the catalog (a table
// column); a statement whose result the text does not describe (FETCH of
// a cursor, EXECUTE, CALL, DO, a user function, text the parser cannot
// see through) can get names made from data: a cursor opened FOR EXECUTE
// 'SELECT 1 AS ' || quote_ident(email) names its column after a masked
// value. Such a name is shown only when the text shows it or it is its
// table column's own name; otherwise it becomes "?column?", PostgreSQL's
// own name for an unnamed column. Console and wire proxy use this one rule.
#pragma once
#include <string>

#include "targets/postgres/sql_classifier.h"

namespace bastion {

inline constexpr const char* kUnnamedColumn = "?column?";

// Whether this statement's result names may come from elsewhere than its text.
bool result_names_hidden(const SqlStatement& s);

// Whether `name` may be shown for a result of `s` (result_names_hidden):
// the text shows it (case-insensitively), or it equals `catalog_column`,
// the catalog's name of the table column it comes from ("" when none).
bool result_name_shown(const SqlStatement& s, const std::string& name, const std::string& catalog_column);

}  // namespace bastion
