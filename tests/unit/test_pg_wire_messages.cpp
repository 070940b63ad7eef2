// Every PostgreSQL v3 decoder on real captured bodies, every malformed
// case refused with its message, and the encoders' exact bytes / round trips.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pg_wire_captures.h"
#include "targets/postgres/wire/pg_wire_framer.h"
#include "targets/postgres/wire/pg_wire_messages.h"

using namespace bastion::pgwire;
using namespace pgwire_captures;
using namespace std::string_literals;
using Row = std::vector<std::optional<std::string>>;

namespace {

// The messages of a captured stream (client streams: startup packet first).
std::vector<Message> messages(const std::string& stream, bool client) {
  Framer f(client, FramerLimits{});
  f.feed(stream);
  std::vector<Message> out;
  Message m;
  while (f.next(m) == Framer::Status::message) {
    out.push_back(m);
    f.end_startup();
  }
  return out;
}

std::vector<Message> of_type(const std::string& stream, bool client, char type) {
  std::vector<Message> out;
  for (auto& m : messages(stream, client))
    if (m.type == type) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("pg messages: the startup packet, SSL/GSS and cancel requests", "[pgwire]") {
  StartupPacket p;
  std::string err;
  REQUIRE(decode_startup(messages(kSimpleClient, true)[0].body, p, err));
  CHECK(p.code == kProtocol3);
  CHECK(p.params == std::vector<std::pair<std::string, std::string>>{
                        {"user", "postgres"}, {"database", "postgres"}, {"application_name", "psql"}});
  CHECK(encode_startup(p) == kSimpleClient.substr(0, 0x3f));

  REQUIRE(decode_startup("\x04\xd2\x16\x2f"s, p, err));
  CHECK(p.code == kSslRequestCode);
  REQUIRE(decode_startup("\x04\xd2\x16\x30"s, p, err));
  CHECK(p.code == kGssEncRequestCode);
  REQUIRE(decode_startup("\x04\xd2\x16\x2e\x00\x00\x30\x39\xff\xff\xff\xfe"s, p, err));
  CHECK(p.code == kCancelRequestCode);
  CHECK(p.pid == 12345);
  CHECK(p.key == -2);
  CHECK(encode_startup(p) == "\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x30\x39\xff\xff\xff\xfe"s);

  CHECK_FALSE(decode_startup("\x00\x02\x00\x00"s, p, err));
  CHECK(err == "unsupported protocol 2.0");
  CHECK_FALSE(decode_startup("\x04\xd2\x16\x2f\x00"s, p, err));
  CHECK(err == "1 trailing bytes after the SSL/GSS request");
  CHECK_FALSE(decode_startup("\x04\xd2\x16\x2e\x00\x00\x30\x39"s, p, err));
  CHECK(err == "cancel request without a process id and key");
  CHECK_FALSE(decode_startup("\x00\x03\x00\x00user\0a\0"s, p, err));
  CHECK(err == "startup packet without its terminating NUL");
  CHECK_FALSE(decode_startup("\x00\x03\x00\x00user\0"s, p, err));
  CHECK(err == "startup parameter \"user\" has no value");
  CHECK_FALSE(decode_startup("\x00\x03\x00\x00user\0a\0user\0b\0\0"s, p, err));
  CHECK(err == "startup parameter \"user\" given twice");
  CHECK_FALSE(decode_startup("\x00\x03\x00\x00user\0a\0\0x"s, p, err));
  CHECK(err == "1 trailing bytes after the startup packet");
  CHECK_FALSE(decode_startup("\x00\x03"s, p, err));
  CHECK(err == "startup packet shorter than its code");
  // A 3.x minor decodes: the proxy answers it with NegotiateProtocolVersion.
  REQUIRE(decode_startup("\x00\x03\x00\x02\0"s, p, err));
  CHECK(p.code == (3 << 16 | 2));
  CHECK(encode_negotiate_protocol_version(0, {"_pq_.x"}) == "v\x00\x00\x00\x13\x00\x00\x00\x00\x00\x00\x00\x01_pq_.x\0"s);
}

TEST_CASE("pg messages: Query", "[pgwire]") {
  std::string sql, err;
  REQUIRE(decode_query(of_type(kSimpleClient, true, 'Q')[0].body, sql, err));
  CHECK(sql == "select a, b from t order by a; select 1/0;");
  CHECK(encode_query(sql) == kSimpleClient.substr(0x3f, 1 + 0x2f));
  CHECK_FALSE(decode_query("select 1"s, sql, err));
  CHECK(err == "the query has no terminating NUL");
  CHECK_FALSE(decode_query("select 1\0; drop table t\0"s, sql, err));  // a NUL inside: the server reads less
  CHECK(err == "15 trailing bytes after the query");
}

TEST_CASE("pg messages: Parse, Bind, Describe, Execute from psycopg", "[pgwire]") {
  const auto ps = of_type(kPipelineClient, true, 'P');
  ParseMsg p;
  std::string err;
  REQUIRE(decode_parse(ps[1].body, p, err));
  CHECK(p.name.empty());
  CHECK(p.query == "select a, b from t where a = $1");
  CHECK(p.param_types == std::vector<uint32_t>{21});
  CHECK(encode_parse(p) == frame('P', ps[1].body));
  REQUIRE(decode_parse(ps[2].body, p, err));
  CHECK(p.param_types == std::vector<uint32_t>{0, 0});

  const auto bs = of_type(kPipelineClient, true, 'B');
  BindMsg b;
  REQUIRE(decode_bind(bs[1].body, b, err));
  CHECK(b.param_formats == std::vector<int16_t>{1});
  CHECK(b.params == Row{"\x00\x01"s});
  CHECK(b.result_formats == std::vector<int16_t>{0});
  CHECK(b.param_format(0) == 1);
  CHECK(encode_bind(b) == frame('B', bs[1].body));
  REQUIRE(decode_bind(bs[2].body, b, err));
  CHECK(b.param_formats == std::vector<int16_t>{0, 0});
  CHECK(b.params == Row{"x"s, std::nullopt});
  CHECK(encode_bind(b) == frame('B', bs[2].body));

  TargetRef t;
  REQUIRE(decode_describe_or_close(of_type(kPipelineClient, true, 'D')[0].body, t, err));
  CHECK(t.kind == 'P');
  CHECK(t.name.empty());
  CHECK(encode_describe(t) == "D\x00\x00\x00\x06P\0"s);
  CHECK(encode_close({'S', "s1"}) == "C\x00\x00\x00\x08Ss1\0"s);
  ExecuteMsg e;
  REQUIRE(decode_execute(of_type(kPipelineClient, true, 'E')[0].body, e, err));
  CHECK(e.portal.empty());
  CHECK(e.max_rows == 0);
  CHECK(encode_execute({"p", -1}) == "E\x00\x00\x00\x0ap\0\xff\xff\xff\xff"s);
  CHECK(encode_sync() == "S\x00\x00\x00\x04"s);
  CHECK(encode_flush() == "H\x00\x00\x00\x04"s);
  CHECK(encode_terminate() == "X\x00\x00\x00\x04"s);
}

TEST_CASE("pg messages: malformed client messages are refused", "[pgwire]") {
  std::string err;
  ParseMsg p;
  CHECK_FALSE(decode_parse("s\0select 1\0\xff\xff"s, p, err));
  CHECK(err == "negative parameter types count -1");
  CHECK_FALSE(decode_parse("s\0select 1\0\x00\x02\x00\x00\x00\x17"s, p, err));
  CHECK(err == "2 parameter types exceed the message");
  CHECK_FALSE(decode_parse("s\0select 1"s, p, err));
  CHECK(err == "Parse: the query has no terminating NUL");
  CHECK_FALSE(decode_parse("s\0select 1\0\x00\x00x"s, p, err));
  CHECK(err == "1 trailing bytes after the Parse message");

  BindMsg b;
  const std::string head = "\0\0"s;  // unnamed portal and statement
  CHECK(decode_bind(head + "\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00"s, b, err));  // one NULL parameter
  CHECK(b.params == Row{std::nullopt});
  CHECK_FALSE(decode_bind(head + "\x00\x00\x00\x01\xff\xff\xff\xfe\x00\x00"s, b, err));
  CHECK(err == "value length -2 is invalid");
  CHECK_FALSE(decode_bind(head + "\x00\x00\x00\x01\x00\x00\x00\x05" "abc"s, b, err));
  CHECK(err == "value of 5 bytes exceeds the message");
  CHECK_FALSE(decode_bind(head + "\x00\x01\x00\x02\x00\x00\x00\x00"s, b, err));
  CHECK(err == "format code 2 is neither text (0) nor binary (1)");
  CHECK_FALSE(decode_bind(head + "\x00\x02\x00\x00\x00\x01\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"s, b, err));
  CHECK(err == "Bind has 2 parameter formats but 3 parameters");
  CHECK_FALSE(decode_bind(head + "\x00\x00\xff\xff\x00\x00"s, b, err));
  CHECK(err == "negative parameters count -1");
  CHECK_FALSE(decode_bind(head + "\x00\x00\x00\x00\x00\x01\x00\x00\x00"s, b, err));
  CHECK(err == "1 trailing bytes after the Bind message");
  CHECK_FALSE(decode_bind(head + "\x00\x00\x00\x00\x00\x01\x00\x07"s, b, err));
  CHECK(err == "format code 7 is neither text (0) nor binary (1)");
  CHECK_FALSE(decode_bind("p"s, b, err));
  CHECK(err == "Bind: the portal name has no terminating NUL");

  ExecuteMsg e;
  CHECK_FALSE(decode_execute("\0\x00\x00"s, e, err));
  CHECK(err == "Execute without its row limit");
  TargetRef t;
  CHECK_FALSE(decode_describe_or_close("X\0"s, t, err));
  CHECK(err == "Describe/Close kind 'X' is neither 'S' nor 'P'");
  CHECK_FALSE(decode_describe_or_close("S"s, t, err));
  CHECK(err == "Describe/Close: the name has no terminating NUL");
  CHECK_FALSE(decode_describe_or_close(""s, t, err));
  CHECK(err == "Describe/Close without its kind");
}

TEST_CASE("pg messages: RowDescription and DataRow from the server", "[pgwire]") {
  std::string err;
  std::vector<FieldDescription> fields;
  const auto ts = of_type(kSimpleServer, false, 'T');
  REQUIRE(decode_row_description(ts[0].body, fields, err));
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].name == "a");
  CHECK(fields[0].table_oid == 16384);
  CHECK(fields[0].column == 1);
  CHECK(fields[0].type_oid == 23);
  CHECK(fields[0].type_size == 4);
  CHECK(fields[0].type_mod == -1);
  CHECK(fields[0].format == 0);
  CHECK(fields[1].name == "b");
  CHECK(fields[1].column == 2);
  CHECK(fields[1].type_oid == 25);
  CHECK(fields[1].type_size == -1);
  CHECK(encode_row_description(fields) == frame('T', ts[0].body));

  const auto ds = of_type(kSimpleServer, false, 'D');
  Row row;
  REQUIRE(decode_data_row(ds[0].body, row, err));
  CHECK(row == Row{"1"s, "one"s});
  CHECK(encode_data_row(row) == frame('D', ds[0].body));
  REQUIRE(decode_data_row(ds[1].body, row, err));
  CHECK(row == Row{"2"s, std::nullopt});
  CHECK(encode_data_row(row) == frame('D', ds[1].body));
  CHECK(encode_data_row({}) == "D\x00\x00\x00\x06\x00\x00"s);

  CHECK_FALSE(decode_data_row("\x00\x01\xff\xff\xff\xfe"s, row, err));
  CHECK(err == "value length -2 is invalid");
  CHECK_FALSE(decode_data_row("\x00\x01\x00\x00\x00\x04" "abc"s, row, err));
  CHECK(err == "value of 4 bytes exceeds the message");
  CHECK_FALSE(decode_data_row("\x80\x00"s, row, err));
  CHECK(err == "negative columns count -32768");
  CHECK_FALSE(decode_data_row("\x7f\xff\x00\x00\x00\x00"s, row, err));
  CHECK(err == "32767 columns exceed the message");
  CHECK_FALSE(decode_data_row("\x00\x01\x00\x00\x00\x01" "ab"s, row, err));
  CHECK(err == "1 trailing bytes after the DataRow");
  CHECK_FALSE(decode_data_row("\x00"s, row, err));
  CHECK(err == "truncated before the columns count");

  CHECK_FALSE(decode_row_description("\x00\x01" "a\0\x00\x00\x00\x00\x00\x01\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x02"s,
                                     fields, err));
  CHECK(err == "RowDescription: field \"a\" has format code 2");
  CHECK_FALSE(decode_row_description("\x00\x01" "a\0\x00\x00\x00\x00\x00\x01\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00"s,
                                     fields, err));
  CHECK(err == "RowDescription: field \"a\" is truncated");
  CHECK_FALSE(decode_row_description("\x00\x02" "a\0\x00\x00\x00\x00\x00\x01\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00"s,
                                     fields, err));
  CHECK(err == "2 fields exceed the message");
  CHECK_FALSE(decode_row_description("\x00\x01" "abcdefghijklmnopqrstuvwxyz"s, fields, err));
  CHECK(err == "RowDescription: a field name has no terminating NUL");

  std::vector<uint32_t> types;
  REQUIRE(decode_parameter_description("\x00\x02\x00\x00\x00\x17\x00\x00\x00\x19"s, types, err));
  CHECK(types == std::vector<uint32_t>{23, 25});
  CHECK_FALSE(decode_parameter_description("\x00\x02\x00\x00\x00\x17"s, types, err));
  CHECK(err == "2 parameter types exceed the message");
}

TEST_CASE("pg messages: ErrorResponse and NoticeResponse fields", "[pgwire]") {
  std::string err;
  Fields f;
  const auto es = of_type(kSimpleServer, false, 'E');
  REQUIRE(decode_fields(es[0].body, f, err));
  CHECK(f == Fields{{'S', "ERROR"}, {'V', "ERROR"}, {'C', "22012"}, {'M', "division by zero"},
                    {'F', "int.c"}, {'L', "869"}, {'R', "int4div"}});
  CHECK(encode_error(f) == frame('E', es[0].body));
  CHECK(*field(f, 'C') == "22012");
  CHECK(field(f, 'D') == nullptr);

  const Fields made = make_fields("ERROR", "42501", "refused by policy", "", "ask for approval");
  CHECK(made == Fields{{'S', "ERROR"}, {'V', "ERROR"}, {'C', "42501"}, {'M', "refused by policy"},
                       {'H', "ask for approval"}});
  CHECK(encode_notice(make_fields("NOTICE", "00000", "held")) ==
        "N\x00\x00\x00\x22SNOTICE\0VNOTICE\0C00000\0Mheld\0\0"s);
  // A NUL in a value would end the field early: cut there. Code 0 skipped.
  CHECK(encode_error({{'M', "a\0b"s}, {'\0', "x"}}) == "E\x00\x00\x00\x08Ma\0\0"s);

  CHECK_FALSE(decode_fields("Mx\0"s, f, err));
  CHECK(err == "error/notice fields without their terminating NUL");
  CHECK_FALSE(decode_fields("Mx"s, f, err));
  CHECK(err == "error/notice field 'M' has no terminating NUL");
  CHECK_FALSE(decode_fields("Mx\0\0z"s, f, err));
  CHECK(err == "1 trailing bytes after the error/notice fields");
  CHECK_FALSE(decode_fields(""s, f, err));
}

TEST_CASE("pg messages: CommandComplete, ReadyForQuery, ParameterStatus, BackendKeyData, copy responses", "[pgwire]") {
  std::string err, tag;
  REQUIRE(decode_command_complete(of_type(kSimpleServer, false, 'C')[0].body, tag, err));
  CHECK(tag == "SELECT 2");
  CHECK(encode_command_complete("SELECT 2") == frame('C', "SELECT 2\0"s));
  CHECK_FALSE(decode_command_complete("SELECT 2"s, tag, err));

  char st = 0;
  REQUIRE(decode_ready_for_query("T"s, st, err));
  CHECK(st == 'T');
  CHECK_FALSE(decode_ready_for_query("X"s, st, err));
  CHECK(err == "ReadyForQuery status 'X' is not 'I', 'T' or 'E'");
  CHECK_FALSE(decode_ready_for_query("II"s, st, err));
  CHECK(err == "ReadyForQuery of 2 bytes (1 expected)");
  CHECK(encode_ready_for_query('E') == "Z\x00\x00\x00\x05" "E"s);

  std::string name, value;
  const auto ss = of_type(kSimpleServer, false, 'S');
  REQUIRE(decode_parameter_status(ss[0].body, name, value, err));
  CHECK(name == "application_name");
  CHECK(value == "psql");
  CHECK(encode_parameter_status(name, value) == frame('S', ss[0].body));
  CHECK_FALSE(decode_parameter_status("a\0b"s, name, value, err));
  {
    // NotificationResponse: what LISTEN delivers (pid, channel, payload).
    int32_t pid = 0;
    std::string channel, payload;
    const std::string n = encode_notification(4242, "jobs", "123-45-6789");
    CHECK(n == "A\0\0\0\x19\0\0\x10\x92jobs\0" "123-45-6789\0"s);
    REQUIRE(decode_notification(n.substr(5), pid, channel, payload, err));
    CHECK((pid == 4242 && channel == "jobs" && payload == "123-45-6789"));
    CHECK_FALSE(decode_notification("\0\0\0\1jobs\0"s, pid, channel, payload, err));
    CHECK(err == "NotificationResponse without a process id, channel and payload");
    CHECK_FALSE(decode_notification("\0\0\0\1a\0b\0c"s, pid, channel, payload, err));
  }

  int32_t pid = 0, key = 0;
  const auto ks = of_type(kSimpleServer, false, 'K');
  REQUIRE(decode_backend_key_data(ks[0].body, pid, key, err));
  CHECK(encode_backend_key_data(pid, key) == frame('K', ks[0].body));
  CHECK_FALSE(decode_backend_key_data("\x00\x00\x00\x01"s, pid, key, err));

  CopyResponse cr;
  REQUIRE(decode_copy_response(of_type(kCopyinServer, false, 'G')[0].body, cr, err));
  CHECK(cr.format == 0);
  CHECK(cr.column_formats == std::vector<int16_t>{0, 0});
  REQUIRE(decode_copy_response(of_type(kCopyoutServer, false, 'H')[0].body, cr, err));
  CHECK(cr.column_formats.size() == 2);
  REQUIRE(decode_copy_response("\x01\x00\x01\x00\x01"s, cr, err));
  CHECK(cr.format == 1);
  CHECK_FALSE(decode_copy_response("\x00\x00\x01\x00\x01"s, cr, err));
  CHECK(err == "a textual copy with a binary column");
  CHECK_FALSE(decode_copy_response("\x02\x00\x00"s, cr, err));
  CHECK(err == "copy format 2 is neither text (0) nor binary (1)");

  CHECK(encode_auth_ok() == "R\x00\x00\x00\x08\x00\x00\x00\x00"s);
  CHECK(encode_ssl_refused() == "N");
  CHECK(encode_empty_query_response() == "I\x00\x00\x00\x04"s);
}
