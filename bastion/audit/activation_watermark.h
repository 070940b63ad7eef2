// The newest policy activation this host has run, per stored policy name,
// kept in DATA_DIR across restarts. Activations only grow (a rollback is a
// new row), so a store whose newest activation of a name is older than the
// one recorded here had rows deleted, chain entries and all: a bastiond
// restarted after such a cut refuses the older version instead of running
// it. Signatures (policy_signature.h) cannot catch this: the older
// activation is genuinely signed.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace bastion {

// DATA_DIR/policy_activations_seen.
std::string activation_watermark_path(const std::string& data_dir);

// Reads the file: name -> activation id. A missing file is an empty map
// (the first start); anything else unreadable is false + error (fail
// closed: the host cannot say what it saw).
bool read_activation_watermark(const std::string& path, std::map<std::string, int64_t>& out, std::string& error);

// Writes it whole (a temporary file and rename: a crash leaves the old one).
bool write_activation_watermark(const std::string& path, const std::map<std::string, int64_t>& seen,
                                std::string& error);

}  // namespace bastion
