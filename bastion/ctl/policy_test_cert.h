// `bastionctl policy test --cert FILE-cert.pub`: the user's certificate,
// read with the parser bastiond uses, so c.certificate.* (and the identity
// and principals) are the ones a live session would have.
#pragma once
#include <optional>
#include <string>

#include "auth/cert_verifier.h"
#include "auth/ssh_certificate.h"
#include "policy/policy.h"

namespace bastion {

// nullopt + `error` ("FILE: problem") for a file that is not one OpenSSH
// certificate line.
std::optional<SshCertificate> read_certificate_file(const std::string& path, std::string& error);

// As Session::session_request: serial, valid_before and extensions from the
// certificate; identity (key ID) and principals too unless given.
void apply_certificate(const SshCertificate& cert, SessionRequest& s, bool identity_given, bool principals_given);

// "serial 7, key ID alice, valid 2026-11-30 14:00Z to 2026-12-30 14:00Z"
std::string certificate_summary(const SshCertificate& cert);

}  // namespace bastion
