// Revoked keys and certificates: an OpenSSH KRL (ssh-keygen -k, format in
// OpenSSH's PROTOCOL.krl) or a file of plain public key lines.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ssh_certificate.h"

namespace bastion {

class RevocationList {
 public:
  // Loads `path`, detecting KRL by its magic. False + error (naming the file) on failure.
  bool load(const std::string& path, std::string& error);
  // Parses KRL bytes (exposed for tests and fuzzing).
  bool parse_krl(std::string_view data, std::string& error);

  // Returns true and a reason when the certificate, its key or its CA is revoked.
  bool is_revoked(const SshCertificate& cert, std::string& reason) const;

 private:
  struct CaSection {
    std::string ca_key;  // empty: any CA
    std::set<uint64_t> serials;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    // Bitmaps are kept as sent and tested bit by bit: expanding one into a
    // set cost a node per revoked serial (millions for a hostile KRL).
    struct Bitmap {
      uint64_t offset;
      std::string bits;  // big-endian: the last byte's low bit is `offset`
    };
    std::vector<Bitmap> bitmaps;
    std::set<std::string> key_ids;
  };
  bool key_revoked(std::string_view blob) const;
  bool parse_cert_section(std::string_view data, std::string& error);

  std::set<std::string> keys_;     // plain key blobs
  std::set<std::string> sha1_;     // SHA-1 of key blobs
  std::set<std::string> sha256_;   // SHA-256 of key blobs
  std::vector<CaSection> cert_sections_;
};

}  // namespace bastion
