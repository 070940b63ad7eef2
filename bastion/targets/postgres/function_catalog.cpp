#include "targets/postgres/function_catalog.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace bastion {
namespace {

// Sorted; looked up by binary search. Built-ins vetted to read nothing but
// their arguments and change nothing (aggregates included: they see only the
// values of the rows the statement already reads).
constexpr std::array kPure = std::to_array<std::string_view>({
    "abs", "age", "array_agg", "array_append", "array_cat", "array_length", "array_lower", "array_position",
    "array_positions", "array_prepend", "array_remove", "array_replace", "array_to_json", "array_to_string",
    "array_upper",
    "ascii", "avg", "bit_and", "bit_length", "bit_or", "bool_and", "bool_or", "btrim", "cardinality", "cbrt",
    "ceil", "ceiling", "char_length", "character_length", "chr", "clock_timestamp", "coalesce",
    "col_description", "concat",
    "concat_ws", "corr", "count", "covar_pop", "covar_samp", "current_database", "current_date",
    "current_schema", "current_schemas", "current_time",
    "current_timestamp", "date_bin", "date_part", "date_trunc", "decode", "degrees", "dense_rank", "div",
    "encode", "every", "exp", "extract", "first_value", "floor", "format", "format_type", "gcd",
    "gen_random_uuid", "generate_series",
    "generate_subscripts", "greatest", "initcap", "is_normalized", "isfinite", "json_agg",
    "json_array_elements",
    "json_array_length", "json_build_array", "json_build_object", "json_each", "json_extract_path",
    "json_extract_path_text", "json_object_agg", "json_object_keys", "json_typeof", "jsonb_agg",
    "jsonb_array_elements", "jsonb_array_length", "jsonb_build_array", "jsonb_build_object", "jsonb_each",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_object_agg", "jsonb_object_keys", "jsonb_pretty",
    "jsonb_typeof", "justify_days", "justify_hours", "justify_interval", "lag", "last_value", "lcm", "lead",
    "least", "left", "length", "ln", "localtime", "localtimestamp", "log", "log10", "lower", "lpad", "ltrim",
    "make_date", "make_interval", "make_time", "make_timestamp", "make_timestamptz", "max", "md5", "min",
    "mod", "normalize", "now", "nth_value", "ntile", "nullif", "obj_description", "octet_length", "overlaps",
    "overlay", "percent_rank",
    "percentile_cont", "percentile_disc", "pg_database_size", "pg_encoding_to_char", "pg_get_constraintdef",
    "pg_get_expr", "pg_get_indexdef", "pg_get_userbyid", "pg_get_viewdef", "pg_indexes_size",
    "pg_relation_size", "pg_size_pretty", "pg_table_is_visible", "pg_table_size", "pg_total_relation_size",
    "pg_typeof", "pi", "position", "power", "quote_ident", "quote_literal",
    "quote_nullable", "radians", "random", "rank", "regexp_count", "regexp_instr", "regexp_like",
    "regexp_match",
    "regexp_matches", "regexp_replace", "regexp_split_to_array", "regexp_split_to_table", "repeat", "replace",
    "reverse", "right", "round", "row_number", "row_to_json", "rpad", "rtrim", "scale", "sha224", "sha256",
    "sha384",
    "sha512", "sign", "similar_to_escape", "split_part", "sqrt", "starts_with", "statement_timestamp", "stddev",
    "stddev_pop",
    "stddev_samp", "string_agg", "string_to_array", "strpos", "substr", "substring", "sum", "timeofday",
    "timezone",
    "to_char", "to_date", "to_hex", "to_json", "to_jsonb", "to_number", "to_regclass", "to_regtype",
    "to_timestamp",
    "transaction_timestamp", "translate", "trim", "trim_scale", "trunc", "unnest", "upper", "var_pop",
    "var_samp", "variance", "version", "width_bucket",
});

// Functions that take a query (or a relation name) as text and read it, or
// read statistics about data: they bypass the reads the text shows.
constexpr std::array kQueryString = std::to_array<std::string_view>({
    "cursor_to_xml", "cursor_to_xmlschema", "database_to_xml", "database_to_xml_and_xmlschema",
    "database_to_xmlschema", "dblink", "dblink_exec", "dblink_fetch", "dblink_open", "dblink_send_query",
    "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "schema_to_xml",
    "schema_to_xml_and_xmlschema", "schema_to_xmlschema", "table_to_xml", "table_to_xml_and_xmlschema",
    "table_to_xmlschema", "ts_stat", "xmltable", "xpath", "xpath_exists",
});

// Effects outside the statement: files on the server, other backends,
// advisory locks, sequences, notifications, statistics resets.
constexpr std::array kServerState = std::to_array<std::string_view>({
    "currval", "lastval", "nextval", "pg_advisory_lock", "pg_advisory_xact_lock", "pg_cancel_backend",
    "pg_file_write", "pg_logdir_ls", "pg_ls_dir", "pg_notify", "pg_promote", "pg_read_binary_file",
    "pg_read_file", "pg_reload_conf", "pg_rotate_logfile", "pg_sleep", "pg_stat_file", "pg_stat_reset",
    "pg_switch_wal", "pg_terminate_backend", "pg_try_advisory_lock", "setval",
});

static_assert(std::is_sorted(kPure.begin(), kPure.end()));
static_assert(std::is_sorted(kQueryString.begin(), kQueryString.end()));
static_assert(std::is_sorted(kServerState.begin(), kServerState.end()));

template <std::size_t N>
bool in(const std::array<std::string_view, N>& sorted, std::string_view n) {
  return std::binary_search(sorted.begin(), sorted.end(), n);
}

}  // namespace

FunctionClass classify_function(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view v = n;
  if (v.starts_with("pg_catalog.")) v.remove_prefix(11);
  if (v.find('.') != std::string_view::npos) return FunctionClass::unknown;  // another schema: user-defined
  if (v.starts_with("lo_") || v == "loread" || v == "lowrite") return FunctionClass::large_object;
  if (v.find("replication") != std::string_view::npos || v.starts_with("pg_logical_") ||
      v.starts_with("pg_create_") || v.starts_with("pg_drop_") || v.starts_with("pg_copy_"))
    return FunctionClass::replication;
  if (v == "set_config" || v == "current_setting") return FunctionClass::settings;
  if (in(kQueryString, v)) return FunctionClass::query_string;
  if (in(kServerState, v)) return FunctionClass::server_state;
  if (in(kPure, v)) return FunctionClass::pure;
  return FunctionClass::unknown;
}

const char* function_class_name(FunctionClass c) {
  switch (c) {
    case FunctionClass::pure: return "pure";
    case FunctionClass::query_string: return "query_string";
    case FunctionClass::large_object: return "large_object";
    case FunctionClass::replication: return "replication";
    case FunctionClass::settings: return "settings";
    case FunctionClass::server_state: return "server_state";
    case FunctionClass::unknown: break;
  }
  return "unknown";
}

}  // namespace bastion
