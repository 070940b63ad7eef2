// Base64 (RFC 4648, standard alphabet, with padding) through OpenSSL, for
// key and certificate blobs and kubeconfig data fields. recorder/ keeps its
// own: it is a library that does not depend on bastion/.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

std::string base64_encode(std::string_view bytes);

// Strict: a multiple of 4 characters of the alphabet, '=' only as the last
// one or two. False (and `out` unspecified) otherwise; no whitespace allowed.
bool base64_decode(std::string_view text, std::string& out);

// "SHA256:" and 43 characters of unpadded base64: an OpenSSH-style SHA-256
// fingerprint (the audit key's, as bastiond logs it and the config pins it).
bool is_sha256_fingerprint(std::string_view s);

}  // namespace bastion
