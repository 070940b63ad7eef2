#include "auth/revocation_list.h"


#include <openssl/sha.h>

#include "auth/public_key.h"
#include "common/file_util.h"
#include "common/ssh_wire.h"

namespace bastion {
namespace {

constexpr std::string_view kKrlMagic("SSHKRL\n\0", 8);
constexpr uint32_t kKrlFormatVersion = 1;
enum : uint8_t {
  kSectionCertificates = 1,
  kSectionExplicitKey = 2,
  kSectionSha1 = 3,
  kSectionSignature = 4,
  kSectionSha256 = 5,
  kSectionExtension = 255,
  kCertSerialList = 0x20,
  kCertSerialRange = 0x21,
  kCertSerialBitmap = 0x22,
  kCertKeyId = 0x23,
  kCertExtension = 0x39,
};
// A bitmap may name at most this many serials (keeps a hostile KRL cheap).
constexpr std::size_t kMaxBitmapBytes = 1 << 20;

bool read_string_list(std::string_view data, std::set<std::string>& out) {
  WireReader r(data);
  while (!r.done()) {
    std::string_view s;
    if (!r.string(s)) return false;
    out.emplace(s);
  }
  return true;
}

}  // namespace

bool RevocationList::load(const std::string& path, std::string& error) {
  std::string data, why;
  if (!read_file(path, data, why)) return error = path + ": " + why, false;
  if (data.starts_with(kKrlMagic)) {
    std::string err;
    if (!parse_krl(data, err)) return error = path + ": invalid KRL: " + err, false;
    return true;
  }
  std::vector<PublicKey> keys;
  if (!load_public_keys(path, keys, error)) return false;
  for (auto& k : keys) keys_.insert(k.blob);
  return true;
}

bool RevocationList::parse_cert_section(std::string_view data, std::string& error) {
  WireReader r(data);
  std::string_view ca, reserved;
  if (!r.string(ca) || !r.string(reserved)) return error = "truncated certificate section", false;
  CaSection sec;
  sec.ca_key = std::string(ca);
  while (!r.done()) {
    uint8_t type;
    std::string_view body;
    if (!r.u8(type) || !r.string(body)) return error = "truncated certificate subsection", false;
    WireReader b(body);
    switch (type) {
      case kCertSerialList:
        while (!b.done()) {
          uint64_t s;
          if (!b.u64(s)) return error = "bad serial list", false;
          sec.serials.insert(s);
        }
        break;
      case kCertSerialRange: {
        uint64_t lo, hi;
        if (!b.u64(lo) || !b.u64(hi) || !b.done() || lo > hi) return error = "bad serial range", false;
        sec.ranges.emplace_back(lo, hi);
        break;
      }
      case kCertSerialBitmap: {
        uint64_t offset;
        std::string_view bits;
        if (!b.u64(offset) || !b.string(bits) || !b.done() || bits.size() > kMaxBitmapBytes)
          return error = "bad serial bitmap", false;
        sec.bitmaps.push_back({offset, std::string(bits)});
        break;
      }
      case kCertKeyId:
        if (!read_string_list(body, sec.key_ids)) return error = "bad key id list", false;
        break;
      case kCertExtension:
        break;  // no extensions are defined; safe to ignore when not critical
      default:
        return error = "unknown certificate subsection " + std::to_string(type), false;
    }
  }
  cert_sections_.push_back(std::move(sec));
  return true;
}

bool RevocationList::parse_krl(std::string_view data, std::string& error) {
  if (!data.starts_with(kKrlMagic)) return error = "bad magic", false;
  WireReader r(data.substr(kKrlMagic.size()));
  uint32_t format;
  uint64_t version, date, flags;
  std::string_view reserved, comment;
  if (!r.u32(format) || !r.u64(version) || !r.u64(date) || !r.u64(flags) || !r.string(reserved) ||
      !r.string(comment))
    return error = "truncated header", false;
  if (format != kKrlFormatVersion) return error = "unsupported KRL format " + std::to_string(format), false;
  while (!r.done()) {
    uint8_t type;
    std::string_view body;
    if (!r.u8(type) || !r.string(body)) return error = "truncated section", false;
    switch (type) {
      case kSectionCertificates:
        if (!parse_cert_section(body, error)) return false;
        break;
      case kSectionExplicitKey:
        if (!read_string_list(body, keys_)) return error = "bad explicit key section", false;
        break;
      case kSectionSha1:
        if (!read_string_list(body, sha1_)) return error = "bad SHA1 section", false;
        break;
      case kSectionSha256:
        if (!read_string_list(body, sha256_)) return error = "bad SHA256 section", false;
        break;
      case kSectionSignature:
        return true;  // signatures trail the data; we trust the file by its path
      case kSectionExtension:
        break;
      default:
        return error = "unknown section " + std::to_string(type), false;
    }
  }
  return true;
}

bool RevocationList::key_revoked(std::string_view blob) const {
  if (keys_.count(std::string(blob))) return true;
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  if (!sha1_.empty()) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(p, blob.size(), md);
    if (sha1_.count(std::string(reinterpret_cast<char*>(md), sizeof md))) return true;
  }
  if (!sha256_.empty()) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, blob.size(), md);
    if (sha256_.count(std::string(reinterpret_cast<char*>(md), sizeof md))) return true;
  }
  return false;
}

bool RevocationList::is_revoked(const SshCertificate& cert, std::string& reason) const {
  if (key_revoked(cert.public_key_blob)) return reason = "key revoked", true;
  if (key_revoked(cert.signature_key)) return reason = "CA key revoked", true;
  for (const auto& sec : cert_sections_) {
    if (!sec.ca_key.empty() && sec.ca_key != cert.signature_key) continue;
    if (sec.key_ids.count(cert.key_id)) return reason = "key ID revoked", true;
    if (sec.serials.count(cert.serial)) return reason = "serial revoked", true;
    for (auto [lo, hi] : sec.ranges)
      if (cert.serial >= lo && cert.serial <= hi) return reason = "serial revoked", true;
    for (const auto& b : sec.bitmaps) {
      // Bit i (from the least significant end) revokes offset + i; serials
      // past 2^64 - 1 do not exist (no wrap-around to 0).
      if (cert.serial < b.offset) continue;
      const uint64_t i = cert.serial - b.offset;
      if (i / 8 >= b.bits.size()) continue;
      const auto v = static_cast<uint8_t>(b.bits[b.bits.size() - 1 - i / 8]);
      if (v & (1u << (i % 8))) return reason = "serial revoked", true;
    }
  }
  return false;
}

}  // namespace bastion
