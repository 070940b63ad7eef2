// What the bastion knows about PostgreSQL functions by name: which are
// side-effect free and carry no data but their arguments (so a policy and
// the column masker can see through them), and which read data or state the
// statement text does not show (query strings, statistics, large objects,
// replication, settings, files). Anything not listed is unknown, and the
// classifier reports a statement calling it as opaque.
#pragma once
#include <string_view>

namespace bastion {

enum class FunctionClass {
  unknown,       // not in the catalog: user-defined, or a built-in we have not vetted
  pure,          // depends only on its arguments (count, lower, length, now, ...)
  query_string,  // runs SQL given as text or reads whole relations (query_to_xml, ts_stat, ...)
  large_object,  // lo_* and friends: server-side storage outside any table's grants
  replication,   // slots, replication origins, logical decoding
  settings,      // set_config / current_setting: session state the text does not show
  server_state,  // files, backends, advisory locks, sequences, notify: effects outside the statement
};

// `name` as written in the statement (possibly schema-qualified). Only the
// pg_catalog schema (or no schema) is looked up: a function in any other
// schema is user-defined and `unknown`.
FunctionClass classify_function(std::string_view name);

const char* function_class_name(FunctionClass c);

}  // namespace bastion
