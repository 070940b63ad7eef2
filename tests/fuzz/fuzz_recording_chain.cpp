// The recording chain reader and the verifier over it take whatever bytes a
// recording file holds (tampered ones above all): no crash, and the
// invariants an auditor relies on.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <unistd.h>

#include "audit/audit_signer.h"
#include "audit/recording_verifier.h"
#include "recorder/line_chain.h"
#include "recorder/recording_chain.h"

namespace {

const bastion::AuditSigner& signer() {
  static const std::unique_ptr<bastion::AuditSigner> s = [] {
    char dir[] = "/tmp/fuzz-chain-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    std::string err;
    auto k = bastion::AuditSigner::load_or_create(std::string(dir) + "/k", err);
    if (!k) std::abort();
    return k;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file(reinterpret_cast<const char*>(data), size);
  const recorder::ChainScan whole = recorder::scan_recording_chain(file, {});
  if (whole.file.bytes + whole.partial_bytes != size) std::abort();
  // Read in two chunks (split where the first byte says), the scan is the same.
  recorder::ChainScanner chunked({});
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  chunked.feed(std::string_view(file).substr(0, cut));
  chunked.feed(std::string_view(file).substr(cut));
  const recorder::ChainScan c = chunked.finish();
  if (c.file.digest != whole.file.digest || c.partial_bytes != whole.partial_bytes ||
      c.out_of_order_line != whole.out_of_order_line || c.last_time.has_value() != whole.last_time.has_value() ||
      c.last_untimed_event != whole.last_untimed_event)
    std::abort();
  // The streaming hash is the line chain's, line by line.
  recorder::LineChain reference;
  std::size_t from = 0;
  for (std::size_t nl; (nl = file.find('\n', from)) != std::string::npos; from = nl + 1)
    reference.add(std::string_view(file).substr(from, nl + 1 - from));
  if (reference.state().digest != whole.file.digest || reference.state().events != whole.file.events ||
      reference.last_line_digest() != whole.last_line_digest)
    std::abort();
  // The file's own chain state matches it; a checkpoint at its last event too.
  const recorder::ChainScan again = recorder::scan_recording_chain(file, {whole.file});
  if (whole.file.bytes > 0 && !again.matches.at(0)) std::abort();

  // Signed as it is, a closed recording verifies exactly when no partial line follows.
  bastion::RecordingRecord r;
  r.path = "/r.cast", r.session_id = "S", r.channel = 1, r.state = "closed";
  r.final_seal = {.events = whole.file.events, .bytes = whole.file.bytes, .digest = whole.file.digest,
                  .tail = whole.last_line_digest, .signature = "", .at = ""};
  r.final_seal.signature =
      signer().sign(bastion::recording_seal_text(bastion::SealKind::final, r.path, r.session_id, r.channel, r.final_seal));
  const auto v = bastion::verify_recording(r, file, signer().verifier());
  if (whole.file.bytes > 0 && v.ok != (whole.partial_bytes == 0)) std::abort();
  // The same file claimed longer: never OK.
  r.final_seal.events += 1;
  r.final_seal.signature =
      signer().sign(bastion::recording_seal_text(bastion::SealKind::final, r.path, r.session_id, r.channel, r.final_seal));
  if (bastion::verify_recording(r, file, signer().verifier()).ok) std::abort();

  // A prune judged on whatever times the store holds: never OK without a
  // retention, and OK under a retention only if OK under any shorter one.
  r.state = "pruned", r.pruned_at = file.substr(0, size / 2), r.pruned_by = "x";
  const std::string ended = file.substr(size / 2);
  if (bastion::judge_prune(r, ended, 0, 2000000000).ok) std::abort();
  if (bastion::judge_prune(r, ended, 3600, 2000000000).ok && !bastion::judge_prune(r, ended, 60, 2000000000).ok) std::abort();
  return 0;
}
