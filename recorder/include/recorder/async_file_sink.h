// A LineSink that appends to a file off the caller's path: lines go into a
// bounded in-memory buffer and a shared Flusher thread writes them out
// periodically. Only whole lines are ever written, so after a crash the file
// is valid asciicast up to its last complete event.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "recorder/line_sink.h"

namespace recorder {

class Flusher;

class AsyncFileSink : public LineSink, public std::enable_shared_from_this<AsyncFileSink> {
 public:
  // Once this many bytes are buffered, the Flusher is woken to write them out
  // on its own thread (the second core) rather than the producer's: at bulk
  // rates the page-cache copy was half of a session thread's time.
  static constexpr std::size_t kKickAt = 256 * 1024;
  // Above this many buffered bytes (the Flusher has not kept up), write_line
  // flushes inline: back-pressure on the producer instead of unbounded memory.
  static constexpr std::size_t kHighWater = 1 << 20;

  // Opens (creates, exclusive) `path` with mode 0640. Returns null and sets
  // `error` on failure.
  static std::shared_ptr<AsyncFileSink> open(const std::string& path, Flusher* flusher,
                                             std::string& error);
  // Takes ownership of an already open descriptor.
  static std::shared_ptr<AsyncFileSink> adopt(int fd, Flusher* flusher);
  ~AsyncFileSink() override;

  void write_line(std::string line) override;
  bool failed() const override { return failed_.load(); }
  std::string error() const override;
  void close() override;
  // The chain is extended in flush(), as the lines are written: SHA-256 of
  // every byte on the flusher's thread rather than the session's.
  bool chains_lines() const override { return true; }
  void chain(ChainState& state, std::string& last_line_digest) override;

  // Writes out what is buffered; called by the Flusher and by close().
  void flush();
  // Gives back the buffers' capacity where they are empty (the writer went
  // quiet): a burst grows them to kHighWater each, reused while it lasts.
  void trim();

 private:
  AsyncFileSink(int fd, Flusher* flusher) : fd_(fd), flusher_(flusher) {}
  void set_error(const std::string& e);

  int fd_;
  Flusher* flusher_;
  std::mutex mu_;        // guards buf_
  std::mutex write_mu_;  // serialises writes to fd_
  std::string buf_;
  std::string spare_;  // guarded by write_mu_; swapped with buf_ so both keep their capacity
  LineChain chain_;    // guarded by write_mu_: every line handed over, in order
  std::atomic<bool> failed_{false};
  std::atomic<bool> closed_{false};
  mutable std::mutex err_mu_;
  std::string error_;
};

// One background thread flushing every registered sink an interval after
// one of them got lines; asleep while none has any.
class Flusher {
 public:
  explicit Flusher(int interval_ms = 100);
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void add(const std::shared_ptr<AsyncFileSink>& sink);
  // Asks for `sink` to be flushed now, on the flusher's thread.
  void kick(std::weak_ptr<AsyncFileSink> sink);
  // A sink has lines to write (called by AsyncFileSink::write_line).
  void wake();

 private:
  void run();
  int interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool pending_ = false;  // a sink got lines since the last round began
  std::vector<std::weak_ptr<AsyncFileSink>> sinks_;
  std::vector<std::weak_ptr<AsyncFileSink>> kicked_;  // each sink at most once per kKickAt bytes
  std::thread thread_;
};

// Adapts a shared sink to the unique_ptr the writer owns.
class SharedSinkRef : public LineSink {
 public:
  explicit SharedSinkRef(std::shared_ptr<AsyncFileSink> s) : s_(std::move(s)) {}
  void write_line(std::string line) override { s_->write_line(std::move(line)); }
  bool failed() const override { return s_->failed(); }
  std::string error() const override { return s_->error(); }
  void close() override { s_->close(); }
  bool chains_lines() const override { return s_->chains_lines(); }
  void chain(ChainState& state, std::string& last) override { s_->chain(state, last); }

 private:
  std::shared_ptr<AsyncFileSink> s_;
};

}  // namespace recorder
