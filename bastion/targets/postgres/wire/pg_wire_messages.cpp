#include "targets/postgres/wire/pg_wire_messages.h"

#include <limits>
#include <stdexcept>

namespace bastion::pgwire {
namespace {

// Reads a body front to back; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  std::size_t left() const { return b_.size() - pos_; }
  bool done() const { return pos_ == b_.size(); }
  bool u8(uint8_t& v) {
    if (left() < 1) return false;
    v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool u16(uint16_t& v) {
    uint32_t w = 0;
    if (!be(2, w)) return false;
    v = static_cast<uint16_t>(w);
    return true;
  }
  bool i16(int16_t& v) {
    uint16_t w = 0;
    if (!u16(w)) return false;
    v = static_cast<int16_t>(w);
    return true;
  }
  bool u32(uint32_t& v) { return be(4, v); }
  bool i32(int32_t& v) {
    uint32_t w = 0;
    if (!be(4, w)) return false;
    v = static_cast<int32_t>(w);
    return true;
  }
  // A NUL-terminated string; false when the body ends before the NUL.
  bool cstr(std::string& out) {
    const std::size_t nul = b_.find('\0', pos_);
    if (nul == std::string_view::npos) return false;
    out.assign(b_.substr(pos_, nul - pos_));
    pos_ = nul + 1;
    return true;
  }
  bool bytes(std::size_t n, std::string& out) {
    if (left() < n) return false;
    out.assign(b_.substr(pos_, n));
    pos_ += n;
    return true;
  }

 private:
  bool be(std::size_t n, uint32_t& v) {
    if (left() < n) return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b_[pos_ + i]);
    pos_ += n;
    return true;
  }
  std::string_view b_;
  std::size_t pos_ = 0;
};

bool fail(std::string& err, std::string why) {
  err = std::move(why);
  return false;
}

void put16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}
void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
// A C string for the reader: cut at a NUL, which would end it early.
void put_cstr(std::string& out, std::string_view s) {
  out.append(s.substr(0, s.find('\0')));
  out += '\0';
}
int16_t count16(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int16_t>::max()))
    throw std::length_error(std::string("more than 32767 ") + what);
  return static_cast<int16_t>(n);
}

// A count (int16) that must not be negative, with at least `min_each` bytes
// per item still in the body (so a count cannot make us reserve for nothing).
bool count(Reader& r, int16_t& n, std::size_t min_each, const char* what, std::string& err) {
  if (!r.i16(n)) return fail(err, std::string("truncated before the ") + what + " count");
  if (n < 0) return fail(err, std::string("negative ") + what + " count " + std::to_string(n));
  if (static_cast<std::size_t>(n) * min_each > r.left())
    return fail(err, std::to_string(n) + " " + what + " exceed the message");
  return true;
}

bool formats(Reader& r, std::vector<int16_t>& out, const char* what, std::string& err) {
  int16_t n = 0;
  if (!count(r, n, 2, what, err)) return false;
  out.clear();
  out.reserve(static_cast<std::size_t>(n));
  for (int16_t i = 0; i < n; ++i) {
    int16_t f = 0;
    r.i16(f);  // present: count() checked the room
    if (f != 0 && f != 1) return fail(err, "format code " + std::to_string(f) + " is neither text (0) nor binary (1)");
    out.push_back(f);
  }
  return true;
}

// A value with an int32 length; -1 is NULL where `null_ok`.
bool value(Reader& r, std::optional<std::string>& out, bool null_ok, std::string& err) {
  int32_t len = 0;
  if (!r.i32(len)) return fail(err, "truncated value length");
  if (len == -1 && null_ok) {
    out.reset();
    return true;
  }
  if (len < 0) return fail(err, "value length " + std::to_string(len) + " is invalid");
  if (static_cast<std::size_t>(len) > r.left())
    return fail(err, "value of " + std::to_string(len) + " bytes exceeds the message");
  std::string v;
  r.bytes(static_cast<std::size_t>(len), v);
  out = std::move(v);
  return true;
}

bool finish(const Reader& r, const char* what, std::string& err) {
  if (!r.done()) return fail(err, std::to_string(r.left()) + " trailing bytes after the " + what);
  return true;
}

bool one_cstr(std::string_view body, std::string& out, const char* what, std::string& err) {
  Reader r(body);
  if (!r.cstr(out)) return fail(err, std::string("the ") + what + " has no terminating NUL");
  return finish(r, what, err);
}

std::string with_cstr(char type, std::string_view s) {
  std::string body;
  put_cstr(body, s);
  return frame(type, body);
}

std::string encode_fields(char type, const Fields& f) {
  std::string body;
  for (const auto& [code, v] : f) {
    if (code == 0) continue;
    body += code;
    put_cstr(body, v);
  }
  body += '\0';
  return frame(type, body);
}

std::string target_msg(char type, const TargetRef& t) {
  std::string body(1, t.kind);
  put_cstr(body, t.name);
  return frame(type, body);
}

}  // namespace

bool decode_startup(std::string_view body, StartupPacket& out, std::string& err) {
  Reader r(body);
  out = StartupPacket{};
  if (!r.i32(out.code)) return fail(err, "startup packet shorter than its code");
  if (out.code == kSslRequestCode || out.code == kGssEncRequestCode) return finish(r, "SSL/GSS request", err);
  if (out.code == kCancelRequestCode) {
    if (!r.i32(out.pid) || !r.i32(out.key)) return fail(err, "cancel request without a process id and key");
    return finish(r, "cancel request", err);
  }
  if ((out.code >> 16) != 3)
    return fail(err, "unsupported protocol " + std::to_string(out.code >> 16) + "." +
                         std::to_string(out.code & 0xffff));
  for (;;) {
    std::string name, val;
    if (!r.cstr(name)) return fail(err, "startup packet without its terminating NUL");
    if (name.empty()) break;
    if (!r.cstr(val)) return fail(err, "startup parameter \"" + name + "\" has no value");
    for (const auto& p : out.params)
      if (p.first == name) return fail(err, "startup parameter \"" + name + "\" given twice");
    out.params.emplace_back(std::move(name), std::move(val));
  }
  return finish(r, "startup packet", err);
}

std::string encode_startup(const StartupPacket& p) {
  std::string body;
  put32(body, static_cast<uint32_t>(p.code));
  if (p.code == kCancelRequestCode) {
    put32(body, static_cast<uint32_t>(p.pid));
    put32(body, static_cast<uint32_t>(p.key));
  } else if (p.code != kSslRequestCode && p.code != kGssEncRequestCode) {
    for (const auto& [k, v] : p.params) {
      if (k.empty() || k[0] == '\0') continue;  // an empty name would end the list
      put_cstr(body, k);
      put_cstr(body, v);
    }
    body += '\0';
  }
  return frame_startup(body);
}

bool decode_query(std::string_view body, std::string& sql, std::string& err) {
  return one_cstr(body, sql, "query", err);
}
std::string encode_query(std::string_view sql) { return with_cstr('Q', sql); }

bool decode_parse(std::string_view body, ParseMsg& out, std::string& err) {
  Reader r(body);
  if (!r.cstr(out.name)) return fail(err, "Parse: the statement name has no terminating NUL");
  if (!r.cstr(out.query)) return fail(err, "Parse: the query has no terminating NUL");
  int16_t n = 0;
  if (!count(r, n, 4, "parameter types", err)) return false;
  out.param_types.assign(static_cast<std::size_t>(n), 0);
  for (auto& t : out.param_types) r.u32(t);
  return finish(r, "Parse message", err);
}
std::string encode_parse(const ParseMsg& m) {
  std::string body;
  put_cstr(body, m.name);
  put_cstr(body, m.query);
  put16(body, static_cast<uint16_t>(count16(m.param_types.size(), "parameter types")));
  for (uint32_t t : m.param_types) put32(body, t);
  return frame('P', body);
}

int16_t BindMsg::param_format(std::size_t i) const {
  if (param_formats.empty()) return 0;
  if (param_formats.size() == 1) return param_formats[0];
  return i < param_formats.size() ? param_formats[i] : 0;
}

bool decode_bind(std::string_view body, BindMsg& out, std::string& err) {
  Reader r(body);
  if (!r.cstr(out.portal)) return fail(err, "Bind: the portal name has no terminating NUL");
  if (!r.cstr(out.statement)) return fail(err, "Bind: the statement name has no terminating NUL");
  if (!formats(r, out.param_formats, "parameter formats", err)) return false;
  int16_t n = 0;
  if (!count(r, n, 4, "parameters", err)) return false;
  if (out.param_formats.size() > 1 && out.param_formats.size() != static_cast<std::size_t>(n))
    return fail(err, "Bind has " + std::to_string(out.param_formats.size()) + " parameter formats but " +
                         std::to_string(n) + " parameters");
  out.params.assign(static_cast<std::size_t>(n), std::nullopt);
  for (auto& p : out.params)
    if (!value(r, p, true, err)) return false;
  if (!formats(r, out.result_formats, "result formats", err)) return false;
  return finish(r, "Bind message", err);
}
std::string encode_bind(const BindMsg& m) {
  std::string body;
  put_cstr(body, m.portal);
  put_cstr(body, m.statement);
  put16(body, static_cast<uint16_t>(count16(m.param_formats.size(), "parameter formats")));
  for (int16_t f : m.param_formats) put16(body, static_cast<uint16_t>(f));
  put16(body, static_cast<uint16_t>(count16(m.params.size(), "parameters")));
  for (const auto& p : m.params) {
    if (!p) {
      put32(body, 0xffffffffu);
      continue;
    }
    put32(body, static_cast<uint32_t>(p->size()));
    body += *p;
  }
  put16(body, static_cast<uint16_t>(count16(m.result_formats.size(), "result formats")));
  for (int16_t f : m.result_formats) put16(body, static_cast<uint16_t>(f));
  return frame('B', body);
}

bool decode_execute(std::string_view body, ExecuteMsg& out, std::string& err) {
  Reader r(body);
  if (!r.cstr(out.portal)) return fail(err, "Execute: the portal name has no terminating NUL");
  if (!r.i32(out.max_rows)) return fail(err, "Execute without its row limit");
  return finish(r, "Execute message", err);
}
std::string encode_execute(const ExecuteMsg& m) {
  std::string body;
  put_cstr(body, m.portal);
  put32(body, static_cast<uint32_t>(m.max_rows));
  return frame('E', body);
}

bool decode_describe_or_close(std::string_view body, TargetRef& out, std::string& err) {
  Reader r(body);
  uint8_t k = 0;
  if (!r.u8(k)) return fail(err, "Describe/Close without its kind");
  if (k != 'S' && k != 'P')
    return fail(err, "Describe/Close kind " + type_name(static_cast<char>(k)) + " is neither 'S' nor 'P'");
  out.kind = static_cast<char>(k);
  if (!r.cstr(out.name)) return fail(err, "Describe/Close: the name has no terminating NUL");
  return finish(r, "Describe/Close message", err);
}
std::string encode_describe(const TargetRef& t) { return target_msg('D', t); }
std::string encode_close(const TargetRef& t) { return target_msg('C', t); }
std::string encode_sync() { return frame('S', {}); }
std::string encode_flush() { return frame('H', {}); }
std::string encode_terminate() { return frame('X', {}); }

bool decode_row_description(std::string_view body, std::vector<FieldDescription>& out, std::string& err) {
  Reader r(body);
  int16_t n = 0;
  // Each field is at least a NUL and 18 bytes of numbers.
  if (!count(r, n, 19, "fields", err)) return false;
  out.assign(static_cast<std::size_t>(n), FieldDescription{});
  for (auto& f : out) {
    if (!r.cstr(f.name)) return fail(err, "RowDescription: a field name has no terminating NUL");
    if (!r.u32(f.table_oid) || !r.i16(f.column) || !r.u32(f.type_oid) || !r.i16(f.type_size) ||
        !r.i32(f.type_mod) || !r.i16(f.format))
      return fail(err, "RowDescription: field \"" + f.name + "\" is truncated");
    if (f.format != 0 && f.format != 1)
      return fail(err, "RowDescription: field \"" + f.name + "\" has format code " + std::to_string(f.format));
  }
  return finish(r, "RowDescription", err);
}
std::string encode_row_description(const std::vector<FieldDescription>& fields) {
  std::string body;
  put16(body, static_cast<uint16_t>(count16(fields.size(), "fields")));
  for (const auto& f : fields) {
    put_cstr(body, f.name);
    put32(body, f.table_oid);
    put16(body, static_cast<uint16_t>(f.column));
    put32(body, f.type_oid);
    put16(body, static_cast<uint16_t>(f.type_size));
    put32(body, static_cast<uint32_t>(f.type_mod));
    put16(body, static_cast<uint16_t>(f.format));
  }
  return frame('T', body);
}

bool decode_data_row(std::string_view body, std::vector<std::optional<std::string>>& out, std::string& err) {
  Reader r(body);
  int16_t n = 0;
  if (!count(r, n, 4, "columns", err)) return false;
  out.assign(static_cast<std::size_t>(n), std::nullopt);
  for (auto& c : out)
    if (!value(r, c, true, err)) return false;
  return finish(r, "DataRow", err);
}
std::string encode_data_row(const std::vector<std::optional<std::string>>& cols) {
  std::size_t size = 2;
  for (const auto& c : cols) size += 4 + (c ? c->size() : 0);
  std::string body;
  body.reserve(size);
  put16(body, static_cast<uint16_t>(count16(cols.size(), "columns")));
  for (const auto& c : cols) {
    if (!c) {
      put32(body, 0xffffffffu);
      continue;
    }
    if (c->size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max()))
      throw std::length_error("a column value above 2 GiB");
    put32(body, static_cast<uint32_t>(c->size()));
    body += *c;
  }
  return frame('D', body);
}

bool decode_parameter_description(std::string_view body, std::vector<uint32_t>& out, std::string& err) {
  Reader r(body);
  int16_t n = 0;
  if (!count(r, n, 4, "parameter types", err)) return false;
  out.assign(static_cast<std::size_t>(n), 0);
  for (auto& t : out) r.u32(t);
  return finish(r, "ParameterDescription", err);
}

bool decode_fields(std::string_view body, Fields& out, std::string& err) {
  Reader r(body);
  out.clear();
  for (;;) {
    uint8_t code = 0;
    if (!r.u8(code)) return fail(err, "error/notice fields without their terminating NUL");
    if (code == 0) break;
    std::string v;
    if (!r.cstr(v)) return fail(err, "error/notice field " + type_name(static_cast<char>(code)) + " has no terminating NUL");
    out.emplace_back(static_cast<char>(code), std::move(v));
  }
  return finish(r, "error/notice fields", err);
}
std::string encode_error(const Fields& f) { return encode_fields('E', f); }
std::string encode_notice(const Fields& f) { return encode_fields('N', f); }

Fields make_fields(std::string_view severity, std::string_view sqlstate, std::string_view message,
                   std::string_view detail, std::string_view hint) {
  Fields f{{'S', std::string(severity)}, {'V', std::string(severity)}, {'C', std::string(sqlstate)},
           {'M', std::string(message)}};
  if (!detail.empty()) f.emplace_back('D', std::string(detail));
  if (!hint.empty()) f.emplace_back('H', std::string(hint));
  return f;
}

const std::string* field(const Fields& f, char code) {
  for (const auto& [c, v] : f)
    if (c == code) return &v;
  return nullptr;
}

bool decode_command_complete(std::string_view body, std::string& tag, std::string& err) {
  return one_cstr(body, tag, "command tag", err);
}
std::string encode_command_complete(std::string_view tag) { return with_cstr('C', tag); }

bool decode_ready_for_query(std::string_view body, char& status, std::string& err) {
  if (body.size() != 1) return fail(err, "ReadyForQuery of " + std::to_string(body.size()) + " bytes (1 expected)");
  if (body[0] != 'I' && body[0] != 'T' && body[0] != 'E')
    return fail(err, "ReadyForQuery status " + type_name(body[0]) + " is not 'I', 'T' or 'E'");
  status = body[0];
  return true;
}
std::string encode_ready_for_query(char status) { return frame('Z', std::string_view(&status, 1)); }

std::string encode_auth_ok() { return frame('R', std::string_view("\0\0\0\0", 4)); }

std::string encode_parameter_status(std::string_view name, std::string_view value) {
  std::string body;
  put_cstr(body, name);
  put_cstr(body, value);
  return frame('S', body);
}
bool decode_parameter_status(std::string_view body, std::string& name, std::string& value, std::string& err) {
  Reader r(body);
  if (!r.cstr(name) || !r.cstr(value)) return fail(err, "ParameterStatus without its terminating NULs");
  return finish(r, "ParameterStatus", err);
}

std::string encode_notification(int32_t pid, std::string_view channel, std::string_view payload) {
  std::string body;
  put32(body, static_cast<uint32_t>(pid));
  put_cstr(body, channel);
  put_cstr(body, payload);
  return frame('A', body);
}
bool decode_notification(std::string_view body, int32_t& pid, std::string& channel, std::string& payload,
                         std::string& err) {
  Reader r(body);
  if (!r.i32(pid) || !r.cstr(channel) || !r.cstr(payload))
    return fail(err, "NotificationResponse without a process id, channel and payload");
  return finish(r, "NotificationResponse", err);
}

std::string encode_backend_key_data(int32_t pid, int32_t key) {
  std::string body;
  put32(body, static_cast<uint32_t>(pid));
  put32(body, static_cast<uint32_t>(key));
  return frame('K', body);
}
bool decode_backend_key_data(std::string_view body, int32_t& pid, int32_t& key, std::string& err) {
  Reader r(body);
  if (!r.i32(pid) || !r.i32(key)) return fail(err, "BackendKeyData shorter than a process id and key");
  return finish(r, "BackendKeyData", err);
}

std::string encode_ssl_refused() { return "N"; }

std::string encode_negotiate_protocol_version(int32_t newest_minor, const std::vector<std::string>& unknown_options) {
  std::string body;
  put32(body, static_cast<uint32_t>(newest_minor));
  put32(body, static_cast<uint32_t>(unknown_options.size()));
  for (const auto& o : unknown_options) put_cstr(body, o);
  return frame('v', body);
}

bool decode_copy_response(std::string_view body, CopyResponse& out, std::string& err) {
  Reader r(body);
  uint8_t f = 0;
  if (!r.u8(f)) return fail(err, "copy response without its format");
  if (f > 1) return fail(err, "copy format " + std::to_string(f) + " is neither text (0) nor binary (1)");
  out.format = static_cast<int8_t>(f);
  if (!formats(r, out.column_formats, "column formats", err)) return false;
  if (out.format == 0)
    for (int16_t c : out.column_formats)
      if (c != 0) return fail(err, "a textual copy with a binary column");
  return finish(r, "copy response", err);
}

std::string encode_empty_query_response() { return frame('I', {}); }

}  // namespace bastion::pgwire
