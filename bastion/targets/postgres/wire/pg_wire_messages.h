// Decoders and encoders for the PostgreSQL protocol v3 messages the wire
// proxy reads or writes. Decoders take a body (after type and length, see
// Framer) and are strict: false + why in `err` for trailing bytes, a missing
// NUL, a negative count, a count or length beyond the body, a NULL (-1)
// where the protocol has none, a format code other than 0/1. Encoders
// return whole framed messages. Pure code: no sockets, no libpq.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "targets/postgres/wire/pg_wire_framer.h"

namespace bastion::pgwire {

// ---- startup phase (untyped packets) ----
// code: kProtocol3 (any 3.x minor), kSslRequestCode, kGssEncRequestCode or
// kCancelRequestCode. params: protocol 3.x only, in order; a name given
// twice is refused (the server keeps the last, a reader the first).
// pid/key: cancel request only.
struct StartupPacket {
  int32_t code = 0;
  std::vector<std::pair<std::string, std::string>> params;
  int32_t pid = 0, key = 0;
};
bool decode_startup(std::string_view body, StartupPacket& out, std::string& err);
// The whole packet (length included) for this code: 3.x with params, SSL /
// GSS request, or cancel request (pid, key).
std::string encode_startup(const StartupPacket& p);

// ---- client messages ----
bool decode_query(std::string_view body, std::string& sql, std::string& err);  // 'Q'
std::string encode_query(std::string_view sql);

struct ParseMsg {
  std::string name, query;
  std::vector<uint32_t> param_types;
};
bool decode_parse(std::string_view body, ParseMsg& out, std::string& err);  // 'P'
std::string encode_parse(const ParseMsg& m);

// Format counts: params 0 (all text), 1 (for all) or one per parameter;
// results 0, 1 or one per column (the column count is not known at Bind).
struct BindMsg {
  std::string portal, statement;
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string>> params;
  std::vector<int16_t> result_formats;
  // The format of parameter i (0 text, 1 binary) after the 0/1/n rule.
  int16_t param_format(std::size_t i) const;
};
bool decode_bind(std::string_view body, BindMsg& out, std::string& err);  // 'B'
std::string encode_bind(const BindMsg& m);

// max_rows <= 0: all rows (the server reads it so).
struct ExecuteMsg {
  std::string portal;
  int32_t max_rows = 0;
};
bool decode_execute(std::string_view body, ExecuteMsg& out, std::string& err);  // 'E'
std::string encode_execute(const ExecuteMsg& m);

struct TargetRef {
  char kind = 0;  // 'S' statement or 'P' portal
  std::string name;
};
bool decode_describe_or_close(std::string_view body, TargetRef& out, std::string& err);  // 'D' / 'C' from the client
std::string encode_describe(const TargetRef& t);                                         // 'D'
std::string encode_close(const TargetRef& t);                                            // 'C'
std::string encode_sync();                                                               // 'S'
std::string encode_flush();                                                              // 'H'
std::string encode_terminate();                                                          // 'X'

// ---- server messages ----
struct FieldDescription {
  std::string name;
  uint32_t table_oid = 0;
  int16_t column = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_mod = 0;
  int16_t format = 0;
};
bool decode_row_description(std::string_view body, std::vector<FieldDescription>& out, std::string& err);  // 'T'
std::string encode_row_description(const std::vector<FieldDescription>& fields);

bool decode_data_row(std::string_view body, std::vector<std::optional<std::string>>& out, std::string& err);  // 'D'
// At most 32767 columns (what decode_data_row yields); throws std::length_error beyond.
std::string encode_data_row(const std::vector<std::optional<std::string>>& cols);

// ParameterDescription ('t'): the parameter type OIDs of a statement.
bool decode_parameter_description(std::string_view body, std::vector<uint32_t>& out, std::string& err);

// ErrorResponse / NoticeResponse fields ('S','V','C','M','D','H','P',...), in order.
using Fields = std::vector<std::pair<char, std::string>>;
bool decode_fields(std::string_view body, Fields& out, std::string& err);
// Encoders skip fields with code 0 and cut a value at a NUL (either would
// end the message early for the reader).
std::string encode_error(const Fields& f);   // 'E'
std::string encode_notice(const Fields& f);  // 'N'
// severity + SQLSTATE + message (+ detail/hint when not empty); also sets 'V' like the server does.
Fields make_fields(std::string_view severity, std::string_view sqlstate, std::string_view message,
                   std::string_view detail = {}, std::string_view hint = {});
// The value of a field, or nullptr.
const std::string* field(const Fields& f, char code);

bool decode_command_complete(std::string_view body, std::string& tag, std::string& err);  // 'C' from the server
std::string encode_command_complete(std::string_view tag);
bool decode_ready_for_query(std::string_view body, char& status, std::string& err);  // 'Z': 'I','T','E'
std::string encode_ready_for_query(char status);
std::string encode_auth_ok();  // 'R' 0
std::string encode_parameter_status(std::string_view name, std::string_view value);  // 'S'
bool decode_parameter_status(std::string_view body, std::string& name, std::string& value, std::string& err);
std::string encode_notification(int32_t pid, std::string_view channel, std::string_view payload);  // 'A'
bool decode_notification(std::string_view body, int32_t& pid, std::string& channel, std::string& payload,
                         std::string& err);
std::string encode_backend_key_data(int32_t pid, int32_t key);  // 'K'
bool decode_backend_key_data(std::string_view body, int32_t& pid, int32_t& key, std::string& err);
std::string encode_ssl_refused();  // the single byte 'N' (also the answer to a GSSENCRequest)
// NegotiateProtocolVersion ('v'): the newest 3.x minor the bastion speaks and
// the protocol options ("_pq_.*") it does not know.
std::string encode_negotiate_protocol_version(int32_t newest_minor, const std::vector<std::string>& unknown_options);
// CopyInResponse 'G', CopyOutResponse 'H', CopyBothResponse 'W'. A textual
// copy (format 0) has only textual columns.
struct CopyResponse {
  int8_t format = 0;
  std::vector<int16_t> column_formats;
};
bool decode_copy_response(std::string_view body, CopyResponse& out, std::string& err);
std::string encode_empty_query_response();  // 'I'

}  // namespace bastion::pgwire
