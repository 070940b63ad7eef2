#include "recorder/async_file_sink.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace recorder {

std::shared_ptr<AsyncFileSink> AsyncFileSink::open(const std::string& path, Flusher* flusher,
                                                   std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  return adopt(fd, flusher);
}

std::shared_ptr<AsyncFileSink> AsyncFileSink::adopt(int fd, Flusher* flusher) {
  std::shared_ptr<AsyncFileSink> s(new AsyncFileSink(fd, flusher));
  if (flusher) flusher->add(s);
  return s;
}

AsyncFileSink::~AsyncFileSink() { close(); }

std::string AsyncFileSink::error() const {
  std::lock_guard<std::mutex> g(err_mu_);
  return error_;
}

void AsyncFileSink::set_error(const std::string& e) {
  std::lock_guard<std::mutex> g(err_mu_);
  if (error_.empty()) error_ = e;
  failed_ = true;
}

void AsyncFileSink::write_line(std::string line) {
  if (failed_ || closed_) return;
  bool flush_now, first;
  {
    std::lock_guard<std::mutex> g(mu_);
    first = buf_.empty();
    buf_ += line;
    flush_now = buf_.size() >= kHighWater || flusher_ == nullptr;
  }
  if (flush_now) flush();
  // The flusher sleeps while no sink holds anything: the first line since
  // a flush tells it there is work (at most once per flush, per sink).
  else if (first) flusher_->wake();
}

void AsyncFileSink::flush() {
  std::lock_guard<std::mutex> wg(write_mu_);
  // Reuse both buffers' capacity: a fresh large buffer per flush costs an
  // mmap and a page fault per 4 KiB, which showed up as most of the
  // recording overhead.
  std::string& out = spare_;
  out.clear();
  {
    std::lock_guard<std::mutex> g(mu_);
    out.swap(buf_);
  }
  if (out.empty() || fd_ < 0 || failed_) return;
  std::size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = ::write(fd_, out.data() + off, out.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      set_error(std::string("recording write failed: ") + std::strerror(errno));
      return;
    }
    off += static_cast<std::size_t>(n);
  }
}

void AsyncFileSink::trim() {
  std::lock_guard<std::mutex> wg(write_mu_);
  std::string().swap(spare_);  // only flush() uses it, under write_mu_
  std::lock_guard<std::mutex> g(mu_);
  if (buf_.empty()) std::string().swap(buf_);
}

void AsyncFileSink::close() {
  if (closed_.exchange(true)) return;
  flush();
  std::lock_guard<std::mutex> wg(write_mu_);
  if (fd_ >= 0) {
    if (!failed_ && ::fsync(fd_) != 0 && errno != EINVAL)
      set_error(std::string("recording fsync failed: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
  }
}

Flusher::Flusher(int interval_ms) : interval_ms_(interval_ms), thread_([this] { run(); }) {}

Flusher::~Flusher() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Flusher::add(const std::shared_ptr<AsyncFileSink>& sink) {
  std::lock_guard<std::mutex> g(mu_);
  sinks_.push_back(sink);
}

void Flusher::wake() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (pending_) return;
    pending_ = true;
  }
  cv_.notify_all();
}

void Flusher::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    // Asleep until a sink has lines (no periodic wakeups while nothing is
    // recorded), then an interval more so lines gather into one write.
    cv_.wait(lk, [this] { return stop_ || pending_; });
    if (stop_) break;
    cv_.wait_for(lk, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
    // Lines written from here on wake the next round; those before are
    // flushed in this one.
    pending_ = false;
    std::vector<std::shared_ptr<AsyncFileSink>> live;
    for (auto it = sinks_.begin(); it != sinks_.end();) {
      if (auto s = it->lock()) {
        live.push_back(std::move(s));
        ++it;
      } else {
        it = sinks_.erase(it);
      }
    }
    lk.unlock();
    for (auto& s : live) s->flush();
    live.clear();
    lk.lock();
  }
}

}  // namespace recorder
