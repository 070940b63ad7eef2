#include "targets/postgres/result_renderer.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sources/line_editor.h"

namespace bastion {
namespace {


std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '\n') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

void pad(std::string& out, std::size_t n) { out.append(n, ' '); }

std::string footer(uint64_t rows) { return "(" + std::to_string(rows) + (rows == 1 ? " row)\n" : " rows)\n"); }

class BatchRenderer : public ResultRenderer {
 public:
  BatchRenderer(PrintOptions opt, std::size_t batch) : opt_(std::move(opt)), batch_(batch) {}
  void begin(const std::vector<ResultColumn>& cols, std::string&) override {
    cols_ = cols;
    for (auto& c : cols_) c.name = psql_display_text(c.name);
  }
  void row(std::vector<Cell> cells, std::string& out) override {
    for (const auto& c : cells) bytes_ += c.value.size() + kRenderCellOverhead;
    rows_.push_back(std::move(cells));
    if (rows_.size() >= batch_ || bytes_ >= kRenderBatchBytes) flush(out, false);
  }

 protected:
  std::string shown(const Cell& c) const { return psql_display_text(c.null ? opt_.null_display : c.value); }
  virtual void flush(std::string& out, bool last) = 0;
  PrintOptions opt_;
  std::size_t batch_;
  std::vector<ResultColumn> cols_;
  std::vector<std::vector<Cell>> rows_;
  std::size_t bytes_ = 0;
  bool started_ = false;  // the header (or first record) is out
  uint64_t record_ = 0;
};

class AlignedRenderer : public BatchRenderer {
 public:
  using BatchRenderer::BatchRenderer;
  void end(uint64_t rows, std::string& out) override {
    flush(out, true);
    if (opt_.footer) out += footer(rows);
    out += opt_.footer_lines;
    out += "\n";
  }

 protected:
  void flush(std::string& out, bool last) override {
    if (rows_.empty() && (started_ || !last)) return;
    const std::size_t n = cols_.size();
    std::vector<std::size_t> w(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = display_width(cols_[i].name);
      for (const auto& r : rows_) {
        const std::string v = shown(r[i]);  // outlives the views into it
        for (auto l : lines_of(v)) w[i] = std::max(w[i], display_width(l));
      }
    }
    if (!started_) {
      started_ = true;
      if (!opt_.title.empty()) {
        std::size_t total = n == 0 ? 0 : 2 + 3 * (n - 1);
        for (auto x : w) total += x;
        const std::size_t tw = display_width(opt_.title);
        if (tw < total) pad(out, (total - tw) / 2);
        out += opt_.title + "\n";
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t nw = display_width(cols_[i].name);  // (no columns: psql prints no header line)
        const std::size_t left = (w[i] - nw) / 2;
        out += i == 0 ? " " : " ";
        pad(out, left);
        out += cols_[i].name;
        pad(out, w[i] - nw - left);
        out += i + 1 < n ? " |" : " ";
      }
      if (n > 0) out += "\n";
      for (std::size_t i = 0; i < n; ++i) {
        out.append(w[i] + 2, '-');
        if (i + 1 < n) out += "+";
      }
      if (n == 0) out += "--";
      out += "\n";
    }
    for (const auto& r : rows_) {
      if (n == 0) continue;  // psql prints no line for a row without columns
      std::vector<std::vector<std::string_view>> cell_lines(n);
      std::vector<std::string> texts(n);
      std::size_t height = 1;
      for (std::size_t i = 0; i < n; ++i) {
        texts[i] = shown(r[i]);
        cell_lines[i] = lines_of(texts[i]);
        height = std::max(height, cell_lines[i].size());
      }
      for (std::size_t h = 0; h < height; ++h) {
        for (std::size_t i = 0; i < n; ++i) {
          const bool has = h < cell_lines[i].size();
          const std::string_view l = has ? cell_lines[i][h] : std::string_view{};
          const bool more = has && h + 1 < cell_lines[i].size();
          const std::size_t lw = display_width(l);
          const bool right = cols_[i].type == ResultColumn::Type::number;
          out += " ";
          if (!has && i + 1 == n) {
            // psql pads nothing after the last column's last line
          } else if (right) pad(out, w[i] - lw), out += l;
          else if (i + 1 < n || more) out += l, pad(out, w[i] - lw);
          else out += l;  // psql leaves no trailing blanks on the last column
          if (i + 1 < n) out += more ? "+|" : " |";
          else if (more) out += "+";
        }
        out += "\n";
      }
    }
    rows_.clear();
    bytes_ = 0;
  }
};

class ExpandedRenderer : public BatchRenderer {
 public:
  using BatchRenderer::BatchRenderer;
  void end(uint64_t rows, std::string& out) override {
    flush(out, true);
    if (rows == 0) out += footer(0);
    out += "\n";
  }

 protected:
  void flush(std::string& out, bool) override {
    if (rows_.empty()) return;
    std::size_t kw = 0, vw = 0;
    for (const auto& c : cols_) kw = std::max(kw, display_width(c.name));
    for (const auto& r : rows_)
      for (const auto& c : r) {
        const std::string v = shown(c);
        for (auto l : lines_of(v)) vw = std::max(vw, display_width(l));
      }
    for (const auto& r : rows_) {
      std::string head = "-[ RECORD " + std::to_string(++record_) + " ]";
      const std::size_t total = kw + 3 + vw;
      if (head.size() < total) head.append(total - head.size(), '-');
      out += head + "\n";
      for (std::size_t i = 0; i < cols_.size(); ++i) {
        const std::string v = shown(r[i]);
        const auto ls = lines_of(v);
        for (std::size_t h = 0; h < ls.size(); ++h) {
          if (h == 0) out += cols_[i].name, pad(out, kw - display_width(cols_[i].name));
          else pad(out, kw);
          out += " | ";
          out += ls[h];
          if (h + 1 < ls.size()) pad(out, vw - display_width(ls[h])), out += "+";
          out += "\n";
        }
      }
    }
    rows_.clear();
    bytes_ = 0;
  }
};

class CsvRenderer : public ResultRenderer {
 public:
  void begin(const std::vector<ResultColumn>& cols, std::string& out) override {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i) out += ",";
      field(cols[i].name, out);
    }
    out += "\n";
  }
  void row(std::vector<Cell> cells, std::string& out) override {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ",";
      if (!cells[i].null) field(cells[i].value, out);
    }
    out += "\n";
  }
  void end(uint64_t, std::string&) override {}

 private:
  // One pass over the bytes: find_first_of with a set searched the set
  // for every byte of every field (a memchr call each).
  static bool needs_quotes(const std::string& v) {
    for (const char c : v)
      if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
    return v == "\\.";
  }
  static void field(const std::string& v, std::string& out) {
    if (!needs_quotes(v)) {
      out += v;
      return;
    }
    out += '"';
    for (char c : v) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
};

class JsonRenderer : public ResultRenderer {
 public:
  void begin(const std::vector<ResultColumn>& cols, std::string&) override {
    cols_ = cols;
    keys_.clear();
    for (const auto& c : cols) keys_.push_back(nlohmann::json(c.name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  void row(std::vector<Cell> cells, std::string& out) override {
    out += first_ ? "[\n{" : ",\n{";
    first_ = false;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ",";
      out += keys_[i] + ":";
      const Cell& c = cells[i];
      if (c.null) out += "null";
      else if (cols_[i].type == ResultColumn::Type::boolean) out += c.value == "t" ? "true" : "false";
      else if (cols_[i].type == ResultColumn::Type::number && plain_number(c.value)) out += c.value;
      else if (cols_[i].type == ResultColumn::Type::json && nlohmann::json::accept(c.value)) out += c.value;
      else out += nlohmann::json(c.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += "}";
  }
  void end(uint64_t, std::string& out) override { out += first_ ? "[]\n" : "\n]\n"; }

 private:
  // JSON has no NaN, Infinity, or masked "****" numbers: those stay strings.
  static bool plain_number(const std::string& v) {
    return !v.empty() && v.find_first_not_of("0123456789.-+eE") == std::string::npos &&
           (std::isdigit(static_cast<unsigned char>(v.back())) != 0) && nlohmann::json::accept(v);
  }
  std::vector<ResultColumn> cols_;
  std::vector<std::string> keys_;
  bool first_ = true;
};

}  // namespace

std::string psql_display_text(std::string_view v) {
  std::string out;
  std::size_t width = 0;  // of the current line so far: TAB stops count from its start
  char buf[16];
  for (std::size_t i = 0; i < v.size();) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c == '\n') {
      out += '\n';
      width = 0;
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      width += 2;
      ++i;
    } else if (c == '\t') {
      do {
        out += ' ';
        ++width;
      } while (width % 8 != 0);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
      width += 4;
      ++i;
    } else if (c == 0xc2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(v[i + 1]) <= 0x9f) {
      // U+0080..U+009F, the C1 controls.
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(v[i + 1]));
      out += buf;
      width += 6;
      i += 2;
    } else {
      std::size_t len = 1;
      if (c >= 0xf0) len = 4;
      else if (c >= 0xe0) len = 3;
      else if (c >= 0xc0) len = 2;
      len = std::min(len, v.size() - i);
      const std::string_view ch = v.substr(i, len);
      out += ch;
      width += display_width(ch);
      i += len;
    }
  }
  return out;
}

std::unique_ptr<ResultRenderer> make_renderer(const PrintOptions& opt, std::size_t batch_rows) {
  batch_rows = std::max<std::size_t>(batch_rows, 1);
  if (opt.format == PrintOptions::Format::csv) return std::make_unique<CsvRenderer>();
  if (opt.format == PrintOptions::Format::json) return std::make_unique<JsonRenderer>();
  if (opt.expanded) return std::make_unique<ExpandedRenderer>(opt, batch_rows);
  return std::make_unique<AlignedRenderer>(opt, batch_rows);
}

ResultColumn::Type column_type(unsigned oid) {
  switch (oid) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 1700: case 790: case 28: case 5069:
      return ResultColumn::Type::number;
    case 16: return ResultColumn::Type::boolean;
    case 114: case 3802: return ResultColumn::Type::json;
    default: return ResultColumn::Type::text;
  }
}

}  // namespace bastion
