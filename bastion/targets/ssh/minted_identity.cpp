#include "targets/ssh/minted_identity.h"

#include "ca/issued_cert.h"
#include "auth/public_key.h"
#include "ca/target_cert_minter.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "targets/ssh/local_address.h"

namespace bastion {

bool mint_identity(const TargetConfig& t, const SshCredential& c, const ConnectContext& ctx, ssh_session onward,
                   SshKey& key, MintedCertInfo& info, std::string& error) {
  if (!c.ca_key) return error = "the bastion's CA key for this target is not loaded", false;
  if (!ctx.certs || ctx.session_id.empty())
    return error = "a minted certificate needs a session and an audit store", false;
  // Bound to this connection's source: no certificate valid from everywhere.
  const std::string source = socket_local_address(ssh_get_fd(onward));
  if (source.empty()) return error = "cannot read the local address of the connection to the target", false;
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) return error = "cannot generate a key", false;
  key.reset(raw);
  ssh_key pub_raw = nullptr;
  if (ssh_pki_export_privkey_to_pubkey(key.get(), &pub_raw) != SSH_OK) return error = "cannot export the key", false;
  SshKey pub(pub_raw);
  char* b64_raw = nullptr;
  if (ssh_pki_export_pubkey_base64(pub.get(), &b64_raw) != SSH_OK) return error = "cannot export the key", false;
  SshCString b64(b64_raw);
  PublicKey subject{"ssh-ed25519", "", ""};
  if (!base64_decode(b64.get(), subject.blob)) return error = "cannot export the key", false;

  MintParams p{.identity = ctx.identity,
               .session_id = ctx.session_id,
               .target = t.name,
               .principals = c.principals,
               .now = unix_now(),
               .ttl = c.ttl,
               .serial = 0,
               .source_address = source};
  const std::string ca_fp = sha256_fingerprint(c.ca_key->public_blob());
  std::string cert, err;
  CertRequest req;
  for (int attempt = 0;; ++attempt) {
    p.serial = random_serial();
    if (p.serial == 0) return error = "no randomness for a certificate serial", false;
    req = minted_cert_request(subject, p);
    cert = issue_user_certificate(req, *c.ca_key, err);
    if (cert.empty()) {
      log_error("cannot mint a target certificate", {{"session", ctx.session_id}, {"target", t.name}, {"error", err}});
      return error = "cannot sign a certificate for the target", false;
    }
    // Recorded before use, so every certificate a target ever saw is known.
    const IssuedCert rec{.serial = p.serial,
                         .key_id = req.key_id,
                         .principals = join(req.principals, ","),
                         .valid_after = iso8601(static_cast<int64_t>(req.valid_after)),
                         .valid_before = iso8601(static_cast<int64_t>(req.valid_before)),
                         .issued_at = iso8601(p.now),
                         .issued_by = "bastiond session=" + ctx.session_id + " target=" + t.name,
                         .ca_fingerprint = ca_fp,
                         .key_fingerprint = sha256_fingerprint(subject.blob),
                         .source_address = source,
                         .force_command = ""};
    if (ctx.certs->cert_issued(rec, err)) break;
    // A repeated serial (the primary key): draw again; anything else is fatal.
    if (err.find("UNIQUE") == std::string::npos || attempt == 4) {
      log_error("cannot record a minted target certificate",
                {{"session", ctx.session_id}, {"target", t.name}, {"error", err}});
      return error = "cannot record the target certificate in the audit store", false;
    }
  }
  ssh_key cert_raw = nullptr;
  if (ssh_pki_import_cert_base64(base64_encode(cert).c_str(), SSH_KEYTYPE_ED25519_CERT01, &cert_raw) != SSH_OK)
    return error = "cannot use the minted certificate", false;
  SshKey cert_key(cert_raw);
  if (ssh_pki_copy_cert_to_privkey(cert_key.get(), key.get()) != SSH_OK)
    return error = "cannot use the minted certificate", false;
  info.serial = p.serial;
  info.key_id = req.key_id;
  info.principals = join(req.principals, ",");
  info.source_address = source;
  log_info("minted target certificate",
           {{"session", ctx.session_id}, {"target", t.name}, {"serial", std::to_string(p.serial)},
            {"key_id", req.key_id}, {"principals", info.principals},
            {"source_address", source},
            {"valid_after", iso8601(static_cast<int64_t>(req.valid_after))},
            {"valid_before", iso8601(static_cast<int64_t>(req.valid_before))}, {"ca", ca_fp}});
  return true;
}

}  // namespace bastion
