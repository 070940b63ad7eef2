// One channel's asciicast recording: where it goes, its markers, the sink
// the output pipeline writes it through, and what became of it (the audit
// row's recording_state).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "recorder/asciicast_writer.h"
#include "recorder/async_file_sink.h"
#include "sinks/recorder_sink.h"
#include "targets/target.h"

namespace bastion {

enum class RecordingState { unrecorded, complete, capped, failed, file_transfer };
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

  // Opens PLACE.dir/SESSION-CHANNEL.cast. The path is kept even when the
  // file cannot be opened (the audit row names where it should have been).
  bool open(const Place& place, const Header& header, uint64_t max_bytes, recorder::Flusher& flusher,
            std::string& error);
  bool active() const { return writer_ != nullptr; }
  const std::string& path() const { return path_; }
  RecordingState state() const { return state_; }
  RecorderSink& sink() { return sink_; }

  void marker(const std::string& text);
  void input(std::string_view data);
  void resize(int cols, int rows);
  void finish();

  // The size cap or a write failure, reported once (and logged): what to
  // tell the user, and whether it was the cap. Recording stops either way.
  struct Loss {
    std::string what;
    bool capped = false;
  };
  std::optional<Loss> check();

 private:
  std::string session_id_;
  std::string path_;
  std::unique_ptr<recorder::AsciicastWriter> writer_;
  RecorderSink sink_{nullptr};
  RecordingState state_ = RecordingState::unrecorded;
};

}  // namespace bastion
