#include "targets/ssh/sftp_packets.h"

#include <cstdio>

#include "common/ssh_wire.h"

namespace bastion::sftp {
namespace {

uint32_t be32(std::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<std::size_t>(i)]);
  return v;
}

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

bool fail(std::string& error, std::string why) {
  error = std::move(why);
  return false;
}

// A path as the server reads it: a C string. One with a NUL inside would
// be read shorter than what was decided.
bool path(WireReader& r, std::string& out) {
  std::string_view v;
  if (!r.string(v) || v.find('\0') != std::string_view::npos) return false;
  out.assign(v);
  return true;
}

bool bytes(WireReader& r, std::string& out) {
  std::string_view v;
  if (!r.string(v)) return false;
  out.assign(v);
  return true;
}

bool attrs(WireReader& r, Attrs& a) {
  if (!r.u32(a.flags)) return false;
  if (a.flags & kAttrSize) {
    uint64_t v = 0;
    if (!r.u64(v)) return false;
    a.size = v;
  }
  if (a.flags & kAttrUidGid) {
    uint32_t u = 0, g = 0;
    if (!r.u32(u) || !r.u32(g)) return false;
    a.uid = u;
    a.gid = g;
  }
  if (a.flags & kAttrPermissions) {
    uint32_t v = 0;
    if (!r.u32(v)) return false;
    a.perm = v;
  }
  if (a.flags & kAttrAcModTime) {
    uint32_t at = 0, mt = 0;
    if (!r.u32(at) || !r.u32(mt)) return false;
    a.atime = at;
    a.mtime = mt;
  }
  if (a.flags & kAttrExtended) {
    if (!r.u32(a.extended_count)) return false;
    for (uint32_t i = 0; i < a.extended_count; ++i) {
      std::string_view k, v;
      if (!r.string(k) || !r.string(v)) return false;
    }
  }
  return true;
}

bool decode_extended(WireReader& r, Request& q) {
  const std::string& n = q.extended;
  if (n == "posix-rename@openssh.com" || n == "hardlink@openssh.com") return path(r, q.path) && path(r, q.path2);
  if (n == "lsetstat@openssh.com") return path(r, q.path) && attrs(r, q.attrs);
  if (n == "copy-data") {
    uint64_t write_offset = 0;
    return bytes(r, q.handle) && r.u64(q.offset) && r.u64(q.length) && bytes(r, q.handle2) && r.u64(write_offset);
  }
  return true;  // relayed undecided, or refused by name: nothing more to read
}

}  // namespace

void Framer::feed(std::string_view bytes) {
  // Drop what was handed out already, once it is the larger part.
  if (off_ > 0 && off_ >= buf_.size() / 2) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  buf_.append(bytes);
}

Framer::Next Framer::next(std::string_view& packet) {
  if (!error_.empty()) return Next::error;
  const std::string_view rest = std::string_view(buf_).substr(off_);
  if (rest.size() < 4) return Next::need_more;
  const uint32_t len = be32(rest);
  if (len == 0) return error_ = "a packet of length 0", Next::error;
  if (len > kMaxPacket)
    return error_ = "a packet of " + std::to_string(len) + " bytes (the limit is " + std::to_string(kMaxPacket) + ")",
           Next::error;
  if (rest.size() - 4 < len) return Next::need_more;
  packet = rest.substr(0, 4 + static_cast<std::size_t>(len));
  off_ += packet.size();
  return Next::packet;
}

std::string Framer::take_rest() {
  std::string out = buf_.substr(off_);
  buf_.clear();
  off_ = 0;
  return out;
}

std::map<std::string, std::string> Attrs::facts() const {
  std::map<std::string, std::string> out;
  if (size) out["size"] = std::to_string(*size);
  if (uid) out["uid"] = std::to_string(*uid);
  if (gid) out["gid"] = std::to_string(*gid);
  if (perm) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", *perm);
    out["perm"] = buf;
  }
  if (atime) out["atime"] = std::to_string(*atime);
  if (mtime) out["mtime"] = std::to_string(*mtime);
  return out;
}

bool decode_request(std::string_view payload, Request& q, std::string& error) {
  WireReader r(payload);
  if (!r.u8(q.type) || !r.u32(q.id)) return fail(error, "a request too short for its type and id");
  bool ok = true;
  switch (q.type) {
    case kOpen: ok = path(r, q.path) && r.u32(q.pflags) && attrs(r, q.attrs); break;
    case kClose:
    case kFstat:
    case kReaddir: ok = bytes(r, q.handle); break;
    case kRead: {
      uint32_t len = 0;
      ok = bytes(r, q.handle) && r.u64(q.offset) && r.u32(len);
      q.length = len;
      break;
    }
    case kWrite: {
      std::string_view data;
      ok = bytes(r, q.handle) && r.u64(q.offset) && r.string(data);
      q.length = data.size();
      break;
    }
    case kSetstat:
    case kMkdir: ok = path(r, q.path) && attrs(r, q.attrs); break;
    case kFsetstat: ok = bytes(r, q.handle) && attrs(r, q.attrs); break;
    case kOpendir:
    case kRemove:
    case kRmdir: ok = path(r, q.path); break;
    case kRename:
    case kSymlink: ok = path(r, q.path) && path(r, q.path2); break;
    case kExtended: ok = path(r, q.extended) && decode_extended(r, q); break;
    default: break;  // relayed by type (INIT, STAT, ...) or refused as unknown
  }
  if (!ok) return fail(error, "request type " + std::to_string(q.type) + " does not decode");
  return true;
}

bool decode_reply(std::string_view payload, Reply& p, std::string& error) {
  WireReader r(payload);
  if (!r.u8(p.type) || !r.u32(p.id)) return fail(error, "a reply too short for its type and id");
  bool ok = true;
  switch (p.type) {
    case kStatus: {
      ok = r.u32(p.status);
      // v3 servers may leave out message and language tag.
      std::string_view m;
      if (ok && r.string(m)) p.message.assign(m);
      break;
    }
    case kHandle: ok = bytes(r, p.handle); break;
    case kData: {
      std::string_view d;
      ok = r.string(d);
      p.data_len = d.size();
      break;
    }
    default: break;
  }
  if (!ok) return fail(error, "reply type " + std::to_string(p.type) + " does not decode");
  return true;
}

std::string encode_status(uint32_t id, uint32_t code, std::string_view message) {
  std::string body;
  body += static_cast<char>(kStatus);
  put32(body, id);
  put32(body, code);
  wire_put_string(body, message);
  wire_put_string(body, "");
  std::string out;
  put32(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

}  // namespace bastion::sftp
