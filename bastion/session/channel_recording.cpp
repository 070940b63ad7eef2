#include "session/channel_recording.h"

#include <filesystem>

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
  }
  return "unrecorded";
}

bool ChannelRecording::open(const Place& place, const Header& header, uint64_t max_bytes,
                            recorder::Flusher& flusher, std::string& error) {
  namespace fs = std::filesystem;
  session_id_ = place.session_id;
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
  writer_ = std::make_unique<recorder::AsciicastWriter>(std::make_unique<recorder::SharedSinkRef>(file), h,
                                                        max_bytes, &monotonic_seconds);
  sink_ = RecorderSink(writer_.get(), h.newlines);
  state_ = RecordingState::complete;
  return true;
}

void ChannelRecording::marker(const std::string& text) {
  if (writer_) writer_->marker(text);
}

void ChannelRecording::input(std::string_view data) {
  if (writer_) writer_->input(data);
}

void ChannelRecording::resize(int cols, int rows) {
  if (writer_) writer_->resize(cols, rows);
}

void ChannelRecording::finish() {
  if (writer_) writer_->finish();
}

std::optional<ChannelRecording::Loss> ChannelRecording::check() {
  if (!writer_ || state_ != RecordingState::complete) return std::nullopt;
  if (!writer_->failed() && !writer_->capped()) return std::nullopt;
  Loss loss;
  loss.capped = writer_->capped() && !writer_->failed();
  loss.what = loss.capped ? "recording size cap reached" : "recording failed: " + writer_->error();
  log_error(loss.what, {{"session", session_id_}, {"recording", path_}});
  state_ = loss.capped ? RecordingState::capped : RecordingState::failed;
  sink_.detach();  // go on unrecorded, or close: the channel decides; the audit row says so
  return loss;
}

}  // namespace bastion
