// The bastion's Ed25519 audit key: signs recording digests and checkpoints
// and the audit chain's anchors. Verification takes the public key from a
// file the auditor names (KEY.pub beside the configured key, or --key),
// never from the store it checks: whoever can edit the store could put a
// key of their own there.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/openssl_handles.h"

namespace bastion {

class AuditVerifier {
 public:
  // Reads a PEM public key (SubjectPublicKeyInfo); refuses any key but Ed25519.
  static std::unique_ptr<AuditVerifier> from_pem_file(const std::string& path, std::string& error);
  static std::unique_ptr<AuditVerifier> from_pem(const std::string& pem, std::string& error);
  static std::unique_ptr<AuditVerifier> from_key(PkeyPtr key, std::string& error);
  // `signature` is base64 (as sign() gives it); false for anything malformed.
  bool verify(std::string_view text, std::string_view signature) const;
  // "SHA256:" + unpadded base64 of SHA-256 over the raw 32-byte public key.
  const std::string& fingerprint() const { return fingerprint_; }
  std::string public_pem() const;

 private:
  explicit AuditVerifier(PkeyPtr key) : key_(std::move(key)) {}
  PkeyPtr key_;
  std::string fingerprint_;
};

class AuditSigner {
 public:
  // Reads the PEM private key at `path` (refused when group- or
  // world-readable), or creates one (0600) when the file does not exist;
  // then writes PATH.pub (0644) when it is missing or says another key.
  static std::unique_ptr<AuditSigner> load_or_create(const std::string& path, std::string& error);
  // Base64 Ed25519 signature; "" when signing failed (callers fail closed).
  std::string sign(std::string_view text) const;
  const AuditVerifier& verifier() const { return *verifier_; }
  const std::string& fingerprint() const { return verifier_->fingerprint(); }

 private:
  AuditSigner(PkeyPtr key, std::unique_ptr<AuditVerifier> v) : key_(std::move(key)), verifier_(std::move(v)) {}
  PkeyPtr key_;
  std::unique_ptr<AuditVerifier> verifier_;
};

// "SHA256:" followed by 43 characters of unpadded base64: the form of
// AuditVerifier::fingerprint(), and of the config's audit_key_fingerprint.
bool is_audit_key_fingerprint(std::string_view s);

// The fingerprint of the private key at PATH, without creating one; nullopt
// with `error` when it is missing or cannot be read.
std::optional<std::string> audit_private_key_fingerprint(const std::string& path, std::string& error);

// bastiond --check: while PINNED is empty and the key at KEY_PATH exists
// (bastiond made it at its first start), the line that pins it.
std::optional<std::string> audit_key_pin_warning(const std::string& key_path, const std::string& pinned);

// The public key verify trusts: PUB_PATH (beside the key, under DATA_DIR)
// only when its fingerprint is the pinned one, since whoever can write
// DATA_DIR can replace it. With no pin it is loaded as is and `unpinned`
// says so. nullptr with `error` otherwise.
std::unique_ptr<AuditVerifier> load_pinned_public_key(const std::string& pub_path, const std::string& pinned,
                                                      bool& unpinned, std::string& error);

// Where the public half of KEY lives.
inline std::string audit_public_key_path(const std::string& key_path) { return key_path + ".pub"; }

}  // namespace bastion
