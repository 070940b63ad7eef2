// One channel's asciicast recording: where it goes, its markers, the sink
// the output pipeline writes it through, and what became of it (the audit
// row's recording_state).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_store.h"
#include "recorder/asciicast_writer.h"
#include "recorder/async_file_sink.h"
#include "sinks/recorder_sink.h"
#include "targets/target.h"

namespace bastion {

class AuditSigner;

enum class RecordingState { unrecorded, complete, capped, failed, file_transfer, off_by_config };
// The audit row's spelling.
const char* recording_state_name(RecordingState s);

class ChannelRecording {
 public:
  struct Place {
    std::string dir;  // recordings_dir/YYYY-MM-DD
    std::string session_id;
    int channel = 0;
  };
  struct Header {
    std::optional<PtyRequest> pty;
    std::string title;    // escaped for display
    std::string command;  // an exec channel's command ("" otherwise)
  };

  // Where the recording's row goes, and the key that signs its digests.
  struct Ledger {
    AuditStore* store = nullptr;
    const AuditSigner* signer = nullptr;
  };

  // Opens PLACE.dir/SESSION-CHANNEL.cast and writes its recordings row
  // (state open); a row that cannot be written fails the open like the file
  // would. The path is kept even when the file cannot be opened (the audit
  // row names where it should have been).
  bool open(const Place& place, const Header& header, uint64_t max_bytes, recorder::Flusher& flusher,
            const Ledger& ledger, std::string& error);
  bool active() const { return writer_ != nullptr; }
  // The target's `recording = "off"`: nothing is opened, and the audit rows
  // say why there is no recording.
  void turn_off() { state_ = RecordingState::off_by_config; }
  const std::string& path() const { return path_; }
  RecordingState state() const { return state_; }
  RecorderSink& sink() { return sink_; }

  void marker(const std::string& text);
  void input(std::string_view data);
  void resize(int cols, int rows);
  // A signed checkpoint to store, when events were written since the last
  // one and a marker was written `marker_delay` seconds ago or more, or a
  // second has passed (the channel asks each pass and stores it with the
  // pass's end rows, in one transaction); then checkpoint_stored, or
  // checkpoint_failed: the recording has failed.
  std::optional<RecordingCheckpoint> due_checkpoint(double now, double marker_delay);
  void checkpoint_stored(const RecordingCheckpoint& cp);
  void checkpoint_failed(const std::string& why);
  // Seconds until due_checkpoint() has something to do (0: now); nullopt
  // while everything written is checkpointed, so an idle channel sleeps.
  std::optional<double> checkpoint_due_in(double now, double marker_delay) const;
  // The channel went quiet: the file's buffers give back their memory.
  void trim() {
    if (file_) file_->trim();
  }
  // Closes the file, then the row with the signed final digest; the row
  // names the channel's audit row.
  void finish(int64_t command_id);

  // The size cap or a write failure, reported once (and logged): what to
  // tell the user, and whether it was the cap. Recording stops either way.
  struct Loss {
    std::string what;
    bool capped = false;
  };
  std::optional<Loss> check();
  // Bytes written to the file since the last call (for the metrics).
  uint64_t take_new_bytes();

 private:
  uint64_t reported_bytes_ = 0;
  // Flushes the file and seals its chain state, when events were written
  // since the last stored checkpoint; a signing failure fails the recording.
  std::optional<RecordingCheckpoint> new_checkpoint();
  RecordingSeal seal(SealKind kind, const recorder::ChainState& st) const;

  std::string session_id_;
  int channel_ = 0;
  std::string path_;
  Ledger ledger_;
  int64_t row_id_ = 0;
  uint64_t checkpointed_events_ = 0;
  double last_checkpoint_ = 0;
  std::optional<double> marker_at_;  // the first marker written since the last checkpoint
  std::string ledger_error_;  // a checkpoint that could not be stored: the recording has failed
  std::shared_ptr<recorder::AsyncFileSink> file_;
  std::unique_ptr<recorder::AsciicastWriter> writer_;
  RecorderSink sink_{nullptr};
  RecordingState state_ = RecordingState::unrecorded;
};

}  // namespace bastion
