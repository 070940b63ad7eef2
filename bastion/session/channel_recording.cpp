#include "session/channel_recording.h"

#include <algorithm>

#include <filesystem>

#include <unistd.h>

#include "audit/audit_signer.h"
#include "common/log.h"
#include "common/time_util.h"

namespace bastion {

const char* recording_state_name(RecordingState s) {
  switch (s) {
    case RecordingState::unrecorded: return "unrecorded";
    case RecordingState::complete: return "complete";
    case RecordingState::capped: return "capped";
    case RecordingState::failed: return "failed";
    case RecordingState::file_transfer: return "not recorded (file transfer)";
    case RecordingState::off_by_config: return kRecordingOffByConfig;
  }
  return "unrecorded";
}

bool ChannelRecording::open(const Place& place, const Header& header, uint64_t max_bytes,
                            recorder::Flusher& flusher, const Ledger& ledger, std::string& error) {
  namespace fs = std::filesystem;
  session_id_ = place.session_id;
  channel_ = place.channel;
  ledger_ = ledger;
  const fs::path dir(place.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error = dir.string() + ": " + ec.message(), false;
  path_ = (dir / (place.session_id + "-" + std::to_string(place.channel) + ".cast")).string();
  auto file = recorder::AsyncFileSink::open(path_, &flusher, error);
  if (!file) return false;
  recorder::AsciicastHeader h;
  if (header.pty) {
    h.width = header.pty->cols;
    h.height = header.pty->rows;
    h.env["TERM"] = header.pty->term;
  } else {
    h.newlines = recorder::OutputNewlines::crlf;  // as the user's terminal showed it (ONLCR)
  }
  h.timestamp = unix_now();
  h.title = header.title;
  if (!header.command.empty()) h.command = header.command;
  auto writer = std::make_unique<recorder::AsciicastWriter>(std::make_unique<recorder::SharedSinkRef>(file), h,
                                                           max_bytes, &monotonic_seconds);
  if (ledger_.store) {
    // No row, no recording: a file nothing vouches for could be swapped unseen.
    const recorder::ChainState start = writer->chain_state();
    RecordingOpened row{.session_id = session_id_, .channel = channel_, .path = path_, .opened_at = iso8601_now(),
                        .start = {.events = start.events, .bytes = start.bytes, .digest = start.digest,
                                  .tail = "", .signature = "", .at = ""}};
    std::string why;
    if (!ledger_.store->recording_opened(row, row_id_, why)) {
      writer.reset();
      ::unlink(path_.c_str());
      return error = "recording row: " + why, false;
    }
  }
  file_ = std::move(file);
  writer_ = std::move(writer);
  last_checkpoint_ = monotonic_seconds();
  sink_ = RecorderSink(writer_.get());
  state_ = RecordingState::complete;
  return true;
}

void ChannelRecording::marker(const std::string& text) {
  if (!writer_) return;
  writer_->marker(text);
  // Each command marker is sealed at the channel's next pass (a command's
  // markers, its text then its decision, share one checkpoint), or with
  // the executor's batch of end rows.
  if (!marker_at_) marker_at_ = monotonic_seconds();
}

RecordingSeal ChannelRecording::seal(SealKind kind, const recorder::ChainState& st) const {
  RecordingSeal s{.events = st.events, .bytes = st.bytes, .digest = st.digest,
                  .tail = kind == SealKind::final ? writer_->last_line_digest() : "", .signature = "",
                  .at = iso8601_now()};
  if (ledger_.signer) s.signature = ledger_.signer->sign(recording_seal_text(kind, path_, session_id_, channel_, s));
  return s;
}

std::optional<double> ChannelRecording::checkpoint_due_in(double now, double marker_delay) const {
  // What due_checkpoint() would do something with: the same conditions.
  if (!writer_ || !ledger_.store || !row_id_ || state_ != RecordingState::complete || !ledger_error_.empty())
    return std::nullopt;
  if (writer_->events_handed() == checkpointed_events_ && !marker_at_) return std::nullopt;
  double due = last_checkpoint_ + 1.0;
  if (marker_at_) due = std::min(due, *marker_at_ + marker_delay);
  return std::max(0.0, due - now);
}

std::optional<RecordingCheckpoint> ChannelRecording::new_checkpoint() {
  if (!writer_ || !ledger_.store || !row_id_ || state_ != RecordingState::complete || !ledger_error_.empty())
    return std::nullopt;
  // Counted without a flush: most passes have nothing new to vouch for.
  if (writer_->events_handed() == checkpointed_events_) return std::nullopt;
  // What the checkpoint vouches for is in the file before it is stored, so
  // a kill -9 leaves a file that verifies up to it (chain_state() flushes
  // the file sink, which extends the chain as it writes).
  file_->flush();
  const recorder::ChainState st = writer_->chain_state();
  // A failed write leaves the file short of the chain: vouching for it would
  // sign lines that are not there (check() reports the failure).
  if (writer_->failed()) return std::nullopt;
  if (st.events == checkpointed_events_) return std::nullopt;
  RecordingCheckpoint cp{.recording_id = row_id_, .seal = seal(SealKind::checkpoint, st)};
  if (ledger_.signer && cp.seal.signature.empty()) {
    ledger_error_ = "cannot sign a checkpoint";
    return std::nullopt;
  }
  return cp;
}

std::optional<RecordingCheckpoint> ChannelRecording::due_checkpoint(double now, double marker_delay) {
  if (!writer_) return std::nullopt;
  const bool marked = marker_at_ && now >= *marker_at_ + marker_delay;
  if (!marked && now - last_checkpoint_ < 1.0) return std::nullopt;
  last_checkpoint_ = now;
  marker_at_.reset();
  return new_checkpoint();
}

void ChannelRecording::checkpoint_stored(const RecordingCheckpoint& cp) { checkpointed_events_ = cp.seal.events; }

void ChannelRecording::checkpoint_failed(const std::string& why) { ledger_error_ = "checkpoint: " + why; }

void ChannelRecording::input(std::string_view data) {
  if (writer_) writer_->input(data);
}

void ChannelRecording::resize(int cols, int rows) {
  if (writer_) writer_->resize(cols, rows);
}

void ChannelRecording::finish(int64_t command_id) {
  if (!writer_) return;
  writer_->finish();
  if (!ledger_.store || !row_id_) return;
  const RecordingSeal f = seal(SealKind::final, writer_->chain_state());
  std::string why;
  if (ledger_.signer && f.signature.empty()) why = "cannot sign the final digest";
  else if (ledger_.store->recording_closed(row_id_, command_id, f, why)) {
    row_id_ = 0;
    return;
  }
  // The row stays open and is marked interrupted at the next start: verify
  // then checks the file up to its last checkpoint.
  log_error("cannot close the recording's row", {{"session", session_id_}, {"recording", path_}, {"error", why}});
  row_id_ = 0;
}

uint64_t ChannelRecording::take_new_bytes() {
  if (!writer_) return 0;
  const uint64_t now = writer_->bytes_written();  // not chain_state(): that flushes
  const uint64_t n = now - reported_bytes_;
  reported_bytes_ = now;
  return n;
}

std::optional<ChannelRecording::Loss> ChannelRecording::check() {
  if (!writer_ || state_ != RecordingState::complete) return std::nullopt;
  const bool failed = writer_->failed() || !ledger_error_.empty();
  if (!failed && !writer_->capped()) return std::nullopt;
  Loss loss;
  loss.capped = writer_->capped() && !failed;
  loss.what = loss.capped ? "recording size cap reached"
                          : "recording failed: " + (writer_->failed() ? writer_->error() : ledger_error_);
  log_error(loss.what, {{"session", session_id_}, {"recording", path_}});
  state_ = loss.capped ? RecordingState::capped : RecordingState::failed;
  sink_.detach();  // go on unrecorded, or close: the channel decides; the audit row says so
  return loss;
}

}  // namespace bastion
