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
  bool flush_now, kick, first;
  {
    std::lock_guard<std::mutex> g(mu_);
    const std::size_t before = buf_.size();
    first = before == 0;
    buf_ += line;
    flush_now = buf_.size() >= kHighWater || flusher_ == nullptr;
    kick = !flush_now && before < kKickAt && buf_.size() >= kKickAt;  // once per crossing
  }
  if (flush_now) flush();
  else if (kick) flusher_->kick(weak_from_this());
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
  if (out.empty()) return;
  // Every line handed over extends the chain, written or not (as the
  // writer's own chain did): one '\n' ends each line the writer makes.
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t nl = out.find('\n', at);
    const std::size_t end = nl == std::string::npos ? out.size() : nl + 1;
    chain_.add(std::string_view(out).substr(at, end - at));
    at = end;
  }
  if (fd_ < 0 || failed_) return;
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

void AsyncFileSink::chain(ChainState& state, std::string& last_line_digest) {
  flush();
  std::lock_guard<std::mutex> wg(write_mu_);
  state = chain_.state();
  last_line_digest = chain_.last_line_digest();
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

void Flusher::kick(std::weak_ptr<AsyncFileSink> sink) {
  {
    std::lock_guard<std::mutex> g(mu_);
    kicked_.push_back(std::move(sink));
  }
  cv_.notify_all();
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
  const auto interval = std::chrono::milliseconds(interval_ms_);
  // When the periodic round is due; none while no sink holds lines, so an
  // idle bastiond's flusher sleeps (no wakeups while nothing is recorded).
  bool due_set = false;
  std::chrono::steady_clock::time_point due{};
  while (!stop_) {
    if (due_set)
      cv_.wait_until(lk, due, [this] { return stop_ || !kicked_.empty(); });
    else
      cv_.wait(lk, [this] { return stop_ || pending_ || !kicked_.empty(); });
    if (stop_) break;
    if (!due_set && pending_) {
      // A sink got its first lines: an interval more, so lines gather into
      // one write (a kick, a sink past kKickAt, cuts in).
      due = std::chrono::steady_clock::now() + interval;
      due_set = true;
      if (kicked_.empty()) continue;
    }
    std::vector<std::shared_ptr<AsyncFileSink>> live;
    if (due_set && std::chrono::steady_clock::now() >= due) {
      // Lines written from here on wake the next round; those before are
      // flushed in this one.
      pending_ = false;
      due_set = false;
      for (auto it = sinks_.begin(); it != sinks_.end();) {
        if (auto s = it->lock()) {
          live.push_back(std::move(s));
          ++it;
        } else {
          it = sinks_.erase(it);
        }
      }
    } else {
      // Woken early: only the sinks that asked; the periodic round stays due.
      for (auto& w : kicked_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    kicked_.clear();
    lk.unlock();
    for (auto& s : live) s->flush();
    live.clear();
    lk.lock();
  }
}

}  // namespace recorder
